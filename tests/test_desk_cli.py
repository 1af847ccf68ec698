"""The desk's commands as operators and cron run them: `editors`, `editions`, and `run` waiting
for approval. Real processes, a real SQLite file, a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import EXIT_AWAITING_APPROVAL
from newsletter.store.db import make_engine, session_scope
from newsletter.store.models import Delivery, Editor
from tests.conftest import received
from tests.inprocess import Cli
from tests.processes import newsletter_env, process_cli

SAMPLES = Path(__file__).parents[1] / "newsletter" / "sample_content"
BUNDLED = [SAMPLES / n for n in ("articles.jsonl", "threads.jsonl", "feed-atom.xml")]
DAY = "2024-12-23"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'desk.sqlite3'}"


@pytest.fixture
def cli(db_url: str, smtp_server: SavingSmtpServer, tmp_path: Path) -> Cli:
    run = process_cli(newsletter_env(db_url=db_url, smtp=smtp_server, home=tmp_path))
    run("db", "upgrade")
    return run


def test_editors_add_list_remove(cli: Cli, db_url: str) -> None:
    added = cli("editors", "add", "Ed@Example.org", stdin="a long passphrase\n")
    assert added.stdout.strip() == "added editor Ed@example.org"
    with session_scope(make_engine(db_url)) as session:
        (editor,) = session.scalars(select(Editor)).all()
        assert editor.password_hash.startswith("$argon2id$")
    listed = cli("editors", "list")
    assert listed.stdout.startswith("Ed@example.org\tadded ")
    again = cli("editors", "add", "ed@example.org", stdin="a long passphrase\n", expect=1)
    assert again.stderr == "Error: ed@example.org is already an editor\n"
    short = cli("editors", "add", "new@example.org", stdin="short\n", expect=1)
    assert short.stderr == "Error: the password must have at least 10 characters\n"
    bad = cli("editors", "add", "not-an-address", stdin="a long passphrase\n", expect=1)
    assert bad.stderr.startswith("Error: 'not-an-address' is not an email address")
    assert len(bad.stderr.splitlines()) == 1
    cli("editors", "remove", "ED@example.org")
    assert cli("editors", "list").stdout == ""
    gone = cli("editors", "remove", "ed@example.org", expect=1)
    assert gone.stderr == "Error: ed@example.org is not an editor\n"


def _deliveries(db_url: str) -> int:
    with session_scope(make_engine(db_url)) as session:
        return int(session.scalar(select(func.count()).select_from(Delivery)) or 0)


def test_run_waits_for_approval_then_sends(
    cli: Cli, db_url: str, smtp_server: SavingSmtpServer
) -> None:
    cli("ingest", *BUNDLED)
    cli("subscribers", "add", "reader@example.org")
    cli("subscribers", "add", "chitatel@example.org", "--lang", "ru")
    waiting = cli(
        "run", "--date", DAY, expect=EXIT_AWAITING_APPROVAL, NEWSLETTER_EDITION_REQUIRE_APPROVAL="1"
    )
    assert [line for line in waiting.stderr.splitlines() if line] == [
        f"Error: the edition of {DAY} waits for approval: nothing sent (an editor approves it "
        f"at /desk or with `newsletter editions approve {DAY}`)"
    ]
    assert received(smtp_server) == [] and _deliveries(db_url) == 0
    listed = cli("editions", "list", "--days", "0")
    assert f"{DAY}\tdraft\t0\t0\t0\t0\t" in listed.stdout

    cli("editions", "approve", DAY, "--by", "ops@example.org")
    refused = cli("build", "--date", DAY, expect=1)  # an approved edition is frozen
    assert "approved" in refused.stderr
    cli("editions", "withdraw", DAY, "--by", "ops@example.org")
    cli(
        "run", "--date", DAY, expect=EXIT_AWAITING_APPROVAL, NEWSLETTER_EDITION_REQUIRE_APPROVAL="1"
    )
    cli("editions", "approve", DAY, "--by", "ops@example.org")
    cli("run", "--date", DAY, NEWSLETTER_EDITION_REQUIRE_APPROVAL="true")
    assert len(received(smtp_server)) == 2
    listed = cli("editions", "list", "--days", "0")
    assert f"{DAY}\tsent\t2\t2\t0\t0\t" in listed.stdout
    withdrawn = cli("editions", "withdraw", DAY, expect=1)
    assert "only an approved edition that is not being sent" in withdrawn.stderr

    history = cli("editions", "history", DAY).stdout.splitlines()
    assert [line.split("\t")[1:] for line in history] == [
        ["ops@example.org", "approve", "draft -> approved"],
        ["ops@example.org", "withdraw", "approved -> draft"],
        ["ops@example.org", "approve", "draft -> approved"],
    ]


def test_without_require_approval_a_draft_is_sent(cli: Cli, smtp_server: SavingSmtpServer) -> None:
    cli("ingest", *BUNDLED)
    cli("subscribers", "add", "reader@example.org")
    cli("run", "--date", DAY)
    assert len(received(smtp_server)) == 1
