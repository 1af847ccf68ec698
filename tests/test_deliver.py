"""MIME composition and the SMTP transport, against real SMTP servers on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from newsletter.config import SmtpSettings
from newsletter.delivery.smtp import RecipientRefused, SmtpTransport, compose
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import DeliveryError


def _message(to: str = "reader@example.org", name: str | None = "Иван Петров") -> EmailMessage:
    return compose(
        sender="VPK News <digest@vpk-news.example>",
        to_address=to,
        to_name=name,
        subject="VPK News — дайджест за 23 декабря 2024",
        html="<p>Привет</p>",
        text="Привет",
        message_id="<e1.s1@vpk-news.example>",
        unsubscribe_url="https://news.example.org/unsubscribe/abc",
        lang="ru",
    )


def test_compose_encodes_headers_and_parts() -> None:
    raw = _message().as_bytes()
    assert raw.isascii(), "non-ASCII must be encoded, not sent raw"
    parsed = message_from_bytes(raw, policy=default)
    assert parsed["Subject"] == "VPK News — дайджест за 23 декабря 2024"
    assert parsed["To"].addresses[0].display_name == "Иван Петров"
    assert parsed["List-Unsubscribe"] == "<https://news.example.org/unsubscribe/abc>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Content-Language"] == "ru"
    assert parsed["Message-ID"] == "<e1.s1@vpk-news.example>"
    assert parsed["Date"] is not None
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize("name", ["Eve\r\nBcc: victim@example.org", "Eve\nX-Evil: 1"])
def test_a_name_with_a_line_break_cannot_add_headers(name: str) -> None:
    with pytest.raises(ValueError, match=r"CR or LF|linefeed or carriage return"):
        _message(name=name)


def test_one_connection_carries_many_messages(tmp_path: Path) -> None:
    with (
        SavingSmtpServer(tmp_path) as server,
        SmtpTransport(SmtpSettings(host=server.host, port=server.port)) as transport,
    ):
        for n in range(3):
            transport.send(_message(to=f"r{n}@example.org"))
        client = transport._client
        assert client is not None and client.sock is not None
    assert len(server.saved) == 3


class _Refusing:
    """Answers RCPT for chosen addresses with a chosen reply."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.accepted: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def refusing() -> Iterator[tuple[_Refusing, int]]:
    handler = _Refusing(
        {
            "gone@example.org": "550 5.1.1 No such user",
            "busy@example.org": "451 4.3.0 Try again later",
        }
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_refusals_are_told_apart(refusing: tuple[_Refusing, int]) -> None:
    handler, port = refusing
    with SmtpTransport(SmtpSettings(port=port)) as transport:
        with pytest.raises(RecipientRefused) as gone:
            transport.send(_message(to="gone@example.org"))
        with pytest.raises(RecipientRefused) as busy:
            transport.send(_message(to="busy@example.org"))
        transport.send(_message(to="fine@example.org"))
    assert (gone.value.code, gone.value.permanent) == (550, True)
    assert (busy.value.code, busy.value.permanent) == (451, False)
    assert handler.accepted == ["fine@example.org"]


def test_unreachable_relay_names_the_settings() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with (
        SmtpTransport(SmtpSettings(port=port)) as transport,
        pytest.raises(
            DeliveryError, match=f"127.0.0.1:{port}: cannot connect.*NEWSLETTER_SMTP_HOST"
        ),
    ):
        transport.send(_message())
