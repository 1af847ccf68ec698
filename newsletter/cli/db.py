"""`newsletter db ...`: schema management."""

from __future__ import annotations

import typer

from newsletter.cli.common import state

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Create the schema, or migrate it to this version's."""
    from newsletter.store.migrate import upgrade

    engine = state(ctx).engine(migrated=False)
    before, after = upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before is None:
        typer.echo(f"schema created: {where} (revision {after})")
    elif before == after:
        typer.echo(f"schema is up to date: {where} (revision {after})")
    else:
        typer.echo(f"schema migrated from revision {before} to {after}: {where}")
