"""Backup and restore of the subscriber list (issue 11, item 8): `subscribers export --full` and
`subscribers restore` put the same people back into a fresh database, so every link already
mailed acts on the person it was mailed to, and every suppressed address stays suppressed."""

from __future__ import annotations

import dataclasses
import io
import json
import mailbox
import secrets
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette

from newsletter.config import Settings
from newsletter.delivery.bounces.mailbox import import_bounces
from newsletter.delivery.compose import delivery_message_id
from newsletter.errors import InputError, NewsletterError
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Subscriber, SubscriberEvent, SubscriberStatus, Suppression
from newsletter.web import create_app
from subscribers import (
    Suppressed,
    add_subscriber,
    confirm_url,
    forget,
    preferences_url,
    remove_subscriber,
    request_subscription,
    restore_backup,
    unsubscribe_url,
    update_preferences,
    write_backup,
)
from tests.conftest import FIXTURES, serving
from tests.processes import process_cli
from tests.smtp_faults import DAY

SECRET = secrets.token_hex(32)
BASE = "https://news.example.org"
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _stock(engine: Engine) -> None:
    """Subscribers in every state, with gaps in the ids (erased rows) and suppressions."""
    with session_scope(engine) as session:
        add_subscriber(session=session, email="gap@example.org")
        ann = add_subscriber(session=session, email="Ann@Example.org", name="Ann", lang="ru")
        session.flush()
        update_preferences(
            session=session,
            subscriber_id=ann.id,
            lang="ru",
            sections=["navy"],
            offered=["navy"],
            other_languages=True,
        )
        request_subscription(
            session=session, email="bob@example.org", lang="en", now=T0, cause="form"
        )
        add_subscriber(session=session, email="carl@example.org")
        remove_subscriber(session=session, email="carl@example.org")
        add_subscriber(session=session, email="dora@example.org")
        forget(session=session, email="gap@example.org")
        forget(session=session, email="dora@example.org")  # the highest id: SQLite reuses it
        forget(session=session, email="never@example.org", reason="asked before joining")


def _snapshot(engine: Engine) -> tuple[list[tuple[object, ...]], ...]:
    with session_scope(engine) as session:
        rows = [
            (
                s.id,
                s.link_key,
                s.legacy_id_links,
                s.email,
                s.name,
                s.lang,
                s.status,
                s.sections,
                s.other_languages,
                s.created_at,
                s.confirmed_at,
                s.unsubscribed_at,
                s.confirmation_sent_at,
            )
            for s in session.scalars(select(Subscriber).order_by(Subscriber.id))
        ]
        events = [
            (e.subscriber_id, e.at, e.old_status, e.new_status, e.cause)
            for e in session.scalars(select(SubscriberEvent).order_by(SubscriberEvent.id))
        ]
        suppressions = sorted(
            (s.address_hash, s.reason, s.created_at) for s in session.scalars(select(Suppression))
        )
    return rows, events, suppressions


def _backup(engine: Engine, path: Path) -> Path:
    with session_scope(engine) as session, path.open("w", encoding="utf-8") as out:
        write_backup(session=session, out=out)
    return path


