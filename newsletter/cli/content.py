"""Content commands: ingest, build, preview."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.common import parse_datetime, parse_day, state

DateOption = Annotated[
    str | None,
    typer.Option(
        "--date",
        help="Local day YYYY-MM-DD (default: the last complete day in the site's time zone, "
        "i.e. yesterday there).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(build)
    app.command()(preview)


def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="JSON Lines, RSS/Atom feeds or exported site pages.", exists=True, dir_okay=False
        ),
    ],
    published_at: Annotated[
        str | None,
        typer.Option(
            "--published-at",
            help="ISO date-time of an exported page, which carries no date (naive: site time).",
        ),
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language of a page or feed: en or ru.")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="URL of the article of an exported page.")
    ] = None,
) -> None:
    """Store articles and threads; each file is stored whole or not at all."""
    from newsletter import edition

    s = state(ctx)
    results = edition.ingest(
        engine=s.engine(),
        settings=s.settings,
        paths=paths,
        published_at=parse_datetime(published_at),
        lang=lang,
        url=url,
        warn=lambda note: typer.echo(f"Warning: {note}", err=True),
    )
    for path, counts in results:
        typer.echo(
            f"{path}: {counts.articles_added} articles added, {counts.articles_updated} updated; "
            f"{counts.threads_added} threads added, {counts.threads_updated} updated"
        )


def build(ctx: typer.Context, day: DateOption = None) -> None:
    """Compose the edition of one local day (again, while it is a draft).

    Exits with 3 when the day has no content."""
    from newsletter import edition

    s = state(ctx)
    result = edition.build(engine=s.engine(), settings=s.settings, day=parse_day(day, s.settings))
    verb = "rebuilt" if result.rebuilt else "built"
    typer.echo(
        f"edition {result.edition_date} {verb}: {result.articles} articles, "
        f"{result.threads} threads"
    )


def preview(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder for the files.", file_okay=False)],
    day: DateOption = None,
    screenshots: Annotated[
        bool,
        typer.Option(
            "--screenshots",
            help="Also write .desktop.png (1024 px) and .mobile.png (375 px) of each .html, "
            "taken offline in headless Chromium (needs the browser extra).",
        ),
    ] = False,
) -> None:
    """Write a built edition as .html, .txt and .eml for each language."""
    from newsletter import edition

    s = state(ctx)
    for path in edition.preview(
        engine=s.engine(),
        settings=s.settings,
        day=parse_day(day, s.settings),
        out_dir=out,
        screenshots=screenshots,
    ):
        typer.echo(str(path))
