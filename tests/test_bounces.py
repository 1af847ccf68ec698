"""`newsletter bounces import`: DSNs and ARF complaints in an mbox or a Maildir take the right
subscribers off the list; malformed reports are named and skipped."""

from __future__ import annotations

import mailbox
import secrets
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from newsletter.bounces import import_bounces
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.errors import InputError
from newsletter.messages import delivery_message_id
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Subscriber, SubscriberEvent, SubscriberStatus
from tests.conftest import FIXTURES
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
    """The fixture reports; the redacted complaint gets the Message-ID of the message we sent
    to hidden@isp.example."""
    with session_scope(engine) as session:
        hidden = session.execute(
            select(Subscriber.id, Subscriber.link_key).where(
                Subscriber.email == "hidden@isp.example"
            )
        ).one()
    assert settings.secret_key is not None
    message_id = delivery_message_id(
        secret=settings.secret_key,
        edition_date=DAY,
        subscriber_id=hidden.id,
        key=hidden.link_key,
        domain="vpk-news.example",
    )
    return [
        (REPORTS / name).read_bytes().replace(b"MESSAGE_ID_PLACEHOLDER", message_id.encode())
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
