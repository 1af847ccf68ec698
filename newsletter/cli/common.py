"""What every command shares: settings loaded once per invocation, an engine, option parsing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from newsletter import select  # the day rules only: nothing heavy to load
from newsletter.errors import EXIT_ERROR, NewsletterError
from newsletter.languages import LANGUAGES

if TYPE_CHECKING:  # imported where used: a command loads only what it needs (start-up time)
    from sqlalchemy import Engine

    from newsletter.config import Settings

# The languages as `--lang` help text writes them: "en or ru".
LANG_CHOICES = " or ".join(LANGUAGES)


@dataclass
class State:
    config_path: Path | None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from newsletter.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    def engine(self, *, migrated: bool = True) -> Engine:
        """An engine on the configured database; by default one whose schema is current."""
        from newsletter.store.db import make_engine
        from newsletter.store.migrate import ensure_current

        engine = make_engine(self.settings.database_url)
        if migrated:
            ensure_current(engine)
        return engine


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def parse_day(value: str | None, settings: Settings) -> date:
    """`--date` as YYYY-MM-DD; when omitted, the last complete day in the site's time zone by
    the clock, so that a morning run sends all of yesterday."""
    if value is None:
        return select.last_complete_day(now=datetime.now(UTC), tz=settings.timezone)
    try:
        return select.parse_day(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--date'") from None


def parse_datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date-time") from None


def show_error(error: NewsletterError) -> None:
    """The one line an error is shown as, on stderr."""
    typer.echo(f"Error: {error}", err=True)


def exit_code_of(errors: Sequence[NewsletterError]) -> int:
    """One exit code for several errors: 1 if any is an error proper, else the highest (4,
    recipients left for later, over 3, nothing to send)."""
    codes = [e.exit_code for e in errors]
    return EXIT_ERROR if EXIT_ERROR in codes else max(codes)
