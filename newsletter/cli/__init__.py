"""The `newsletter` command: a thin typer layer over the library. Errors from the library's one
family become an `Error: ...` line and an exit code here, and only here."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli import (
    content,
    db,
    delivery,
    demo,
    editions,
    editors,
    serve,
    subscribers,
    summarize,
)
from newsletter.cli.common import State, show_error
from newsletter.errors import NewsletterError

app = typer.Typer(
    help="Daily email edition of the site: ingest, build, preview and send.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(db.app, name="db")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(editors.app, name="editors")
app.add_typer(editions.app, name="editions")
content.register(app)
delivery.register(app)
demo.register(app)
serve.register(app)
summarize.register(app)


@dataclass
class _Flags:
    debug: bool = False


_flags = _Flags()


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="TOML settings file (default: $NEWSLETTER_CONFIG).", dir_okay=False
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _flags.debug = debug
    ctx.obj = State(config_path=config)


def main() -> None:
    """Entry point: runs the app and turns the library's errors into exit codes."""
    try:
        try:
            app()
        except Exception as exc:
            store = _as_store_error(exc)
            if store is None:
                raise
            raise store from exc
    except NewsletterError as exc:
        if _flags.debug:
            raise
        show_error(exc)
        sys.exit(exc.exit_code)


def _as_store_error(exc: Exception) -> NewsletterError | None:
    """A database error no library call turned into a StoreError, as one; None for anything
    else. SQLAlchemy is looked up only if a command loaded it (start-up time)."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import DBAPIError

    from newsletter.store.db import store_error

    return store_error(exc) if isinstance(exc, DBAPIError) else None
