"""Bad input and a bad day in operations (issue 11, item 11): each case is one `Error:` line,
exit 1, and the database as it was. Real SQLite files, a real PostgreSQL, real processes where
the operating system takes part (a file size limit)."""

from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy.engine import make_url

from newsletter import pipeline
from newsletter.config import DeliverySettings, SmtpSettings
from newsletter.content import MAX_BODY_CHARS, MAX_TITLE
from newsletter.delivery.smtp.sink import free_port
from newsletter.errors import NewsletterError
from newsletter.store.db import make_engine, session_scope
from newsletter.store.models import Article, Edition, EditionItem, Thread
from tests.inprocess import Cli, error_lines, in_process_cli
from tests.smtp_faults import DAY, Faults, FaultySmtpServer, make_edition, sender_store

ARTICLE: dict[str, Any] = {
    "type": "article",
    "url": "https://vpk-news.example/articles/t9",
    "title": "T-9 trainer flies",
    "body": "The T-9 trainer made its first flight on Monday. It carried two pilots.",
    "published_at": "2024-12-23T09:40:00+03:00",
    "lang": "en",
}
THREAD: dict[str, Any] = {
    "type": "thread",
    "url": "https://vpk-news.example/forum/t/1",
    "title": "Lessons from Syria",
    "last_activity_at": "2024-12-23T13:31:00+03:00",
    "comments": 67,
}


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """The command on a migrated store (SQLite and PostgreSQL) holding one article."""
    run = in_process_cli({"NEWSLETTER_DATABASE_URL": database_url}, monkeypatch, capsys)
    run("db", "upgrade")
    return run


def stored(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return (
                int(session.scalar(select(func.count()).select_from(Article)) or 0),
                int(session.scalar(select(func.count()).select_from(Thread)) or 0),
            )
    finally:
        engine.dispose()


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = error_lines(done)
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), "utf-8")
    return path


