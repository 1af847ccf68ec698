"""`newsletter bounces ...`: reports that come back after sending."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.common import state

app = typer.Typer(help="Bounce and complaint reports.", no_args_is_help=True)


@app.command("import")
def import_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="An mbox file or a Maildir directory of reports.")],
    trust_unverified: Annotated[
        bool,
        typer.Option(
            "--trust-unverified",
            help="Also apply reports that do not quote the signed Message-ID of our message, "
            "by the address they name (anyone can forge those).",
        ),
    ] = False,
) -> None:
    """Mark the subscribers named in delivery status notifications (RFC 3464) bounced and in
    complaint reports (ARF) complained, when the report quotes our message to them. Reports
    without that proof, and malformed ones, are listed and skipped."""
    from newsletter.delivery.bounces.mailbox import import_bounces

    s = state(ctx)
    result = import_bounces(
        engine=s.engine(), settings=s.settings, path=path, trust_unverified=trust_unverified
    )
    typer.echo(
        f"{result.messages} messages: {result.bounced} subscribers bounced, "
        f"{result.complained} complained, {result.not_reports} not reports, "
        f"{len(result.skipped)} malformed, {len(result.unverified)} unverified"
    )
    for line in result.notes:
        typer.echo(f"  {line}")
    for line in (*result.skipped, *result.unverified):
        typer.echo(f"Warning: {line}", err=True)
