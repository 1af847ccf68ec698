"""The `newsletter` command as cron and operators run it: a real process, a real SQLite file,
a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsletter.cli import app
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import make_engine, session_scope
from newsletter.store.models import Article, EditionItem, ItemKind, Subscriber, Thread
from newsletter.summarize import clean_text
from tests.conftest import SAMPLE_PAGE, received
from tests.inprocess import Cli
from tests.processes import newsletter_env, process_cli

SAMPLES = Path(__file__).parents[1] / "newsletter" / "sample_content"
BUNDLED = [
    SAMPLES / n for n in ("articles.jsonl", "threads.jsonl", "feed-rss.xml", "feed-atom.xml")
]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


@pytest.fixture
def cli(db_url: str, smtp_server: SavingSmtpServer, tmp_path: Path) -> Cli:
    run = process_cli(newsletter_env(db_url=db_url, smtp=smtp_server, home=tmp_path))
    run("db", "upgrade")
    return run


def _count(db_url: str, model: type[Article] | type[Thread] | type[Subscriber]) -> int:
    with session_scope(make_engine(db_url)) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_whole_day(
    cli: Cli, db_url: str, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    cli("ingest", SAMPLE_PAGE, "--published-at", "2024-12-23T09:00:00+03:00")
    cli("ingest", *BUNDLED)
    cli("subscribers", "add", "reader@example.org", "--name", "Alex Reader")
    cli("subscribers", "add", "chitatel@example.org", "--name", "Иван Читатель", "--lang", "ru")
    csv = tmp_path / "more.csv"
    csv.write_text("email,name,lang\nanalyst@example.org,,en\nredaktor@example.org,Редактор,ru\n")
    cli("subscribers", "import", csv)
    built = cli("build", "--date", "2024-12-23")
    assert "edition 2024-12-23 built: 9 articles" in built.stdout
    cli("send", "--date", "2024-12-23")

    messages = received(smtp_server)
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [
        "analyst@example.org",
        "chitatel@example.org",
        "reader@example.org",
        "redaktor@example.org",
    ]
    with session_scope(make_engine(db_url)) as session:
        items = session.scalars(
            select(EditionItem)
            .where(EditionItem.kind == ItemKind.ARTICLE)
            .order_by(EditionItem.position)
        ).all()
        bodies = {a.id: clean_text(a.body) for a in session.scalars(select(Article))}
        # The top stories of each language, which get a blurb: its first five in rank order.
        top = {
            lang: {
                item.title: (item.summary, bodies[item.article_id or 0])
                for item in [i for i in items if i.details["lang"] == lang][:5]
            }
            for lang in ("en", "ru")
        }
    assert "The Asian case of Belarus" in top["en"]
    links = set()
    for message in messages:
        assert message.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        for header in ("From", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
            assert message[header], header
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        link = message["List-Unsubscribe"].strip().strip("<>")
        assert link in text and link in html
        links.add(link)
        for title, (summary, body) in top[message["Content-Language"]].items():
            assert summary, f"{title} has no summary"
            for sentence in summary:
                assert sentence in body, "a summary sentence must be a sentence of its article"
                assert _words(sentence) in _words(text)
        assert "Lessons from Syria" in text  # a discussion from the exported page
    assert len(links) == 4, "each reader has their own unsubscribe link"
    russian = next(m for m in messages if m["To"].addresses[0].addr_spec == "chitatel@example.org")
    assert russian["Subject"] == (
        "На верфи «Балтийский мыс» заложили неатомную подводную лодку нового проекта"
        " — и ещё 2 новости"
    )
    assert russian["To"].addresses[0].display_name == "Иван Читатель"

    again = cli("send", "--date", "2024-12-23")
    assert re.search(r"│\s+0\s+│\s+0\s+│", again.stdout), again.stdout
    rerun = cli("run", "--date", "2024-12-23")
    assert "Edition 2024-12-23" in rerun.stdout
    assert len(received(smtp_server)) == 4, "a second send delivers nothing new"


def test_run_builds_and_sends_then_is_idempotent(cli: Cli, smtp_server: SavingSmtpServer) -> None:
    cli("ingest", *BUNDLED)
    cli("subscribers", "add", "reader@example.org")
    cli("run", "--date", "2024-12-22")
    cli("run", "--date", "2024-12-22")
    assert len(received(smtp_server)) == 1


def test_a_day_without_content_has_its_own_exit_code(cli: Cli) -> None:
    cli("ingest", *BUNDLED)
    done = cli("run", "--date", "2030-01-01", expect=3)
    assert done.stderr.strip() == (
        "Error: nothing to send for 2030-01-01: no articles or discussions were published that "
        "day (00:00 to 24:00 Europe/Moscow); no edition built"
    )


def test_an_exported_page_needs_its_date(cli: Cli, db_url: str) -> None:
    done = cli("ingest", SAMPLE_PAGE, expect=1)
    assert done.stderr.strip() == (
        f"Error: {SAMPLE_PAGE}: page: an exported page carries no date: "
        "pass --published-at ISO-DATETIME"
    )
    assert _count(db_url, Article) == 0


def test_a_bad_record_stores_nothing_of_its_file_and_keeps_earlier_files(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    good = (SAMPLES / "articles.jsonl").read_text("utf-8").splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        "\n".join([*good[:2], '{"type": "article", "url": "https://x.example/a"', *good[2:4]])
    )
    done = cli("ingest", SAMPLES / "threads.jsonl", bad, expect=1)
    assert done.stderr.startswith(f"Error: {bad}: line 3: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert _count(db_url, Article) == 0
    assert _count(db_url, Thread) == 10


def test_html_in_a_title_is_refused(cli: Cli, db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "html.jsonl"
    bad.write_text(
        '{"type": "article", "url": "https://x.example/a", "title": "<script>alert(1)</script>",'
        ' "body": "Text.", "published_at": "2024-12-23T10:00:00+03:00", "lang": "en"}\n'
    )
    done = cli("ingest", bad, expect=1)
    assert f"Error: {bad}: line 1: " in done.stderr and "markup" in done.stderr
    assert _count(db_url, Article) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("subscribers", "add", "not-an-address"), "not-an-address"),
        (("subscribers", "add", "eve@example.org", "--name", "Eve\nBcc: x@example.org"), "name"),
        (("subscribers", "add", "eve@example.org", "--lang", "de"), "de"),
    ],
)
def test_bad_subscriber_input_is_one_line(
    cli: Cli, db_url: str, args: tuple[str, ...], message: str
) -> None:
    done = cli(*args, expect=1)
    assert done.stderr.startswith("Error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _count(db_url, Subscriber) == 0


def test_a_broken_csv_row_imports_nothing(cli: Cli, db_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "list.csv"
    csv.write_text("email,name\ngood@example.org,Good\nbroken@,Broken\nalso@example.org,\n")
    done = cli("subscribers", "import", csv, expect=1)
    assert done.stderr.startswith(f"Error: {csv}: 1 invalid row; first: line 3: 'broken@': invalid")
    assert _count(db_url, Subscriber) == 0


def test_subscribers_round_trip(cli: Cli, tmp_path: Path) -> None:
    cli("subscribers", "add", "Reader@Example.org", "--name", "Читатель", "--lang", "ru")
    listed = cli("subscribers", "list")
    assert listed.stdout == "Reader@example.org (Читатель)\tru\tactive\n"
    exported = cli("subscribers", "export")
    assert exported.stdout.splitlines()[0] == (
        '"email","name","lang","status","created_at","confirmed_at","unsubscribed_at","sections"'
    )
    cli("subscribers", "remove", "reader@EXAMPLE.org")
    assert cli("subscribers", "list").stdout == "Reader@example.org (Читатель)\tru\tunsubscribed\n"
    cli("subscribers", "forget", "reader@EXAMPLE.org")
    assert cli("subscribers", "list").stdout == ""


def test_a_malformed_setting_is_named(cli: Cli) -> None:
    done = cli("build", "--date", "2024-12-23", expect=1, NEWSLETTER_SMTP_SECURITY="tls")
    assert done.stderr.strip() == (
        "Error: NEWSLETTER_SMTP_SECURITY: 'tls' is not one of none, starttls, ssl"
    )


def test_a_database_without_schema_says_what_to_do(cli: Cli, tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    done = cli("subscribers", "list", expect=1, NEWSLETTER_DATABASE_URL=fresh)
    assert "has no schema: run `newsletter db upgrade`" in done.stderr


def test_a_test_copy_records_nothing(cli: Cli, smtp_server: SavingSmtpServer) -> None:
    cli("ingest", *BUNDLED)
    cli("subscribers", "add", "reader@example.org")
    cli("build", "--date", "2024-12-23")
    cli("send", "--date", "2024-12-23", "--to", "editor@example.org", "--lang", "ru")
    dry = cli("send", "--date", "2024-12-23", "--dry-run")
    assert "dry run: 1 messages composed" in dry.stdout
    cli("send", "--date", "2024-12-23")
    to = [m["To"].addresses[0].addr_spec for m in received(smtp_server)]
    assert to == ["editor@example.org", "reader@example.org"]
    dry = cli("send", "--date", "2024-12-23", "--dry-run")
    assert "dry run: 0 messages composed" in dry.stdout


def _commands() -> list[list[str]]:
    from typer.main import get_command

    root = get_command(app)
    found: list[list[str]] = [[]]
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        found.append([name])
        found.extend([name, sub] for sub in getattr(command, "commands", {}))
    return found


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "newsletter")
def test_every_command_has_help_and_is_in_the_readme(path: list[str]) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    assert f"newsletter {' '.join(path)}".strip() in readme
