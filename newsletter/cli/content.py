"""Content commands: ingest, build, preview."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.common import LANG_CHOICES, parse_datetime, parse_day, state

if TYPE_CHECKING:
    from newsletter.select.ranking import Ranking

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
        str | None, typer.Option("--lang", help=f"Language of a page or feed: {LANG_CHOICES}.")
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


def build(
    ctx: typer.Context,
    day: DateOption = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Print the ranked articles with each signal's share, and threads."
        ),
    ] = False,
) -> None:
    """Compose the edition of one local day (again, while it is a draft), and print each
    language's HTML size and what was folded to keep it under the clipping limit.

    Exits with 3 when the day has no content."""
    from newsletter import edition

    s = state(ctx)
    result = edition.build(engine=s.engine(), settings=s.settings, day=parse_day(day, s.settings))
    verb = "rebuilt" if result.rebuilt else "built"
    typer.echo(
        f"edition {result.edition_date} {verb}: {result.articles} articles, "
        f"{result.threads} threads"
    )
    for size in result.sizes:
        typer.echo(f"  {size.lang}: {size.size:,} bytes of HTML; {size.fitting}")
    if explain:
        for line in explain_lines(result.ranking):
            typer.echo(line)


def explain_lines(ranking: Ranking) -> list[str]:
    """The ranking as `--explain` prints it: rank, language, score, each signal's share."""
    from newsletter.select.ranking import SIGNALS

    shares = "  ".join(f"{name:>10}" for name in SIGNALS)
    lines = [f"{'#':>3}  lang  score  {shares}  title"]
    rank_of: dict[str, int] = {}
    for i, article in enumerate(ranking.articles, 1):
        rank_of[article.candidate.key] = i
        cells = "  ".join(f"{article.share(name):>10.0%}" for name in SIGNALS)
        notes = []
        if article.pinned:
            notes.append("pinned")
        if article.story is not None:
            notes.append(f"same story as #{rank_of[article.story]}: shown under it")
        note = f"  ({'; '.join(notes)})" if notes else ""
        lines.append(
            f"{i:>3}  {article.candidate.lang:<4}  {article.score:5.2f}  {cells}  "
            f"{article.candidate.title}{note}"
        )
    lines.append("threads, most discussed first (activity: posts that day, else count growth):")
    for i, thread in enumerate(ranking.threads, 1):
        activity = "unknown" if thread.activity is None else f"+{thread.activity}"
        lines.append(f"{i:>3}  {activity:>8}  {thread.title}")
    return lines


def preview(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder for the files.", file_okay=False)],
    day: DateOption = None,
    screenshots: Annotated[
        bool,
        typer.Option(
            "--screenshots",
            help="Also write .desktop.png (1024 px) and .mobile.png (375 px) of each .html, "
            "and .desktop.dark.png and .mobile.dark.png in dark mode, taken offline in "
            "headless Chromium (needs the browser extra).",
        ),
    ] = False,
) -> None:
    """Write a built edition as .html, .txt and .eml for each language, and print each
    language's HTML size and what was folded to keep it under the clipping limit."""
    from newsletter import pipeline

    s = state(ctx)
    result = pipeline.preview(
        engine=s.engine(),
        settings=s.settings,
        day=parse_day(day, s.settings),
        out_dir=out,
        screenshots=screenshots,
    )
    for path in result.written:
        typer.echo(str(path))
    for size in result.sizes:
        typer.echo(f"{size.lang}: {size.size:,} bytes of HTML; {size.fitting}")
