"""Delivery commands: send, run, status (and the `bounces` group)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.bounces import app as bounces_app
from newsletter.cli.common import LANG_CHOICES, exit_code_of, parse_day, show_error, state
from newsletter.cli.content import DateOption
from newsletter.errors import DeliveryIncomplete, NewsletterError
from newsletter.languages import DEFAULT_LANGUAGE

if TYPE_CHECKING:  # the commands import the library when they run (start-up time)
    from newsletter import delivery


def register(app: typer.Typer) -> None:
    app.command()(send)
    app.command()(run)
    app.command()(status)
    app.add_typer(bounces_app, name="bounces")


def send(
    ctx: typer.Context,
    day: DateOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compose every message; send and record nothing.")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="Send one test copy to this address only.")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help=f"Language of the test copy: {LANG_CHOICES}.")
    ] = DEFAULT_LANGUAGE,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker",
            help="Share the edition with other `send --worker` processes (PostgreSQL only).",
        ),
    ] = False,
) -> None:
    """Deliver a built edition to every active subscriber who has not had it.

    Exit codes: 0 done, 4 some recipients deferred (run again later), 5 the edition waits for
    an editor's approval (edition.require_approval), 1 error."""
    from newsletter import pipeline
    from newsletter.delivery.smtp import SmtpTransport

    s = state(ctx)
    engine = s.engine()
    when = parse_day(day, s.settings)
    if to is not None:
        with SmtpTransport(s.settings.smtp) as transport:
            address = pipeline.send_test(
                settings=s.settings, engine=engine, day=when, to=to, lang=lang, transport=transport
            )
        typer.echo(f"test copy of {when} sent to {address}")
        return
    if dry_run:
        composed = pipeline.dry_run(engine=engine, settings=s.settings, day=when)
        typer.echo(f"dry run: {composed} messages composed for {when}; nothing sent")
        return
    with _progress() as progress:
        report = pipeline.send(
            engine=engine,
            settings=s.settings,
            day=when,
            progress=progress,
            worker=worker,
            notice=_warn,
        )
    _show(report)


def run(ctx: typer.Context, day: DateOption = None) -> None:
    """What cron calls: build the day's edition if needed, then send what is left.

    Safe to run again: nobody gets an edition twice. Exit codes: 0 done, 3 nothing to send,
    4 some recipients deferred (run again later), 5 the edition waits for an editor's approval
    (edition.require_approval), 1 error."""
    from newsletter import pipeline

    s = state(ctx)
    engine, when = s.engine(), parse_day(day, s.settings)
    with _progress() as progress:
        earlier, failures = pipeline.resume_earlier(
            engine=engine, settings=s.settings, day=when, progress=progress, notice=_warn
        )
    for report in earlier:
        _show(report, last=False)
    for failure in failures:  # said at once; today's edition goes out all the same
        show_error(failure)
    try:
        with _progress() as progress:
            report = pipeline.run(
                engine=engine, settings=s.settings, day=when, progress=progress, notice=_warn
            )
    except NewsletterError as error:
        if not failures:
            raise
        show_error(error)
        raise typer.Exit(exit_code_of([*failures, error])) from error
    _show(report, left_before=sum(r.left for r in earlier), failed_before=failures)


def status(ctx: typer.Context, day: DateOption = None) -> None:
    """Show how the sending of an edition stands: deliveries by state, the rate, errors by
    reply code, the processes sending it. Safe while a send runs.

    Exit codes: 0 shown, 3 the day had nothing to send (no edition), 1 no edition yet."""
    from rich.console import Console
    from rich.table import Table

    from newsletter import pipeline
    from newsletter.store.models import DeliveryStatus

    s = state(ctx)
    edition = pipeline.progress_of(
        engine=s.engine(), settings=s.settings, day=parse_day(day, s.settings)
    )
    p = edition.progress
    console = Console()
    table = Table(title=f"Edition {edition.edition_date}: {edition.status.value}")
    for state_name in DeliveryStatus:
        table.add_column(state_name.value, justify="right")
    table.add_row(*(str(p.counts[state_name]) for state_name in DeliveryStatus))
    console.print(table)
    if p.skipped_empty:
        console.print(
            f"{p.skipped_empty} readers skipped: their edition was empty (nothing of the day "
            "in their language and sections)"
        )
    if p.first_sent_at is not None and p.last_sent_at is not None:
        span = (p.last_sent_at - p.first_sent_at).total_seconds()
        overall = p.counts[DeliveryStatus.SENT] / span if span > 0 else 0.0
        console.print(
            f"sent from {p.first_sent_at:%Y-%m-%d %H:%M:%S} to {p.last_sent_at:%H:%M:%S} UTC: "
            f"{overall:.1f} messages/s overall, {p.sent_last_minute / 60:.1f}/s in the last minute"
        )
    if p.errors:
        errors = Table(title="Deferred and failed, by reply code")
        for column in ("state", "code", "count", "a reply"):
            errors.add_column(column)
        for state_name, code, count, sample in p.errors:
            errors.add_row(
                state_name.value, "-" if code is None else str(code), str(count), sample or ""
            )
        console.print(errors)
    now = datetime.now(UTC)
    for owner, until in p.senders.items():
        alive = "lease active" if until >= now else "lease expired"
        console.print(f"sender {owner}: holds deliveries until {until:%H:%M:%S} UTC ({alive})")


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, so that stdout keeps only the report. Only on a terminal:
    elsewhere rich still ends each bar with a blank line, and cron mails any output."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    with Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("sending", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _warn(notice: str) -> None:
    typer.echo(f"Warning: {notice}", err=True)


def _show(
    report: delivery.SendReport,
    *,
    last: bool = True,
    left_before: int = 0,
    failed_before: Sequence[NewsletterError] = (),
) -> None:
    """Print a run's table; the last one of a command also says whether anything is left, and
    exits non-zero for an earlier edition that failed (its error was shown already)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Edition {report.edition_date}")
    columns = {
        "queued": report.queued,
        "sent": report.sent,
        "deferred": report.deferred,
        "failed": report.failed,
        "skipped": report.skipped,
        "bounced": report.bounced,
        "left": report.left,
    }
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*(str(n) for n in columns.values()))
    console = Console()
    console.print(table)
    if report.by_code:
        codes = ", ".join(
            f"{'connection lost' if code is None else code}: {n}"
            for code, n in report.by_code.most_common()
        )
        console.print(f"  refusals by reply code: {codes}", markup=False, highlight=False)
    if report.skipped_empty:
        console.print(
            f"  {report.skipped_empty} of the skipped readers had an empty edition (nothing of "
            "the day in their language and sections)"
        )
    for error in report.errors:
        console.print(f"  {error}", markup=False, highlight=False)
    left = report.left + left_before
    if last and left:
        raise DeliveryIncomplete(
            f"{left} recipients are left for a later run (deferred by the relay): run again later"
        )
    if last and failed_before:
        raise typer.Exit(exit_code_of(failed_before))