def _fresh(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def _links(engine: Engine, email: str) -> tuple[str, str, str, str]:
    """(confirm, unsubscribe, preferences, Message-ID) as they were mailed to `email`."""
    with session_scope(engine) as session:
        row = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        return (
            confirm_url(base_url=BASE, secret=SECRET, key=row.link_key),
            unsubscribe_url(base_url=BASE, secret=SECRET, key=row.link_key),
            preferences_url(base_url=BASE, secret=SECRET, key=row.link_key),
            delivery_message_id(
                secret=SECRET,
                edition_date=DAY,
                subscriber_id=row.id,
                key=row.link_key,
                domain="vpk-news.example",
            ),
        )


def _check_restored(source: Engine, target: Engine, tmp_path: Path) -> None:
    """The restored database is the source's, and the links mailed from the source act on the
    same people in it."""
    ann = _links(source, "Ann@example.org")
    bob = _links(source, "bob@example.org")
    before = _snapshot(source)
    restored = _snapshot(target)
    assert restored == before
    assert len(restored[2]) == 3  # gap, dora, never

    settings = Settings(
        database_url=str(target.url),
        from_address="VPK News <digest@vpk-news.example>",
        base_url=BASE,
        secret_key=SECRET,
    )

    def make_app(base_url: str) -> Starlette:
        mine = dataclasses.replace(settings, base_url=base_url)
        return create_app(settings=mine, engine=target)

    with serving(make_app) as base, httpx.Client(base_url=base) as client:
        page = client.get(ann[2].removeprefix(BASE))
        assert page.status_code == 200 and "Ann@example.org" in page.text
        assert client.get(bob[0].removeprefix(BASE)).status_code == 200  # confirms Bob
        done = client.post(ann[1].removeprefix(BASE), data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200
    with session_scope(target) as session:
        states = {e: s for e, s in session.execute(select(Subscriber.email, Subscriber.status))}
    assert states["Ann@example.org"] is SubscriberStatus.UNSUBSCRIBED
    assert states["bob@example.org"] is SubscriberStatus.ACTIVE

    # A complaint quoting a Message-ID sent before the backup still names the same person.
    report = (FIXTURES / "bounces" / "arf-redacted.eml").read_bytes()
    box = mailbox.mbox(tmp_path / "complaints.mbox")
    box.add(report.replace(b"MESSAGE_ID_FOR(hidden@isp.example)", bob[3].encode()))
    box.flush()
    assert (
        import_bounces(
            engine=target, settings=settings, path=tmp_path / "complaints.mbox"
        ).complained
        == 1
    )

    with session_scope(target) as session:
        for address in ("dora@example.org", "gap@example.org", "never@example.org"):
            with pytest.raises(Suppressed):
                add_subscriber(session=session, email=address)
    with session_scope(target) as session:
        newcomer = add_subscriber(session=session, email="new@example.org")
        session.flush()
        assert newcomer.id > max(row[0] for row in before[0])


def test_a_restore_keeps_every_link_and_suppression(engine: Engine, tmp_path: Path) -> None:
    """From SQLite and PostgreSQL into a fresh SQLite file."""
    _stock(engine)
    path = _backup(engine, tmp_path / "backup.jsonl")
    target = _fresh(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    with session_scope(target) as session:
        counts = restore_backup(session=session, path=path)
    assert (counts.subscribers, counts.suppressions) == (3, 3)
    _check_restored(engine, target, tmp_path)


def test_a_restore_into_postgresql_continues_its_ids(pg_url: str, tmp_path: Path) -> None:
    source = _fresh(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    _stock(source)
    path = _backup(source, tmp_path / "backup.jsonl")
    target = _fresh(pg_url)
    with session_scope(target) as session:
        restore_backup(session=session, path=path)
    _check_restored(source, target, tmp_path)
    target.dispose()


def _cli(url: str, *args: str | Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "NEWSLETTER_DATABASE_URL": url}
    return process_cli(env)(*args, expect=expect)


def test_the_backup_commands(tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    _stock(_fresh(source_url))
    path = tmp_path / "backup.jsonl"
    written = _cli(source_url, "subscribers", "export", "--full", "--out", path)
    assert written.stderr == (
        f"3 subscribers, 4 history entries, 3 suppressed addresses written to {path}\n"
    )
    target_url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    _cli(target_url, "db", "upgrade")
    done = _cli(target_url, "subscribers", "restore", path)
    assert done.stdout == (
        f"{path}: restored 3 subscribers, 4 history entries, 3 suppressed addresses\n"
    )
    assert _snapshot(make_engine(target_url)) == _snapshot(make_engine(source_url))
    again = _cli(target_url, "subscribers", "restore", path, expect=1)
    assert again.stderr == (
        f"Error: {path}: the database already holds 3 subscribers; restore into a fresh "
        "database (`newsletter db upgrade` on an empty one), so that ids and links stay those "
        "of the backup\n"
    )
    assert _snapshot(make_engine(target_url)) == _snapshot(make_engine(source_url))


def _edit(path: Path, line: int, change: dict[str, object] | str) -> Path:
    lines = path.read_text("utf-8").splitlines()
    if isinstance(change, str):
        lines[line - 1] = change
    else:
        lines[line - 1] = json.dumps(json.loads(lines[line - 1]) | change)
    bad = path.with_name(f"bad-{line}.jsonl")
    bad.write_text("\n".join(lines) + "\n", "utf-8")
    return bad


@pytest.mark.parametrize(
    ("line", "change", "reason"),
    [
        (1, {"format": "something-else"}, "invalid format 'something-else'"),
        (2, "{not json", "not a JSON object"),
        (2, {"status": "happy"}, "invalid status 'happy': expected one of pending, active"),
        (2, {"link_key": "short"}, "invalid link_key 'short': expected 32 URL-safe characters"),
        (3, {"id": 2}, "invalid id '2': repeats line 2"),
        (2, {"email": "dora@example.org"}, "the address is on the suppression list"),
        (2, {"created_at": "0001-01-01T00:00:00+01:00"}, "invalid created_at"),
        (2, {"email": "Ann@example.org\nBcc: x@example.org"}, "invalid address"),
        (5, {"address_hash": "zz"}, "invalid address_hash 'zz'"),
    ],
)
def test_a_bad_backup_stores_nothing(
    tmp_path: Path, line: int, change: dict[str, object] | str, reason: str
) -> None:
    source = _fresh(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    _stock(source)
    path = _backup(source, tmp_path / "backup.jsonl")
    target = _fresh(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    bad = _edit(path, line, change)
    with pytest.raises(InputError) as caught, session_scope(target) as session:
        restore_backup(session=session, path=bad)
    assert str(caught.value).startswith(f"{bad}: line {line}: {reason}"), caught.value
    assert _snapshot(target) == ([], [], [])


def test_an_empty_or_foreign_file_is_refused(tmp_path: Path) -> None:
    target = _fresh(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    csv = tmp_path / "list.csv"
    csv.write_text("email\nann@example.org\n")
    with session_scope(target) as session:
        with pytest.raises(NewsletterError, match=r"empty\.jsonl: file: empty"):
            restore_backup(session=session, path=empty)
        with pytest.raises(NewsletterError, match=r"list\.csv: line 1: not a JSON object"):
            restore_backup(session=session, path=csv)
    out = io.StringIO()
    with session_scope(target) as session:
        write_backup(session=session, out=out)
    assert out.getvalue() == '{"format":"newsletter-subscribers","version":1}\n'
