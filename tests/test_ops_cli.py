"""What an operator and cron see: the day `run` picks without `--date` on a server whose clock is
UTC, strict `--date` values, one line on stderr, what `status` and `db upgrade` say."""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette

from newsletter import edition, pipeline
from newsletter.config import Settings
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.select import last_complete_day
from newsletter.store.db import make_engine, session_scope
from newsletter.store.models import Edition
from newsletter.web import create_app
from subscribers import add_subscriber
from tests.conftest import articles_of, received, serving
from tests.inprocess import Cli
from tests.processes import newsletter_env, process_cli

SAMPLES = Path(__file__).parents[1] / "newsletter" / "sample_content"
MOSCOW = ZoneInfo("Europe/Moscow")
DATED_COMMANDS = [
    ["build"],
    ["run"],
    ["send"],
    ["send", "--dry-run"],
    ["status"],
    ["preview", "--out", "preview"],
]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ops.sqlite3'}"


@pytest.fixture
def cli(db_url: str, smtp_server: SavingSmtpServer, tmp_path: Path) -> Cli:
    """The installed command in a process of its own, its clock's zone UTC as on most servers."""
    env = newsletter_env(db_url=db_url, smtp=smtp_server, home=tmp_path) | {"TZ": "UTC"}
    command = process_cli(env, cwd=tmp_path)

    def run(*args: str | Path, expect: int = 0, **extra: str) -> subprocess.CompletedProcess[str]:
        done = command(*args, expect=expect, **extra)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    return run


def _editions(db_url: str) -> int:
    with session_scope(make_engine(db_url)) as session:
        return int(session.scalar(select(func.count()).select_from(Edition)) or 0)


@pytest.mark.parametrize("process_zone", ["UTC", "Pacific/Kiritimati"])
def test_run_without_a_date_sends_the_last_complete_day_in_the_sites_zone(
    cli: Cli, smtp_server: SavingSmtpServer, tmp_path: Path, process_zone: str
) -> None:
    before = last_complete_day(now=datetime.now(UTC), tz=MOSCOW)
    days = [before + timedelta(days=n) for n in (-1, 0, 1, 2)]  # yesterday in Moscow is days[1]
    cli("db", "upgrade")
    cli("ingest", articles_of(tmp_path / "days.jsonl", *days))
    cli("subscribers", "add", "reader@example.org")
    done = cli("run", TZ=process_zone)
    status = cli("status", TZ=process_zone)
    after = last_complete_day(now=datetime.now(UTC), tz=MOSCOW)
    # Only a test that straddles midnight in Moscow sees two candidates.
    (sent,) = [day for day in {before, after} if f"Edition {day}" in done.stdout]
    assert done.stderr == ""
    assert f"Edition {sent}: sent" in status.stdout
    (message,) = received(smtp_server)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert [day for day in days if f"Article of {day}" in text] == [sent]


def test_a_date_is_yyyy_mm_dd_only(cli: Cli, db_url: str) -> None:
    cli("db", "upgrade")
    cli("ingest", SAMPLES / "articles.jsonl")
    for value in ("20241223", "2024-W52-1", "2024-358", "2024-12-23T00:00", "2024-12-3"):
        done = cli("run", "--date", value, expect=2)
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert errors == [
            f"Error: Invalid value for '--date': {value!r} is not a day as YYYY-MM-DD"
        ]
    assert _editions(db_url) == 0


def test_a_date_out_of_range_is_one_error_line(cli: Cli, db_url: str) -> None:
    cli("db", "upgrade")
    cli("ingest", SAMPLES / "articles.jsonl")
    for command in DATED_COMMANDS:
        for value in ("9999-12-31", "0001-01-01"):
            done = cli(*command, "--date", value, expect=2)
            errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
            assert errors == [
                f"Error: Invalid value for '--date': {value!r} is out of range: "
                "a day from 0001-01-02 to 9999-12-30"
            ], command
    assert _editions(db_url) == 0


def test_run_writes_one_line_to_stderr_or_none(cli: Cli, smtp_server: SavingSmtpServer) -> None:
    cli("db", "upgrade")
    cli("ingest", SAMPLES / "articles.jsonl")
    cli("subscribers", "add", "reader@example.org")
    sent = cli("run", "--date", "2024-12-23")
    assert sent.stderr == ""  # cron mails any output: a good run must print nothing there
    assert len(received(smtp_server)) == 1
    nothing = cli("run", "--date", "2030-01-01", expect=3)
    assert nothing.stderr == (
        "Error: nothing to send for 2030-01-01: no articles or discussions were published that "
        "day (00:00 to 24:00 Europe/Moscow); no edition built\n"
    )
    down = cli(
        "run",
        "--date",
        "2024-12-22",
        expect=4,
        NEWSLETTER_SMTP_PORT="9",
        NEWSLETTER_DELIVERY_BACKOFF_SECONDS="0.05",
    )
    *retries, last = down.stderr.splitlines()
    assert last.startswith("Error: ") and all(r.startswith("Warning: ") for r in retries), down


def test_status_of_a_day_without_an_edition_says_why(cli: Cli) -> None:
    cli("db", "upgrade")
    cli("ingest", SAMPLES / "articles.jsonl")
    empty = cli("status", "--date", "2030-01-01", expect=3)
    assert empty.stderr == (
        "Error: nothing to send for 2030-01-01: no articles or discussions were published that "
        "day (00:00 to 24:00 Europe/Moscow); no edition built\n"
    )
    waiting = cli("status", "--date", "2024-12-23", expect=1)
    assert waiting.stderr == (
        "Error: there is no edition of 2024-12-23 yet: 7 articles and 0 discussions of that day "
        "wait for it; `newsletter run --date 2024-12-23` builds and sends it\n"
    )


def test_db_upgrade_says_whether_it_created_the_schema(cli: Cli, db_url: str) -> None:
    created = cli("db", "upgrade")
    assert created.stdout.startswith(f"schema created: {db_url} (revision ")
    again = cli("db", "upgrade")
    assert again.stdout.startswith(f"schema is up to date: {db_url} (revision ")


def test_the_archive_answers_only_yyyy_mm_dd(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    edition.ingest(engine=engine, settings=settings, paths=[SAMPLES / "articles.jsonl"])
    with session_scope(engine) as session:
        add_subscriber(session=session, email="reader@example.org", name=None, lang="en")
    pipeline.run(engine=engine, settings=settings, day=date(2024, 12, 23))

    def app(base_url: str) -> Starlette:
        return create_app(settings=dataclasses.replace(settings, base_url=base_url), engine=engine)

    with serving(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/archive/2024-12-23").status_code == 200
        for other in ("20241223", "2024-W52-1", "2024-358", "9999-12-31", "0001-01-01"):
            assert http.get(f"/archive/{other}").status_code == 404, other
