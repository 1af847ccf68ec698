"""`newsletter editors ...`: who may sign in to the desk."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from newsletter.cli.common import state

app = typer.Typer(help="Manage the editors who sign in to /desk.", no_args_is_help=True)


def _password() -> str:
    """Typed twice without echo at a terminal; else the first line of standard input."""
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@app.command()
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The editor's address, used to sign in.")],
) -> None:
    """Add an editor. The password is asked for without echo, or read from standard input
    (`... | newsletter editors add EMAIL`) by scripts."""
    from newsletter.desk import accounts  # the commands import the library when they run
    from newsletter.store.db import session_scope

    engine = state(ctx).engine()
    password = _password()
    with session_scope(engine) as session:
        editor = accounts.add_editor(session=session, email=email, password=password)
        typer.echo(f"added editor {editor.email}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every editor's address and when it was added."""
    from newsletter.desk import accounts
    from newsletter.store.db import session_scope

    with session_scope(state(ctx).engine()) as session:
        for editor in accounts.list_editors(session=session):
            typer.echo(f"{editor.email}\tadded {editor.created_at:%Y-%m-%d %H:%M} UTC")


@app.command()
def remove(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="The editor to remove.")]
) -> None:
    """Remove an editor; their open desk sessions end at their next click."""
    from newsletter.desk import accounts
    from newsletter.store.db import session_scope

    with session_scope(state(ctx).engine()) as session:
        accounts.remove_editor(session=session, email=email)
    typer.echo(f"removed editor {email}")
