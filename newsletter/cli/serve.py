"""`newsletter serve`: the subscription pages and the archive, through uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.common import state


def register(app: typer.Typer) -> None:
    app.command()(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)
    ] = 8000,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses of reverse proxies whose X-Forwarded-For is "
            "trusted (for the per-client rate limit).",
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve the subscribe, confirm, unsubscribe, preferences and archive pages."""
    import uvicorn

    from newsletter.web import create_app

    s = state(ctx)
    app = create_app(settings=s.settings, engine=s.engine())
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        log_level="info",
    )
