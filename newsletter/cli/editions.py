"""`newsletter editions ...`: the desk's approval and audit log, for scripts."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta
from typing import Annotated

import typer

from newsletter.cli.common import parse_day, state

app = typer.Typer(
    help="List, approve and withdraw editions; their audit log.", no_args_is_help=True
)

DayArgument = Annotated[str, typer.Argument(help="The edition's day, YYYY-MM-DD.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who acts, for the audit log (default: cli:<login name>)."),
]


def _who(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


@app.command("list")
def list_(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", help="How many past days.", min=0)] = 14,
) -> None:
    """The days from --days ago to two days ahead, then the ten editions before them, with
    state and delivery counts."""
    from newsletter.desk import overview  # the commands import the library when they run

    s = state(ctx)
    engine, today = s.engine(), datetime.now(s.settings.timezone).date()
    first = today - timedelta(days=days)
    shown = overview.calendar(
        engine=engine, settings=s.settings, first=first, last=today + timedelta(days=2)
    )
    shown += overview.earlier_editions(engine=engine, before=first)
    typer.echo("date\tstate\trecipients\tdelivered\tdeferred\tfailed\tsubject")
    for d in shown:
        typer.echo(
            f"{d.day}\t{d.state}\t{d.recipients}\t{d.delivered}\t{d.deferred}\t{d.failed}\t"
            f"{d.subject}"
        )


@app.command()
def approve(ctx: typer.Context, day: DayArgument, by: ByOption = None) -> None:
    """Approve a draft: with edition.require_approval, `run` sends only approved editions, and
    an approved edition is not rebuilt."""
    from newsletter.desk import actions

    s = state(ctx)
    when = parse_day(day, s.settings)
    actions.approve(engine=s.engine(), day=when, editor=_who(by))
    typer.echo(f"the edition of {when} is approved")


@app.command()
def withdraw(ctx: typer.Context, day: DayArgument, by: ByOption = None) -> None:
    """Withdraw an approval while nothing of the edition is sent: it is a draft again."""
    from newsletter.desk import actions

    s = state(ctx)
    when = parse_day(day, s.settings)
    actions.withdraw(engine=s.engine(), day=when, editor=_who(by))
    typer.echo(f"the edition of {when} is a draft again")


@app.command()
def history(ctx: typer.Context, day: DayArgument) -> None:
    """Every editor action on the edition: when, who, what, before and after."""
    from newsletter.desk import audit
    from newsletter.store.db import session_scope

    s = state(ctx)
    when = parse_day(day, s.settings)
    with session_scope(s.engine()) as session:
        for a in audit.history(session=session, day=when):
            item = f" {a.item_url}" if a.item_url else ""
            typer.echo(
                f"{a.at:%Y-%m-%d %H:%M:%S} UTC\t{a.editor}\t{a.action}{item}\t"
                f"{a.before or '-'} -> {a.after or '-'}"
            )
