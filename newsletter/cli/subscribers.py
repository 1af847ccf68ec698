"""`newsletter subscribers ...`: the operator's view of the list."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import subscribers as subs
from newsletter.cli.common import state
from newsletter.store import queries
from newsletter.store.db import session_scope

app = typer.Typer(help="Manage subscribers.", no_args_is_help=True)


@app.command()
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Address to subscribe.")],
    name: Annotated[str | None, typer.Option("--name", help="Name shown in To:.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Edition language: en or ru.")] = "en",
) -> None:
    """Add one active subscriber."""
    with session_scope(state(ctx).engine()) as session:
        subscriber = subs.add_subscriber(session=session, email=email, name=name, lang=lang)
        typer.echo(f"added {subscriber.email} ({subscriber.lang})")


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header row: email[,name][,lang].", exists=True, dir_okay=False
        ),
    ],
) -> None:
    """Import a CSV file: every row is checked first, and one bad row stores nothing."""
    with session_scope(state(ctx).engine()) as session:
        report = subs.import_csv(session=session, path=path)
    typer.echo(f"{path}: {report.added} added, {report.already_present} already subscribed")


@app.command()
def export(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
) -> None:
    """Write every subscriber as CSV, with state and dates."""
    with session_scope(state(ctx).engine()) as session:
        if out is None:
            subs.export_csv(session=session, out=sys.stdout)
            return
        with out.open("w", encoding="utf-8", newline="") as handle:
            count = subs.export_csv(session=session, out=handle)
    typer.echo(f"{count} subscribers written to {out}", err=True)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Show each address with its language and state."""
    with session_scope(state(ctx).engine()) as session:
        for subscriber in queries.list_subscribers(session=session):
            name = f" ({subscriber.name})" if subscriber.name else ""
            typer.echo(f"{subscriber.email}{name}\t{subscriber.lang}\t{subscriber.status.value}")


@app.command()
def remove(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="Address to remove.")]
) -> None:
    """Delete a subscriber and their delivery records."""
    with session_scope(state(ctx).engine()) as session:
        subs.remove_subscriber(session=session, email=email)
    typer.echo(f"removed {email}")
