"""`newsletter bounces import`: DSNs and ARF complaints in an mbox or a Maildir take the right
subscribers off the list; malformed reports are named and skipped."""

from __future__ import annotations

import mailbox
import re
import secrets
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings, SmtpSettings
from newsletter.delivery.bounces.mailbox import import_bounces
from newsletter.delivery.compose import delivery_message_id
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import InputError
from newsletter.pipeline import send
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Subscriber, SubscriberEvent, SubscriberStatus
from tests.conftest import FIXTURES, received
from tests.smtp_faults import DAY, make_edition

REPORTS = FIXTURES / "bounces"
ORDER = [
    "dsn-user-unknown.eml",
    "out-of-office.eml",
    "dsn-two-recipients.eml",
    "arf-abuse.eml",
    "malformed-dsn.eml",
    "arf-redacted.eml",
]
LIST = [
    "gone@example.org",
    "full@example.org",
    "disabled@example.org",
    "complainer@example.org",
    "hidden@isp.example",
    "r00@example.org",
]


@pytest.fixture
def stocked(tmp_path: Path) -> tuple[Engine, Settings]:
    url = f"sqlite:///{tmp_path / 'bounces.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(
        database_url=url,
        from_address="VPK News <digest@vpk-news.example>",
        base_url="https://news.example.org",
        secret_key=secrets.token_hex(32),
    )
    make_edition(engine, settings, tmp_path, LIST)
    return engine, settings


def _reports(engine: Engine, settings: Settings) -> list[bytes]:
    """The fixture reports, each `MESSAGE_ID_FOR(address)` replaced by the signed Message-ID of
    the message we sent to that address: what a genuine report quotes."""
    with session_scope(engine) as session:
        keys = {
            email: (id_, key)
            for email, id_, key in session.execute(
                select(Subscriber.email, Subscriber.id, Subscriber.link_key)
            )
        }
    assert settings.secret_key is not None
    secret = settings.secret_key

    def message_id(match: re.Match[bytes]) -> bytes:
        id_, key = keys[match.group(1).decode()]
        made = delivery_message_id(
            secret=secret, edition_date=DAY, subscriber_id=id_, key=key, domain="vpk-news.example"
        )
        return made.encode()

    return [
        re.sub(rb"MESSAGE_ID_FOR\(([^)]+)\)", message_id, (REPORTS / name).read_bytes())
        for name in ORDER
    ]


def _states(engine: Engine) -> dict[str, SubscriberStatus]:
    with session_scope(engine) as session:
        return {e: s for e, s in session.execute(select(Subscriber.email, Subscriber.status))}


def _check(engine: Engine) -> None:
    assert _states(engine) == {
        "gone@example.org": SubscriberStatus.BOUNCED,
        "full@example.org": SubscriberStatus.ACTIVE,  # a full mailbox is no reason to drop
        "disabled@example.org": SubscriberStatus.BOUNCED,
        "complainer@example.org": SubscriberStatus.COMPLAINED,
        "hidden@isp.example": SubscriberStatus.COMPLAINED,  # found by the signed Message-ID
        "r00@example.org": SubscriberStatus.ACTIVE,  # an auto-reply is no report
    }
    with session_scope(engine) as session:
        causes = list(
            session.scalars(
                select(SubscriberEvent.cause)
                .join(Subscriber, Subscriber.id == SubscriberEvent.subscriber_id)
                .where(Subscriber.email == "gone@example.org")
            )
        )
    assert any("bounce report: 5.1.1" in cause for cause in causes)


