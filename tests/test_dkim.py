"""DKIM: messages as sent verify with dkimpy and with OpenDKIM given the public keys (RSA, and
Ed25519 beside it), with either body canonicalisation, and tampering breaks them."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine

from newsletter import pipeline
from newsletter.config import DeliverySettings, DkimSettings, Settings, SmtpSettings, load_settings
from newsletter.delivery.smtp.dkim import DkimSigner
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import ConfigError
from newsletter.store.db import make_engine
from newsletter.store.migrate import upgrade
from tests import opendkim
from tests.conftest import FIXTURES
from tests.smtp_faults import DAY, make_edition

KEYS = FIXTURES / "dkim"


def _records() -> dict[str, str]:
    """The TXT records `selector._domainkey.domain` would hold for the test keys."""
    pem = (KEYS / "test-public.pem").read_text().splitlines()
    ed25519 = serialization.load_pem_public_key((KEYS / "test-ed25519-public.pem").read_bytes())
    raw = ed25519.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "news2024._domainkey.vpk-news.example": "v=DKIM1; k=rsa; p=" + "".join(pem[1:-1]),
        "ed2024._domainkey.vpk-news.example": (
            "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode()
        ),
    }


def _dns(name: bytes, timeout: int = 5) -> bytes | None:
    record = _records().get(name.decode().rstrip("."))
    return None if record is None else record.encode()


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
        report = pipeline.send(engine=engine, settings=settings, day=DAY)
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


def _send(
    settings: Settings, engine: Engine, tmp_path: Path, dkim_settings: DkimSettings
) -> list[bytes]:
    make_edition(engine, settings, tmp_path, ["one@example.org", "two@пример.рф", "three@x.org"])
    with SavingSmtpServer(tmp_path / "mail") as server:
        settings = replace(
            settings,
            smtp=SmtpSettings(host=server.host, port=server.port),
            dkim=dkim_settings,
        )
        report = pipeline.send(engine=engine, settings=settings, day=DAY)
        messages = [path.read_bytes() for path in server.saved]
    assert report.sent == 3 and len(messages) == 3
    return messages


def _without_field(raw: bytes, index: int) -> bytes:
    """The message with its `index`-th DKIM-Signature field removed (a verifier then sees only
    the other one)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    fields: list[list[bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            fields[-1].append(line)
        else:
            fields.append([line])
    signatures = [f for f in fields if f[0].lower().startswith(b"dkim-signature:")]
    fields.remove(signatures[index])
    return b"\r\n".join(b"\r\n".join(f) for f in fields) + b"\r\n\r\n" + body


@pytest.mark.parametrize("body", ["simple", "relaxed"])
def test_rsa_and_ed25519_signatures_verify_with_dkimpy_and_opendkim(
    signed_settings: tuple[Settings, Engine], tmp_path: Path, body: str
) -> None:
    settings, engine = signed_settings
    both = replace(
        settings.dkim,
        ed25519_selector="ed2024",
        ed25519_key_path=KEYS / "test-ed25519-private.pem",
        body=body,
    )
    messages = _send(settings, engine, tmp_path, both)
    judged: list[bytes] = []
    for raw in messages:
        assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/" + body.encode())
        assert b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/" + body.encode() in raw
        verifier = dkim.DKIM(raw)
        assert verifier.verify(idx=0, dnsfunc=_dns), raw[:800]
        assert verifier.verify(idx=1, dnsfunc=_dns), raw[:800]
        only_rsa, only_ed25519 = _without_field(raw, 1), _without_field(raw, 0)
        tampered = raw.replace(b"Subject: ", b"Subject: Re: ", 1)
        assert not dkim.DKIM(tampered).verify(idx=0, dnsfunc=_dns)
        assert not dkim.DKIM(tampered).verify(idx=1, dnsfunc=_dns)
        judged += [only_rsa, only_ed25519, _without_field(tampered, 1)]
    if not opendkim.available():
        pytest.skip("opendkim-testmsg (Debian: opendkim-tools) or unshare is missing")
    results = opendkim.verify(judged, _records())
    for n, (status, output) in enumerate(results):
        if n % 3 == 2:
            assert status != 0 and "bad signature" in output.lower(), output
        else:
            assert (status, output) == (0, ""), judged[n][:800]


def test_relaxed_body_survives_a_relay_that_respaces_lines(
    signed_settings: tuple[Settings, Engine], tmp_path: Path
) -> None:
    """What relaxed body canonicalisation is for: blanks at line ends and runs of blanks changed
    in transit keep a relaxed signature valid, and break a simple one."""
    settings, engine = signed_settings
    relaxed = _send(settings, engine, tmp_path, replace(settings.dkim, body="relaxed"))[0]
    head, _, body = relaxed.partition(b"\r\n\r\n")
    assert b"  " in body  # the HTML's indentation: canonicalisation changes something
    respaced = head + b"\r\n\r\n" + body.replace(b"  ", b"   ").replace(b"\r\n", b" \r\n")
    assert dkim.verify(respaced, dnsfunc=_dns)
    simple = relaxed.replace(b"c=relaxed/relaxed", b"c=relaxed/simple", 1)
    assert not dkim.verify(simple, dnsfunc=_dns)


def test_ed25519_settings(tmp_path: Path) -> None:
    rsa = {
        "NEWSLETTER_DKIM_SELECTOR": "s",
        "NEWSLETTER_DKIM_DOMAIN": "example.org",
        "NEWSLETTER_DKIM_KEY_PATH": str(KEYS / "test-private.pem"),
    }
    with pytest.raises(ConfigError, match="needs both NEWSLETTER_DKIM_ED25519_SELECTOR"):
        load_settings(environ=rsa | {"NEWSLETTER_DKIM_ED25519_SELECTOR": "e"})
    with pytest.raises(ConfigError, match="an Ed25519 signature goes beside an RSA one"):
        load_settings(
            environ={
                "NEWSLETTER_DKIM_ED25519_SELECTOR": "e",
                "NEWSLETTER_DKIM_ED25519_KEY_PATH": str(KEYS / "test-ed25519-private.pem"),
            }
        )
    with pytest.raises(ConfigError, match="NEWSLETTER_DKIM_BODY: 'loose' is not one of"):
        load_settings(environ=rsa | {"NEWSLETTER_DKIM_BODY": "loose"})
    swapped = load_settings(
        environ=rsa
        | {
            "NEWSLETTER_DKIM_ED25519_SELECTOR": "e",
            "NEWSLETTER_DKIM_ED25519_KEY_PATH": str(KEYS / "test-private.pem"),
        }
    )
    with pytest.raises(ConfigError, match=r"test-private\.pem is not a PEM Ed25519 private key"):
        DkimSigner(swapped.dkim)
    with pytest.raises(ConfigError, match=r"is not a PEM RSA private key \(an Ed25519 key goes"):
        DkimSigner(replace(swapped.dkim, key_path=KEYS / "test-ed25519-private.pem"))
