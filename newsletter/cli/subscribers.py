"""`newsletter subscribers ...`: the operator's view of the list."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from newsletter.cli.common import LANG_CHOICES, state
from newsletter.errors import NewsletterError
from newsletter.languages import DEFAULT_LANGUAGE

if TYPE_CHECKING:  # the commands import the library when they run (start-up time)
    from sqlalchemy.orm import Session

    import subscribers as subs

app = typer.Typer(help="Manage subscribers.", no_args_is_help=True)


@app.command()
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Address to subscribe.")],
    name: Annotated[str | None, typer.Option("--name", help="Name shown in To:.")] = None,
    lang: Annotated[
        str, typer.Option("--lang", help=f"Edition language: {LANG_CHOICES}.")
    ] = DEFAULT_LANGUAGE,
) -> None:
    """Add one active subscriber (the operator vouches for their consent)."""
    import subscribers as subs
    from newsletter.store.db import session_scope

    with session_scope(state(ctx).engine()) as session:
        subscriber = subs.add_subscriber(session=session, email=email, name=name, lang=lang)
        typer.echo(f"added {subscriber.email} ({subscriber.lang})")


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header row: email and optionally name, lang, status, created_at, "
            "confirmed_at, unsubscribed_at, sections (as export writes them).",
            exists=True,
            dir_okay=False,
        ),
    ],
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Import the valid rows and write the invalid ones to a file."
        ),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Where --skip-invalid writes the invalid rows (default: FILE.rejects.csv).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Import a CSV file: every row is checked first, and one bad row stores nothing."""
    import subscribers as subs
    from newsletter.store.db import session_scope

    if rejects is not None and not skip_invalid:
        raise typer.BadParameter("--rejects goes with --skip-invalid", param_hint="--rejects")
    target = rejects or path.with_name(f"{path.stem}.rejects.csv")
    try:
        with session_scope(state(ctx).engine()) as session, _progress("checking") as progress:
            report = subs.import_csv(
                session=session, path=path, skip_invalid=skip_invalid, progress=progress
            )
            if report.rejected:  # written before the commit: no import without its rejects
                _write_rejects(target, report.rejected)
    except subs.ImportRejected as exc:
        # The report on stdout, like a linter's findings; the one `Error:` line on stderr.
        for p in exc.problems:
            typer.echo(f"{path}: line {p.line}: {p.value!r}: {p.reason}")
        raise
    typer.echo(
        f"{path}: {report.added} added, {report.already_present} already on the list, "
        f"{report.suppressed} forgotten on request (skipped)"
    )
    if report.rejected:
        typer.echo(f"{len(report.rejected)} invalid rows skipped, written to {target}")


def _write_rejects(target: Path, problems: tuple[subs.RowProblem, ...]) -> None:
    import subscribers as subs

    try:
        with target.open("w", encoding="utf-8", newline="") as handle:
            subs.write_rejects(problems, handle)
    except OSError as exc:
        raise NewsletterError(
            f"{target}: cannot write the rejected rows ({exc.strerror}); nothing was imported"
        ) from exc


@app.command()
def export(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="A backup for `subscribers restore` (JSON Lines): ids, link keys, states, "
            "history and the suppression list, so every link already mailed keeps working.",
        ),
    ] = False,
) -> None:
    """Write every subscriber as CSV, with state and dates; or, with --full, a backup."""
    from newsletter.store.db import session_scope

    with session_scope(state(ctx).engine()) as session:
        if out is None:
            _export(session, sys.stdout, full=full)
            return
        with out.open("w", encoding="utf-8", newline="") as handle:
            what = _export(session, handle, full=full)
    typer.echo(f"{what} written to {out}", err=True)


def _export(session: Session, handle: TextIO, *, full: bool) -> str:
    import subscribers as subs

    if not full:
        return f"{subs.export_csv(session=session, out=handle)} subscribers"
    counts = subs.write_backup(session=session, out=handle)
    return _counted(counts)


def _counted(counts: subs.BackupCounts) -> str:
    return (
        f"{counts.subscribers} subscribers, {counts.events} history entries, "
        f"{counts.suppressions} suppressed addresses"
    )


@app.command()
def restore(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="A backup written by `subscribers export --full`.", exists=True, dir_okay=False
        ),
    ],
) -> None:
    """Put a backup back into a database without subscribers: same ids, link keys, states,
    history and suppression list. The whole file or nothing."""
    import subscribers as subs
    from newsletter.store.db import session_scope

    with session_scope(state(ctx).engine()) as session, _progress("checking") as progress:
        counts = subs.restore_backup(session=session, path=path, progress=progress)
    typer.echo(f"{path}: restored {_counted(counts)}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Show each address with its language and state."""
    from newsletter.store import queries
    from newsletter.store.db import session_scope

    with session_scope(state(ctx).engine()) as session:
        for subscriber in queries.list_subscribers(session=session):
            name = f" ({subscriber.name})" if subscriber.name else ""
            typer.echo(f"{subscriber.email}{name}\t{subscriber.lang}\t{subscriber.status.value}")


@app.command()
def history(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="Address to look up.")]
) -> None:
    """Show every state change of one subscriber, with its time and cause."""
    from newsletter.store import queries
    from newsletter.store.db import session_scope
    from subscribers.queries import history_of

    with session_scope(state(ctx).engine()) as session:
        subscriber = queries.get_subscriber(session=session, email=email.strip())
        if subscriber is None:
            raise NewsletterError(f"no subscriber with the address {email.strip()!r}")
        for event in history_of(session=session, subscriber_id=subscriber.id):
            old = event.old_status.value if event.old_status else "-"
            when = event.at.isoformat(timespec="seconds")
            typer.echo(f"{when}\t{old} -> {event.new_status.value}\t{event.cause}")


@app.command()
def remove(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="Address to stop mailing.")]
) -> None:
    """Unsubscribe an address; its row and history stay (see forget)."""
    import subscribers as subs
    from newsletter.store.db import session_scope

    with session_scope(state(ctx).engine()) as session:
        changed = subs.remove_subscriber(session=session, email=email)
    typer.echo(f"unsubscribed {email}" if changed else f"{email} was not being mailed already")


@app.command()
def forget(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="Address to erase.")]
) -> None:
    """Erase a person's data, keeping only a hash of the address so it is never mailed again."""
    import subscribers as subs
    from newsletter.store.db import session_scope

    with session_scope(state(ctx).engine()) as session:
        done = subs.forget(session=session, email=email)
    erased = "erased" if done.erased else "not on the list"
    suppressed = "suppressed" if done.newly_suppressed else "already suppressed"
    typer.echo(f"{done.address}: {erased}, {suppressed}")


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr when it is a terminal, so that stdout keeps only the report and
    logs get no bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
