"""Engines and sessions: the one place that knows SQLite needs pragmas to behave like a server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.errors import ConfigError, StoreError


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get foreign keys, WAL and a busy timeout."""
    try:
        parsed = make_url(url)
        # A connection the server dropped (restart, pg_terminate_backend) is replaced when next
        # taken from the pool instead of failing the statement that takes it.
        engine = create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(f"NEWSLETTER_DATABASE_URL: cannot use {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # WAL lets `newsletter status` read while a sender writes; the timeout waits out short locks.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work commits on success and rolls back entirely on any exception; the
    database's own errors come out as StoreError."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with database_errors(engine.url, keep=IntegrityError), factory() as session, session.begin():
        yield session


@contextmanager
def database_errors(
    url: URL | str | None = None, *, keep: type[DBAPIError] | None = None
) -> Iterator[None]:
    """Turn the driver's errors (unreachable, wrong database, read-only, disk full, connection
    killed) into one StoreError line: the first line of the driver's own words, which name
    the cause, and the database without its password. `keep` passes one kind through as it
    is: a unique constraint's IntegrityError is an answer callers act on (a race lost)."""
    try:
        yield
    except DBAPIError as exc:
        if keep is not None and isinstance(exc, keep):
            raise
        raise store_error(exc, url) from exc


def store_error(exc: DBAPIError, url: URL | str | None = None) -> StoreError:
    reason = next(iter(str(exc.orig).strip().splitlines()), "") or type(exc.orig).__name__
    where = "the database"
    if url is not None:
        where += " " + make_url(url).render_as_string(hide_password=True)
    return StoreError(
        f"{where}: {reason} (work not yet committed was rolled back; check "
        "NEWSLETTER_DATABASE_URL and that the database is up, writable and has disk space)"
    )
