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
            help="Comma-separated addresses (or networks) of reverse proxies whose "
            "X-Forwarded-For names the client, for the per-client rate limit; none by default. "
            "Behind nginx on the same machine: 127.0.0.1.",
        ),
    ] = "",
) -> None:
    """Serve the subscribe, confirm, unsubscribe, preferences and archive pages, and send the
    confirmation emails they queue."""
    import uvicorn

    from newsletter.web import create_app
    from newsletter.web.security import proxy_networks

    s = state(ctx)
    try:
        trusted = proxy_networks(forwarded_allow_ips.split(","))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--forwarded-allow-ips") from None
    app = create_app(
        settings=s.settings,
        engine=s.engine(),
        trusted_proxies=[str(network) for network in trusted],
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        # The app reads X-Forwarded-For itself, from the proxies named here only, and builds
        # every address it shows from NEWSLETTER_BASE_URL: uvicorn's rewriting stays off.
        proxy_headers=False,
        server_header=False,
        log_level="info",
    )
