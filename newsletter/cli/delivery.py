"""Delivery commands: send and run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from newsletter import sending
from newsletter.cli.common import parse_day, state
from newsletter.cli.content import DateOption
from newsletter.deliver import SmtpTransport
from newsletter.errors import DeliveryIncomplete


def register(app: typer.Typer) -> None:
    app.command()(send)
    app.command()(run)


def send(
    ctx: typer.Context,
    day: DateOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compose every message; send and record nothing.")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="Send one test copy to this address only.")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the test copy.")] = "en",
) -> None:
    """Deliver a built edition to every active subscriber who has not had it."""
    s = state(ctx)
    engine = s.engine()
    when = parse_day(day, s.settings)
    if to is not None:
        with SmtpTransport(s.settings.smtp) as transport:
            address = sending.send_test(
                settings=s.settings, engine=engine, day=when, to=to, lang=lang, transport=transport
            )
        typer.echo(f"test copy of {when} sent to {address}")
        return
    if dry_run:
        composed = sending.dry_run(engine=engine, settings=s.settings, day=when)
        typer.echo(f"dry run: {composed} messages composed for {when}; nothing sent")
        return
    with SmtpTransport(s.settings.smtp) as transport, _progress() as progress:
        report = sending.send(
            engine=engine, settings=s.settings, day=when, transport=transport, progress=progress
        )
    _show(report)


def run(ctx: typer.Context, day: DateOption = None) -> None:
    """What cron calls: build the day's edition if needed, then send what is left.

    Safe to run again: nobody gets an edition twice. Exit codes: 0 done, 3 nothing to send,
    4 some recipients deferred (run again later), 1 error."""
    s = state(ctx)
    with SmtpTransport(s.settings.smtp) as transport, _progress() as progress:
        report = sending.run(
            engine=s.engine(),
            settings=s.settings,
            day=parse_day(day, s.settings),
            transport=transport,
            progress=progress,
        )
    _show(report)


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, so that stdout keeps only the report."""
    with Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("sending", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _show(report: sending.SendReport) -> None:
    table = Table(title=f"Edition {report.edition_date}")
    for column in ("queued", "sent", "deferred", "failed", "skipped"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            str(n)
            for n in (report.queued, report.sent, report.deferred, report.failed, report.skipped)
        )
    )
    console = Console()
    console.print(table)
    for error in report.errors:
        console.print(f"  {error}", markup=False, highlight=False)
    if report.deferred:
        raise DeliveryIncomplete(
            f"{report.deferred} recipients were deferred by the relay: run again later"
        )
