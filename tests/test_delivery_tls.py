"""STARTTLS and implicit TLS with certificate checks on by default, and AUTH, against a real
aiosmtpd server presenting a self-signed certificate."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from newsletter.config import SmtpSettings
from newsletter.delivery.smtp import SmtpTransport
from newsletter.delivery.smtp.mime import Envelope
from newsletter.errors import DeliveryError
from tests.conftest import FIXTURES
from tests.smtp_faults import FaultySmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
CERT, KEY = FIXTURES / "tls" / "cert.pem", FIXTURES / "tls" / "key.pem"
MESSAGE = Envelope(
    "digest@vpk-news.example",
    "reader@example.org",
    b"From: digest@vpk-news.example\r\nTo: reader@example.org\r\nMessage-ID: <1@x>\r\n\r\n"
    b"Hello\r\n.starts with a dot\r\n",
)


def _server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERT, KEY)
    return context


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"digest",
        b"s3cret-pass",
    )
    return AuthResult(success=good, handled=False)  # aiosmtpd sends the 235 or 535


@pytest.fixture(params=["starttls", "ssl"])
def secured(request: pytest.FixtureRequest) -> Iterator[tuple[FaultySmtpServer, str]]:
    options: dict[str, Any] = {
        "authenticator": _authenticate,
        "auth_required": True,
    }
    if request.param == "starttls":
        options |= {"tls_context": _server_context(), "require_starttls": True}
    else:
        # aiosmtpd does not count implicit TLS as TLS for AUTH; the connection is TLS all along.
        options |= {"ssl_context": _server_context(), "auth_require_tls": False}
    with FaultySmtpServer(**options) as server:
        yield server, request.param


def _settings(server: FaultySmtpServer, security: str, **extra: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": security,
        "username": "digest",
        "password": "s3cret-pass",
    }
    return SmtpSettings(**(values | extra))


def test_a_trusted_certificate_and_auth_deliver(secured: tuple[FaultySmtpServer, str]) -> None:
    server, security = secured
    with SmtpTransport(_settings(server, security, ca_file=str(CERT))) as transport:
        transport.deliver(MESSAGE)
        transport.deliver(MESSAGE)
    assert server.received == {"reader@example.org": [b"<1@x>", b"<1@x>"]}


def test_an_unknown_certificate_is_refused_by_default(
    secured: tuple[FaultySmtpServer, str],
) -> None:
    server, security = secured
    with (
        SmtpTransport(_settings(server, security)) as transport,
        pytest.raises(DeliveryError, match=r"cannot connect.*CERTIFICATE_VERIFY_FAILED"),
    ):
        transport.deliver(MESSAGE)
    assert server.received == {}


def test_checks_can_be_turned_off(secured: tuple[FaultySmtpServer, str]) -> None:
    server, security = secured
    with SmtpTransport(_settings(server, security, verify=False)) as transport:
        transport.deliver(MESSAGE)
    assert server.accepted == 1


def test_a_wrong_password_names_the_settings(secured: tuple[FaultySmtpServer, str]) -> None:
    server, security = secured
    settings = _settings(server, security, ca_file=str(CERT), password="wrong")
    with (
        SmtpTransport(settings) as transport,
        pytest.raises(DeliveryError, match="authentication failed: check NEWSLETTER_SMTP"),
    ):
        transport.deliver(MESSAGE)
