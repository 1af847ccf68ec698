"""`newsletter demo`: the main job end to end, with nothing to configure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for the database and the received mail.", file_okay=False
        ),
    ] = Path("demo-out"),
) -> None:
    """Ingest the bundled sample content into a fresh SQLite file, build the edition of
    2024-12-23 and send it to a local SMTP server that saves each message as .eml and .html."""
    from newsletter.demo import run_demo

    result = run_demo(out)
    typer.echo(f"database: {result.database}")
    typer.echo(f"sent {result.report.sent} messages; received by the local SMTP server:")
    for eml in result.messages:
        typer.echo(f"  {eml}")
        html = eml.with_suffix(".html")
        if html.exists():
            typer.echo(f"  {html}")
