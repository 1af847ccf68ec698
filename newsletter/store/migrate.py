"""Schema migrations through Alembic's API, so users need no alembic.ini of their own."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from newsletter.errors import NewsletterError
from newsletter.store.db import database_errors


def _config() -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("newsletter.store") / "migrations")
    )
    return config


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Create the schema or bring it up to `revision`; returns the revisions before and after
    (None before: the schema was created)."""
    config = _config()
    with database_errors(engine.url), engine.begin() as connection:
        before = _revision(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        return before, _revision(connection)


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or older than this code."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with database_errors(engine.url), engine.connect() as connection:
        current = _revision(connection)
    if current != head:
        state = "has no schema" if current is None else f"is at revision {current}, not {head}"
        raise NewsletterError(
            f"the database {engine.url.render_as_string(hide_password=True)} {state}: "
            "run `newsletter db upgrade`"
        )
