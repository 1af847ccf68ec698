"""DKIM: messages as sent verify with dkimpy given the public key, and tampering breaks them."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import dkim
import pytest
from sqlalchemy import Engine

from newsletter import sending
from newsletter.config import DeliverySettings, DkimSettings, Settings, SmtpSettings, load_settings
from newsletter.deliver.dkim import DkimSigner
from newsletter.deliver.sink import SavingSmtpServer
from newsletter.errors import ConfigError
from newsletter.store.db import make_engine
from newsletter.store.migrate import upgrade
from tests.conftest import FIXTURES
from tests.smtp_faults import DAY, make_edition

KEYS = FIXTURES / "dkim"


def _dns(name: bytes, timeout: int = 5) -> bytes | None:
    """The TXT record `selector._domainkey.domain` would hold."""
    if name != b"news2024._domainkey.vpk-news.example.":
        return None
    pem = (KEYS / "test-public.pem").read_text().splitlines()
    return b"v=DKIM1; k=rsa; p=" + "".join(pem[1:-1]).encode()


@pytest.fixture
def signed_settings(tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    url = f"sqlite:///{tmp_path / 'dkim.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    yield (
        Settings(
            database_url=url,
            from_address="VPK News <digest@vpk-news.example>",
            base_url="https://news.example.org",
            secret_key=secrets.token_hex(32),
            delivery=DeliverySettings(connections=2),
            dkim=DkimSettings(
                selector="news2024", domain="vpk-news.example", key_path=KEYS / "test-private.pem"
            ),
        ),
        engine,
    )
    engine.dispose()


def test_every_message_sent_verifies(
    signed_settings: tuple[Settings, Engine], tmp_path: Path
) -> None:
    settings, engine = signed_settings
    make_edition(engine, settings, tmp_path, ["one@example.org", "two@пример.рф"])
    with SavingSmtpServer(tmp_path / "mail") as server:
        settings = replace(settings, smtp=SmtpSettings(host=server.host, port=server.port))
        report = sending.send(engine=engine, settings=settings, day=DAY)
        messages = [path.read_bytes() for path in server.saved]
    assert report.sent == 2 and len(messages) == 2
    for raw in messages:
        assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple;")
        assert dkim.verify(raw, dnsfunc=_dns), raw[:600]
        tampered = raw.replace(b"Subject: ", b"Subject: Re: ", 1)
        assert not dkim.verify(tampered, dnsfunc=_dns)
        body_changed = raw[:-40] + raw[-40:].replace(b"--", b"-=", 1)
        assert not dkim.verify(body_changed, dnsfunc=_dns)


def test_the_signature_covers_the_headers_that_matter() -> None:
    sign = DkimSigner(
        DkimSettings(selector="s", domain="vpk-news.example", key_path=KEYS / "test-private.pem")
    )
    field = sign(
        [(b"From", b"a@vpk-news.example"), (b"To", b"b@example.org"), (b"X-Other", b"x")],
        [b"body\r\n"],
    )
    tags = dict(tag.strip().split("=", 1) for tag in field.decode().split(":", 1)[1].split(";"))
    assert tags["h"].replace("\r\n", "").replace(" ", "") == "from:to:from"
    assert tags["d"] == "vpk-news.example" and tags["s"] == "s"
    body_hash = base64.b64decode(tags["bh"].strip())
    assert body_hash == hashlib.sha256(b"body\r\n").digest()


def test_dkim_settings_are_all_or_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DKIM needs all of"):
        load_settings(environ={"NEWSLETTER_DKIM_SELECTOR": "s"})
    with pytest.raises(ConfigError, match="NEWSLETTER_DKIM_KEY_PATH: no key file"):
        load_settings(
            environ={
                "NEWSLETTER_DKIM_SELECTOR": "s",
                "NEWSLETTER_DKIM_DOMAIN": "example.org",
                "NEWSLETTER_DKIM_KEY_PATH": str(tmp_path / "missing.pem"),
            }
        )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(ConfigError, match=r"junk\.pem is not a PEM RSA private key"):
        DkimSigner(DkimSettings(selector="s", domain="example.org", key_path=junk))
