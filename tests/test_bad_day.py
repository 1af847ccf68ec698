"""One bad byte or one bad day must not hold up the days after it (issue 11, items 1 and 10):
text that cannot be shown is refused or cleaned at ingest, an edition is rendered for every
variant before it may become `sending`, what a send needs is checked before anything changes,
an earlier edition that fails never blocks today's, and an edition nothing of which was sent can
be built again. Real processes, a real SQLite file, a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from newsletter.delivery.smtp.sink import SavingSmtpServer, free_port
from newsletter.store.db import make_engine, session_scope
from newsletter.store.models import (
    Article,
    Delivery,
    DeliveryStatus,
    Edition,
    EditionItem,
    EditionStatus,
    Subscriber,
)
from newsletter.web.archive import sent_edition, sent_editions
from tests.conftest import received
from tests.inprocess import Cli, error_lines, in_process_cli
from tests.processes import newsletter_env

DAY1, DAY2 = date(2024, 12, 22), date(2024, 12, 23)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bad-day.sqlite3'}"


@pytest.fixture
def env(db_url: str, smtp_server: SavingSmtpServer, tmp_path: Path) -> dict[str, str]:
    return newsletter_env(db_url=db_url, smtp=smtp_server, home=tmp_path) | {
        "NEWSLETTER_DELIVERY_BACKOFF_SECONDS": "0.1",
        "NEWSLETTER_DELIVERY_MAX_ATTEMPTS": "2",
    }


@pytest.fixture
def cli(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    run = in_process_cli(env, monkeypatch, capsys)
    run("db", "upgrade")
    run("subscribers", "add", "reader@example.org")
    # Both read English: the day's articles are English, and a reader whose language has
    # nothing that day is skipped (one edition per language).
    run("subscribers", "add", "second.reader@example.org")
    return run


def article(day: date, n: int, **fields: str) -> dict[str, str]:
    return {
        "type": "article",
        "url": f"https://vpk-news.example/articles/{day}-{n}",
        "title": f"Trainer programme moves ahead, part {n}",
        "body": "The trainer made its first flight on Monday. It carried two pilots.\n\n"
        "The programme aims to replace older trainers by 2027.",
        "published_at": f"{day}T09:40:00+03:00",
        "lang": "en",
        **fields,
    }


def write_jsonl(path: Path, *records: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def queue_everyone(session: Session) -> None:
    """Pending deliveries of the one edition for every subscriber, as a send makes them."""
    edition_id = session.scalar(select(Edition.id))
    session.execute(
        insert(Delivery),
        [
            {"edition_id": edition_id, "subscriber_id": i, "status": DeliveryStatus.PENDING}
            for i in session.scalars(select(Subscriber.id))
        ],
    )


def status_of(db_url: str, day: date) -> EditionStatus | None:
    with session_scope(make_engine(db_url)) as session:
        return session.scalar(select(Edition.status).where(Edition.edition_date == day))


def archived(db_url: str) -> list[date]:
    with session_scope(make_engine(db_url)) as session:
        return [e.edition_date for e in sent_editions(session=session)]


@pytest.mark.parametrize("char", ["\x01", "\x00", "\x08", "\x1b", "\ufffe", "\uffff", "\ud800"])
def test_a_title_that_cannot_be_shown_is_refused_naming_file_and_line(
    cli: Cli, db_url: str, tmp_path: Path, char: str
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", article(DAY2, 1))
    bad = write_jsonl(tmp_path / "bad.jsonl", article(DAY2, 2), article(DAY2, 3, title=f"A{char}B"))
    done = cli("ingest", good, bad, expect=1)
    assert error_lines(done) == [
        f"Error: {bad}: line 2: title holds U+{ord(char):04X}, a character that cannot be "
        "shown: fix the source"
    ]
    with session_scope(make_engine(db_url)) as session:
        titles = session.scalars(select(Article.title)).all()
    assert titles == ["Trainer programme moves ahead, part 1"]  # the good file stays stored


@pytest.mark.parametrize("char", ["\x01", "\x00", "\ufffe", "\ud800"])
def test_a_body_that_cannot_be_shown_is_cleaned_with_a_warning_and_sent(
    cli: Cli, smtp_server: SavingSmtpServer, tmp_path: Path, char: str
) -> None:
    body = f"The trainer made its first{char}flight on Monday. It carried two pilots."
    source = write_jsonl(tmp_path / "day.jsonl", article(DAY2, 1, body=body))
    done = cli("ingest", source)
    assert done.stderr.splitlines() == [
        f"Warning: {source}: line 1: body: 1 character(s) that cannot be shown were replaced"
    ]
    cli("run", "--date", DAY2)
    assert len(received(smtp_server)) == 2


def test_a_control_character_in_a_stored_title_does_not_wedge_later_runs(
    cli: Cli, db_url: str, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    """The issue's case: U+0001 in a title stored before this check existed (or by hand), and
    an edition already switched to `sending` with it. Every later run went on failing in MJML."""
    cli("ingest", write_jsonl(tmp_path / "d1.jsonl", article(DAY1, 1)))
    cli("build", "--date", DAY1)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        session.execute(update(Article).values(title="Trainer\x01 flies"))
        session.execute(update(EditionItem).values(title="Trainer\x01 flies"))
        session.execute(update(Edition).values(status=EditionStatus.SENDING, subject="T\x01"))
        queue_everyone(session)
    cli("ingest", write_jsonl(tmp_path / "d2.jsonl", article(DAY2, 1)))

    done = cli("run", "--date", DAY2)

    assert status_of(db_url, DAY1) is EditionStatus.SENT
    assert status_of(db_url, DAY2) is EditionStatus.SENT
    assert len(received(smtp_server)) == 4, done.stdout
    texts = [m.get_body(preferencelist=("plain",)).get_content() for m in received(smtp_server)]
    assert sum("Trainer  flies" in t or "Trainer flies" in t for t in texts) == 2


def test_a_failing_earlier_edition_is_reported_and_todays_is_still_sent(
    cli: Cli, db_url: str, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    cli("ingest", write_jsonl(tmp_path / "d1.jsonl", article(DAY1, 1)))
    cli("build", "--date", DAY1)
    with session_scope(make_engine(db_url)) as session:
        # A damaged snapshot: the kind of failure that can only show once it is being sent.
        session.execute(update(EditionItem).values(details={}))
        session.execute(update(Edition).values(status=EditionStatus.SENDING))
        queue_everyone(session)
    cli("ingest", write_jsonl(tmp_path / "d2.jsonl", article(DAY2, 1)))

    done = cli("run", "--date", DAY2, expect=1)

    [line] = error_lines(done)
    assert line.startswith(f"Error: the edition of {DAY1} ")
    assert status_of(db_url, DAY2) is EditionStatus.SENT
    assert len(received(smtp_server)) == 2  # today's, to both readers
    # The next day the same: reported again, never blocking.
    cli("run", "--date", DAY2, expect=1)


def test_an_edition_that_cannot_be_rendered_never_becomes_sending(
    cli: Cli, db_url: str, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    """Rendered for every variant (both languages, every section choice of a reader) first."""
    cli("ingest", write_jsonl(tmp_path / "d2.jsonl", article(DAY2, 1)))
    cli("build", "--date", DAY2)
    with session_scope(make_engine(db_url)) as session:
        session.execute(update(EditionItem).values(details={}))

    done = cli("send", "--date", DAY2, expect=1)

    assert error_lines(done)[0].startswith(f"Error: the edition of {DAY2} ")
    assert status_of(db_url, DAY2) is EditionStatus.DRAFT
    assert received(smtp_server) == []
    assert archived(db_url) == []
    cli("build", "--date", DAY2)  # a draft: fixed by building it again
    cli("send", "--date", DAY2)
    assert len(received(smtp_server)) == 2


def test_an_edition_nothing_of_which_was_sent_can_be_rebuilt(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    cli("ingest", write_jsonl(tmp_path / "d2.jsonl", article(DAY2, 1)))
    cli("build", "--date", DAY2)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        edition_id = session.scalar(select(Edition.id))
        session.execute(update(Edition).values(status=EditionStatus.SENDING))
        subscriber_id = session.scalar(select(Subscriber.id).limit(1))
        session.execute(
            insert(Delivery).values(
                edition_id=edition_id,
                subscriber_id=subscriber_id,
                status=DeliveryStatus.DEFERRED,
                attempts=4,
            )
        )
    cli("ingest", write_jsonl(tmp_path / "more.jsonl", article(DAY2, 2)))

    done = cli("build", "--date", DAY2)

    assert "rebuilt: 2 articles" in done.stdout
    assert status_of(db_url, DAY2) is EditionStatus.DRAFT
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        session.execute(update(Edition).values(status=EditionStatus.SENDING))
        session.execute(
            insert(Delivery).values(
                edition_id=edition_id,
                subscriber_id=subscriber_id,
                status=DeliveryStatus.SENT,
                sent_at=datetime.now(UTC),
            )
        )
    done = cli("build", "--date", DAY2, expect=1)
    assert error_lines(done) == [
        f"Error: the edition of {DAY2} has been sent to 1 reader(s): it is not rebuilt"
    ]


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("NEWSLETTER_SECRET_KEY", "NEWSLETTER_SECRET_KEY"),
        ("NEWSLETTER_BASE_URL", "NEWSLETTER_BASE_URL"),
        ("NEWSLETTER_FROM", "NEWSLETTER_FROM"),
    ],
)
def test_run_checks_its_settings_before_building_anything(
    cli: Cli, db_url: str, tmp_path: Path, unset: str, named: str
) -> None:
    cli("ingest", write_jsonl(tmp_path / "d2.jsonl", article(DAY2, 1)))
    done = cli("run", "--date", DAY2, expect=1, **{unset: ""})
    assert len(error_lines(done)) == 1 and named in error_lines(done)[0]
    assert status_of(db_url, DAY2) is None  # no draft built


def test_send_with_a_setting_missing_changes_nothing(cli: Cli, db_url: str, tmp_path: Path) -> None:
    cli("ingest", write_jsonl(tmp_path / "d2.jsonl", article(DAY2, 1)))
    cli("build", "--date", DAY2)
    cli("send", "--date", DAY2, expect=1, NEWSLETTER_BASE_URL="")
    assert status_of(db_url, DAY2) is EditionStatus.DRAFT
    with session_scope(make_engine(db_url)) as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert archived(db_url) == []


def test_a_relay_that_stays_down_leaves_the_edition_a_draft_and_exits_4(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    cli("ingest", write_jsonl(tmp_path / "d2.jsonl", article(DAY2, 1)))
    down = str(free_port())
    done = cli("run", "--date", DAY2, expect=4, NEWSLETTER_SMTP_PORT=down)
    [line] = error_lines(done)
    assert f"127.0.0.1:{down}" in line and "nothing was sent" in line
    assert status_of(db_url, DAY2) is EditionStatus.DRAFT
    assert archived(db_url) == []
    cli("build", "--date", DAY2)  # still a draft: it can be built again


def test_the_archive_shows_an_edition_once_someone_received_it(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    cli("ingest", write_jsonl(tmp_path / "d2.jsonl", article(DAY2, 1)))
    cli("build", "--date", DAY2)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        edition_id = session.scalar(select(Edition.id))
        session.execute(update(Edition).values(status=EditionStatus.SENDING))
        ids = session.scalars(select(Subscriber.id).order_by(Subscriber.id)).all()
        session.execute(
            insert(Delivery),
            [
                {"edition_id": edition_id, "subscriber_id": i, "status": DeliveryStatus.DEFERRED}
                for i in ids
            ],
        )
    assert archived(db_url) == []
    with session_scope(engine) as session:
        assert sent_edition(session=session, day=DAY2) is None
        session.execute(
            update(Delivery)
            .where(Delivery.subscriber_id == ids[0])
            .values(status=DeliveryStatus.SENT, sent_at=datetime.now(UTC))
        )
    assert archived(db_url) == [DAY2]
    with session_scope(engine) as session:
        assert sent_edition(session=session, day=DAY2) is not None