def test_an_mbox_of_reports(stocked: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = stocked
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for raw in _reports(engine, settings):
        box.add(raw)
    box.flush()
    result = import_bounces(engine=engine, settings=settings, path=path)
    _check(engine)
    assert (result.messages, result.bounced, result.complained, result.not_reports) == (6, 2, 2, 1)
    assert result.skipped == [
        f"{path}: message 5: a recipient's delivery status lacks Final-Recipient, Action or "
        "Status: skipped"
    ]
    assert any("full@example.org: kept on the list (5.2.2" in note for note in result.notes)
    again = import_bounces(engine=engine, settings=settings, path=path)
    assert (again.bounced, again.complained) == (0, 0), "importing again changes nothing"
    _check(engine)


def test_a_maildir_of_reports_through_the_cli(
    stocked: tuple[Engine, Settings], tmp_path: Path
) -> None:
    engine, settings = stocked
    path = tmp_path / "Maildir"
    box = mailbox.Maildir(path)
    keys = [box.add(raw) for raw in _reports(engine, settings)]
    env = {
        "NEWSLETTER_DATABASE_URL": str(settings.database_url),
        "NEWSLETTER_SECRET_KEY": str(settings.secret_key),
    }
    result = CliRunner().invoke(app, ["bounces", "import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "6 messages: 2 subscribers bounced, 2 complained, 1 not reports, 1 malformed" in (
        result.stdout
    )
    assert f"Warning: {path}: file {keys[4]}: a recipient's delivery status" in result.stderr
    _check(engine)


def test_what_is_no_mailbox_is_refused(stocked: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = stocked
    text = tmp_path / "notes.txt"
    text.write_text("Dear sender,\n")
    with pytest.raises(InputError, match=r"notes\.txt: line 1: not an mbox"):
        import_bounces(engine=engine, settings=settings, path=text)
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="plain: directory: not a Maildir"):
        import_bounces(engine=engine, settings=settings, path=tmp_path / "plain")
    with pytest.raises(InputError, match="no such mbox file or Maildir"):
        import_bounces(engine=engine, settings=settings, path=tmp_path / "absent")
    assert set(_states(engine).values()) == {SubscriberStatus.ACTIVE}


# --- forged reports (issue 11, item 3) ---


@pytest.fixture
def sent(tmp_path: Path, smtp_server: SavingSmtpServer) -> tuple[Engine, Settings, dict[str, str]]:
    """A store whose edition went out through a real SMTP server; the Message-ID each
    subscriber's copy arrived with, by address."""
    url = f"sqlite:///{tmp_path / 'forged.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(
        database_url=url,
        from_address="VPK News <digest@vpk-news.example>",
        base_url="https://news.example.org",
        secret_key=secrets.token_hex(32),
        smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port),
    )
    make_edition(engine, settings, tmp_path, ["mallory@example.org", "victim@example.org"])
    send(engine=engine, settings=settings, day=DAY)
    ids = {m["To"].addresses[0].addr_spec: str(m["Message-ID"]) for m in received(smtp_server)}
    return engine, settings, ids


def _forged_dsn(recipient: str, original: str = "") -> bytes:
    """A DSN saying `recipient` does not exist, quoting `original` headers (none: none)."""
    quoted = f"--b\nContent-Type: text/rfc822-headers\n\n{original}\n" if original else ""
    return (
        "From: MAILER-DAEMON@relay.example.net\nTo: digest@vpk-news.example\n"
        "Subject: Undelivered Mail\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; relay.example.net\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: 5.1.1\n\n"
        f"{quoted}--b--\n"
    ).encode()


def _forged_arf(recipient: str, original: str) -> bytes:
    return (
        "From: fbl@isp.example\nTo: abuse@vpk-news.example\nSubject: complaint\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\n\n'
        "--f\nContent-Type: text/plain\n\nA complaint.\n\n"
        "--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n"
        f"Original-Rcpt-To: <{recipient}>\n\n"
        f"--f\nContent-Type: text/rfc822-headers\n\n{original}\n--f--\n"
    ).encode()


def _mbox(path: Path, reports: list[bytes]) -> Path:
    box = mailbox.mbox(path)
    for raw in reports:
        box.add(raw)
    box.flush()
    return path