CASES = [
    pytest.param(
        '{"type": "article", "x": ' + "[" * 200_000 + "]" * 200_000 + "}",
        "line 2: invalid JSON: nested too deeply",
        id="nested-200000-deep",
    ),
    pytest.param(
        json.dumps(THREAD)[:-1] + ', "comments": ' + "9" * 5000 + "}",
        "line 2: invalid JSON: Exceeds the limit (4300 digits)",
        id="5000-digit-integer",
    ),
    pytest.param(
        json.dumps({**THREAD, "url": "https://x.example/t2", "comments": 2**63}),
        f"line 2: field 'comments' must be between 0 and {2**31 - 1}, got {2**63}",
        id="out-of-range-integer",
    ),
    pytest.param(
        json.dumps({**ARTICLE, "url": "https://x.example/2", "title": "A\ud800B"}),
        "line 2: title holds U+D800, a character that cannot be shown",
        id="lone-surrogate",
    ),
    pytest.param(
        json.dumps({**ARTICLE, "url": "https://x.example/2", "author": "A\ud800"}),
        "line 2: author holds U+D800",
        id="lone-surrogate-author",
    ),
    pytest.param(
        json.dumps(
            {**ARTICLE, "url": "https://x.example/2", "published_at": "0001-01-01T00:00+03:00"}
        ),
        "line 2: field 'published_at' '0001-01-01T00:00:00+03:00' is not between the years 1900",
        id="year-1-date",
    ),
    pytest.param(
        json.dumps({**ARTICLE, "url": "https://x.example/2", "title": "T" * (MAX_TITLE + 1)}),
        f"line 2: title is {MAX_TITLE + 1:,} characters long; at most {MAX_TITLE:,} fit",
        id="over-long-title",
    ),
    pytest.param(
        json.dumps({**ARTICLE, "url": "https://x.example/2", "author": "A" * 301}),
        "line 2: author is 301 characters long; at most 300 fit",
        id="over-long-author",
    ),
    pytest.param(
        json.dumps({**ARTICLE, "url": "https://x.example/" + "u" * 2048}),
        "line 2: url is 2,066 characters long; at most 2,048 fit",
        id="over-long-url",
    ),
    pytest.param(
        json.dumps(
            {
                **THREAD,
                "url": "https://x.example/t",
                "posts": [
                    {
                        "author": "A" * 301,
                        "body": "Hello there.",
                        "posted_at": "2024-12-23T13:31:00+03:00",
                    }
                ],
            }
        ),
        "line 2: posts[0]: author is 301 characters long; at most 300 fit",
        id="over-long-post-author",
    ),
    pytest.param(
        json.dumps(
            {**ARTICLE, "url": "https://x.example/2", "body": "word " * (MAX_BODY_CHARS // 5 + 1)}
        ),
        f"line 2: body is {MAX_BODY_CHARS + 5:,} characters long; at most {MAX_BODY_CHARS:,} are",
        id="over-long-body",
    ),
]


@pytest.mark.parametrize(("line", "message"), CASES)
def test_a_bad_record_is_one_error_line_and_stores_nothing(
    cli: Cli, database_url: str, tmp_path: Path, line: str, message: str
) -> None:
    cli("ingest", write(tmp_path / "first.jsonl", json.dumps(ARTICLE)))
    bad = write(tmp_path / "bad.jsonl", json.dumps(THREAD), line)

    done = cli("ingest", bad, expect=1)

    assert one_error(done).startswith(f"Error: {bad}: {message}")
    assert stored(database_url) == (1, 0)


def test_a_50_mb_body_is_refused_before_it_is_parsed(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.jsonl"
    with huge.open("w", encoding="utf-8") as out:
        out.write(json.dumps(ARTICLE) + "\n")
        out.write(json.dumps({**ARTICLE, "url": "https://x.example/2"})[:-1])
        out.write(', "body": "' + "Word. " * 9_000_000 + '"}\n')
    done = cli("ingest", huge, expect=1)
    assert one_error(done).startswith(f"Error: {huge}: line 2: longer than 7,000,000 bytes")
    assert stored(database_url) == (0, 0)


@pytest.mark.parametrize("suffix", [".xml", ".txt"])
def test_an_oversized_feed_or_page_is_refused_unread(
    cli: Cli, database_url: str, tmp_path: Path, suffix: str
) -> None:
    big = tmp_path / f"big{suffix}"
    big.write_bytes(b"<rss>" + b" " * 16_000_000 + b"</rss>")
    done = cli("ingest", big, "--published-at", "2024-12-23T09:00", expect=1)
    assert one_error(done).startswith(f"Error: {big}: file: 16,000,011 bytes")
    assert stored(database_url) == (0, 0)


def test_a_year_1_publication_date_of_a_page_is_refused(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    page = write(
        tmp_path / "page.txt",
        "Title",
        "",
        "Body text of the page.",
        "",
        "The rights to this material belong to X",
    )
    done = cli("ingest", page, "--published-at", "0001-01-01T00:00", expect=1)
    assert "--published-at '0001-01-01T00:00:00+" in one_error(done)
    assert stored(database_url) == (0, 0)


def test_an_unreachable_database_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    port = free_port()
    for url, says in [
        (f"postgresql+psycopg://postgres@127.0.0.1:{port}/newsletter", "Connection refused"),
        (f"sqlite:///{tmp_path}/no/such/folder/db.sqlite3", "unable to open database file"),
    ]:
        cli = in_process_cli({"NEWSLETTER_DATABASE_URL": url}, monkeypatch, capsys)
        for args in (("db", "upgrade"), ("subscribers", "list"), ("run", "--date", "2024-12-23")):
            line = one_error(cli(*args, expect=1, NEWSLETTER_SECRET_KEY=secrets.token_hex(16)))
            assert says in line and "NEWSLETTER_DATABASE_URL" in line, line


def test_a_wrong_postgresql_database_is_one_error_line(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = make_url(pg_url).set(database="no_such_database_here")
    url = wrong.render_as_string(hide_password=False)
    cli = in_process_cli({"NEWSLETTER_DATABASE_URL": url}, monkeypatch, capsys)
    line = one_error(cli("db", "upgrade", expect=1))
    assert 'database "no_such_database_here" does not exist' in line


def test_a_read_only_database_is_one_error_line_and_unchanged(
    cli: Cli,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli("ingest", write(tmp_path / "first.jsonl", json.dumps(ARTICLE)))
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        path = make_url(database_url).database
        read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        name = make_url(database_url).database
        with engine.connect() as connection:
            connection.execute(
                text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            )
            connection.commit()
        read_only = database_url
    engine.dispose()
    ro = in_process_cli({"NEWSLETTER_DATABASE_URL": read_only}, monkeypatch, capsys)
    done = ro("ingest", write(tmp_path / "more.jsonl", json.dumps(THREAD)), expect=1)
    assert "read" in one_error(done).lower()
    assert stored(database_url) == (1, 0)


def test_a_full_disk_is_one_error_line_and_the_store_unchanged(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The file size limit (RLIMIT_FSIZE) of the process stands in for a full disk: the
    operating system refuses the write the same way (EFBIG instead of ENOSPC)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "NEWSLETTER_DATABASE_URL": sqlite_url,
    }

    def newsletter(*args: str | Path, limit: int | None = None) -> subprocess.CompletedProcess[str]:
        def cap() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(
            [sys.executable, "-m", "newsletter", *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            preexec_fn=cap,
        )

    assert newsletter("db", "upgrade").returncode == 0
    assert (
        newsletter("ingest", write(tmp_path / "first.jsonl", json.dumps(ARTICLE))).returncode == 0
    )
    many = write(
        tmp_path / "many.jsonl",
        *(
            json.dumps(
                {**ARTICLE, "url": f"https://x.example/{n}", "body": f"Paragraph {n}. " * 400}
            )
            for n in range(300)
        ),
    )
    size = Path(make_url(sqlite_url).database or "").stat().st_size
    done = newsletter("ingest", many, limit=size + 200_000)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "full" in lines[0], done.stderr
    assert stored(sqlite_url) == (1, 0)


def test_two_runs_racing_to_build_an_edition_the_loser_waits_and_sends_the_winners(
    pg_url: str, tmp_path: Path
) -> None:
    """The other `run` holds the new edition in an open transaction; this one waits for it, then
    sends the edition the other built instead of failing on the unique date."""
    engine, settings = sender_store(pg_url)
    with FaultySmtpServer() as server:
        settings = replace(settings, smtp=SmtpSettings(host=server.host, port=server.port))
        make_edition(engine, settings, tmp_path, ["a@example.org", "b@example.org"])
        with session_scope(engine) as session:  # start again from an unbuilt day
            session.execute(delete(Edition))
        other = engine.connect()
        other.begin()
        other.execute(
            insert(Edition).values(
                edition_date=DAY, subject="Built by the other run", status="draft"
            )
        )
        outcome: list[object] = []
        racer = threading.Thread(
            target=lambda: outcome.append(pipeline.run(engine=engine, settings=settings, day=DAY))
        )
        racer.start()
        _wait_for_a_lock(engine)
        edition_id = other.scalar(select(Edition.id))
        # One article in each language: a@ reads Russian, b@ English (one edition per language).
        other.execute(
            insert(EditionItem),
            [
                {
                    "edition_id": edition_id,
                    "position": position,
                    "kind": "article",
                    "title": "Built by the other run",
                    "url": f"https://vpk-news.example/other-{lang}",
                    "summary": ["The other run built this."],
                    "details": {"lang": lang, "published_at": "2024-12-23T09:40:00+03:00"},
                }
                for position, lang in enumerate(("en", "ru"))
            ],
        )
        other.commit()
        other.close()
        racer.join(60)
    assert len(outcome) == 1, "the racing run raised"
    assert sorted(server.received) == ["a@example.org", "b@example.org"]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Edition)) == 1


def _wait_for_a_lock(engine: Engine) -> None:
    """Until another session of this database waits for a lock (polls pg_stat_activity)."""
    for _ in range(600):
        with engine.connect() as connection:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        time.sleep(0.1)
    raise AssertionError("the racing run never waited for the other")


# A connection's thread that ends while recording has failed must not leave a traceback on
# stderr: the error reaches the caller once, as the exception below.
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_postgresql_connection_killed_mid_send_is_one_error_and_loses_nobody(
    pg_url: str, tmp_path: Path
) -> None:
    engine, settings = sender_store(pg_url)
    emails = [f"reader{n}@example.org" for n in range(30)]
    with FaultySmtpServer(Faults(slow=set(emails), delay=0.05)) as server:
        settings = replace(
            settings,
            smtp=SmtpSettings(host=server.host, port=server.port),
            delivery=DeliverySettings(connections=2),
        )
        make_edition(engine, settings, tmp_path, emails)
        admin = make_engine(pg_url)

        def kill_backends(done: int, total: int) -> None:
            if done >= 3 and not killed:
                killed.append(done)
                with admin.connect() as connection:
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )

        killed: list[int] = []
        with pytest.raises(NewsletterError) as raised:
            pipeline.send(engine=engine, settings=settings, day=DAY, progress=kill_backends)
        assert killed
        assert "\n" not in str(raised.value) and "NEWSLETTER_DATABASE_URL" in str(raised.value)
        report = pipeline.send(engine=engine, settings=settings, day=DAY)
        admin.dispose()
    assert report.left == 0
    assert set(server.received) == set(emails)
    duplicates = sum(len(ids) - 1 for ids in server.received.values())
    assert duplicates <= settings.delivery.connections
