"""Shared fixtures: real SQLite files, a real PostgreSQL database when NEWSLETTER_TEST_PG_URL is
set, and a real SMTP server on 127.0.0.1 that keeps what it receives."""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp

from newsletter.config import DEFAULT_TIMEZONE, Settings, SmtpSettings
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import NewsletterError
from newsletter.render.screenshots import chromium
from newsletter.store.db import make_engine
from newsletter.store.migrate import _config, upgrade

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_PAGE = FIXTURES / "site-page-2024-12-23.txt"
PG_ENV = "NEWSLETTER_TEST_PG_URL"
REQUIRE_BROWSER_ENV = "NEWSLETTER_TEST_REQUIRE_BROWSER"

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'newsletter.sqlite3'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (CI sets it)")
    name = f"newsletter_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on a SQLite file and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SavingSmtpServer]:
    with SavingSmtpServer(tmp_path / "received") as server:
        yield server


@pytest.fixture
def settings(database_url: str, smtp_server: SavingSmtpServer) -> Settings:
    return Settings(
        database_url=database_url,
        from_address="VPK News <digest@vpk-news.example>",
        base_url="https://news.example.org",
        secret_key=secrets.token_hex(32),
        smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port),
    )


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision`, as Alembic's `downgrade` command does."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def articles_of(path: Path, *days: date) -> Path:
    """A JSON Lines file of one English article at noon of each day in the site's zone, titled
    after its day."""
    lines = [
        {
            "type": "article",
            "url": f"https://vpk-news.example/articles/{day}",
            "title": f"Article of {day}",
            "body": f"The article of {day} has two sentences. This is the second of them.",
            "published_at": datetime(
                day.year, day.month, day.day, 12, tzinfo=DEFAULT_TIMEZONE
            ).isoformat(),
            "lang": "en",
        }
        for day in days
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines), "utf-8")
    return path


def received(server: SavingSmtpServer) -> list[EmailMessage]:
    """Every message the server got, parsed with the stdlib."""
    messages = []
    for path in server.saved:
        message = message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


@contextmanager
def serving(make_app: Callable[[str], ASGIApp]) -> Iterator[str]:
    """Serve `make_app(base_url)` with uvicorn on 127.0.0.1 in a thread and yield its base URL.

    The socket is bound first, so the app knows its own address before it is made (its links
    are built from the base URL, as behind a proxy)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    # As `newsletter serve` runs it: the app reads X-Forwarded-For itself, when told to.
    config = uvicorn.Config(
        make_app(base_url), log_level="warning", lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module (launching it is most of those tests' cost): the
    system's own, with the product's flags. Without it the test is skipped, unless
    NEWSLETTER_TEST_REQUIRE_BROWSER=1 (CI sets it) turns the skip into a failure."""
    with ExitStack() as stack:
        try:
            launched = stack.enter_context(chromium())
        except NewsletterError as error:
            if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
                pytest.fail(f"{error} ({REQUIRE_BROWSER_ENV}=1: the browser tests must run)")
            pytest.skip(str(error))
        yield launched
