"""`newsletter bounces ...`: reports that come back after sending."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.bounces import import_bounces
from newsletter.cli.common import state

app = typer.Typer(help="Bounce and complaint reports.", no_args_is_help=True)


@app.command("import")
def import_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="An mbox file or a Maildir directory of reports.")],
) -> None:
    """Mark the subscribers named in delivery status notifications (RFC 3464) bounced and in
    complaint reports (ARF) complained. Malformed reports are listed and skipped."""
    s = state(ctx)
    result = import_bounces(engine=s.engine(), settings=s.settings, path=path)
    typer.echo(
        f"{result.messages} messages: {result.bounced} subscribers bounced, "
        f"{result.complained} complained, {result.not_reports} not reports, "
        f"{len(result.skipped)} malformed"
    )
    for line in result.notes:
        typer.echo(f"  {line}")
    for line in result.skipped:
        typer.echo(f"Warning: {line}", err=True)