def test_forged_reports_are_listed_and_skipped(
    sent: tuple[Engine, Settings, dict[str, str]], tmp_path: Path
) -> None:
    engine, settings, ids = sent
    mallorys, victims = ids["mallory@example.org"], ids["victim@example.org"]
    made_up = victims.replace(victims.split(".")[2].split("@")[0], "0" * 16)
    path = _mbox(
        tmp_path / "forged.mbox",
        [
            # names the victim, quotes nothing
            _forged_dsn("victim@example.org"),
            # quotes a Message-ID of our form whose signature is made up
            _forged_dsn("victim@example.org", f"Message-ID: {made_up}"),
            # quotes Mallory's own genuine message, but says the victim's address bounced
            _forged_dsn("victim@example.org", f"Message-ID: {mallorys}"),
            # quotes a message of someone else's making
            _forged_arf("victim@example.org", "Message-ID: <abc@mail.example>"),
        ],
    )
    result = import_bounces(engine=engine, settings=settings, path=path)
    assert (result.bounced, result.complained) == (0, 0)
    assert set(_states(engine).values()) == {SubscriberStatus.ACTIVE}
    assert len(result.unverified) == 4
    assert all("victim@example.org: unverified (" in line for line in result.unverified)

    trusted = import_bounces(engine=engine, settings=settings, path=path, trust_unverified=True)
    assert (trusted.bounced, trusted.unverified) == (1, [])
    assert _states(engine)["victim@example.org"] is SubscriberStatus.BOUNCED


def test_a_complaint_counts_for_the_recipient_of_the_message_it_quotes(
    sent: tuple[Engine, Settings, dict[str, str]], tmp_path: Path
) -> None:
    """Feedback loops redact and rewrite addresses: the quoted message says whose it was."""
    engine, settings, ids = sent
    forged = _forged_arf("victim@example.org", f"Message-ID: {ids['mallory@example.org']}")
    result = import_bounces(engine=engine, settings=settings, path=_mbox(tmp_path / "c", [forged]))
    assert result.complained == 1
    assert _states(engine) == {
        "victim@example.org": SubscriberStatus.ACTIVE,
        "mallory@example.org": SubscriberStatus.COMPLAINED,
    }


def test_a_report_quoting_our_message_counts(
    sent: tuple[Engine, Settings, dict[str, str]], tmp_path: Path
) -> None:
    engine, settings, ids = sent
    path = _mbox(
        tmp_path / "genuine.mbox",
        [
            _forged_dsn("victim@example.org", f"Message-ID: {ids['victim@example.org']}"),
            _forged_arf("mallory@example.org", f"Message-ID: {ids['mallory@example.org']}"),
        ],
    )
    result = import_bounces(engine=engine, settings=settings, path=path)
    assert (result.bounced, result.complained, result.unverified) == (1, 1, [])
    assert _states(engine) == {
        "victim@example.org": SubscriberStatus.BOUNCED,
        "mallory@example.org": SubscriberStatus.COMPLAINED,
    }


def test_unverified_reports_through_the_cli(
    sent: tuple[Engine, Settings, dict[str, str]], tmp_path: Path
) -> None:
    engine, settings, _ = sent
    path = _mbox(tmp_path / "forged.mbox", [_forged_dsn("victim@example.org")])
    env = {
        "NEWSLETTER_DATABASE_URL": str(settings.database_url),
        "NEWSLETTER_SECRET_KEY": str(settings.secret_key),
    }
    refused = CliRunner().invoke(app, ["bounces", "import", str(path)], env=env)
    assert refused.exit_code == 0, refused.output
    assert "0 subscribers bounced" in refused.stdout and "1 unverified" in refused.stdout
    assert (
        f"Warning: {path}: message 1: victim@example.org: unverified (it quotes no Message-ID of "
        "ours): skipped; --trust-unverified applies it"
    ) in refused.stderr
    assert _states(engine)["victim@example.org"] is SubscriberStatus.ACTIVE
    trusted = CliRunner().invoke(
        app, ["bounces", "import", "--trust-unverified", str(path)], env=env
    )
    assert trusted.exit_code == 0, trusted.output
    assert "1 subscribers bounced" in trusted.stdout
    assert _states(engine)["victim@example.org"] is SubscriberStatus.BOUNCED
