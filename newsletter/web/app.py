"""The ASGI app of `newsletter serve`: subscribe with double opt-in, confirm, unsubscribe (also
RFC 8058 one-click), preferences, and the archive of sent editions.

Pages link to each other through NEWSLETTER_BASE_URL and post forms to their own address, so the
app works unchanged behind a reverse proxy that serves it under a path; redirects are built from
that base URL too, never from the request's Host header. The confirmation queue's background
sender runs for as long as the app does (its lifespan)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

import subscribers as subs
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.links import CONFIRM_PAGE, PREFERENCES_PAGE, UNSUBSCRIBE_PAGE
from newsletter.web import archive, desk
from newsletter.web.account import link_help, preferences_page, unsubscribe_page
from newsletter.web.confirmations import ConfirmationSender
from newsletter.web.context import Endpoint, Web
from newsletter.web.security import AttemptLimit, BadForm, Csrf, proxy_networks
from newsletter.web.subscribe import confirm_page, subscribe_page

log = logging.getLogger(__name__)


def create_app(
    *,
    settings: Settings,
    engine: Engine,
    clock: Callable[[], float] = time.time,
    rate_clock: Callable[[], float] = time.monotonic,
    trusted_proxies: Sequence[str] = (),
) -> Starlette:
    """The app on `engine`. `trusted_proxies`: addresses of reverse proxies whose X-Forwarded-For
    names the client (none by default). Tests pass a `clock` to make links expire."""
    secret = settings.require_secret_key()
    base_url = settings.require_base_url()
    web = Web(
        settings=settings,
        engine=engine,
        confirmations=ConfirmationSender(
            settings=settings,
            engine=engine,
            secret=secret,
            base_url=base_url,
            sender=settings.require_from(),
            clock=clock,
        ),
        clock=clock,
        limiter=AttemptLimit(settings.web.subscribe_per_hour, rate_clock),
        trusted_proxies=proxy_networks(trusted_proxies),
        csrf=Csrf(secret=secret, base_url=base_url, clock=clock),
        secret=secret,
        base_url=base_url,
    )
    routes = [
        Route("/", _home(web), methods=["GET"]),
        Route("/subscribe", subscribe_page(web), methods=["GET", "POST"]),
        Route(f"{CONFIRM_PAGE}/{{token}}", confirm_page(web), methods=["GET"]),
        Route(UNSUBSCRIBE_PAGE, link_help(web, "Unsubscribe"), methods=["GET"]),
        Route(f"{UNSUBSCRIBE_PAGE}/{{token}}", unsubscribe_page(web), methods=["GET", "POST"]),
        Route(PREFERENCES_PAGE, link_help(web, "Preferences"), methods=["GET"]),
        Route(f"{PREFERENCES_PAGE}/{{token}}", preferences_page(web), methods=["GET", "POST"]),
        Route("/archive", archive.index(web.page, engine), methods=["GET"]),
        Route("/archive/{day}", archive.edition_page(web.page, engine, settings), methods=["GET"]),
        *desk.routes(web),
    ]
    handlers: dict[Any, Callable[..., Any]] = {
        HTTPException: _http_error(web),
        subs.ExpiredToken: _token_error(web),
        subs.InvalidToken: _token_error(web),
        BadForm: _bad_form(web),
        Exception: _server_error(web),
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=_lifespan(web))
    # Starlette's own trailing-slash redirect names the Host header's host: ours names the
    # base URL (see _http_error).
    app.router.redirect_slashes = False
    return app


def _lifespan(web: Web) -> Callable[[Starlette], Any]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        web.confirmations.start()
        try:
            yield
        finally:
            await run_in_threadpool(web.confirmations.stop)

    return lifespan


def _home(web: Web) -> Endpoint:
    async def home(request: Request) -> Response:
        return web.message(
            web.settings.site_name,
            "The daily edition of the site's news and forum discussions.",
            link=f"{web.base_url}/subscribe",
            link_text="Subscribe",
        )

    return home


def _token_error(web: Web) -> Callable[[Request, Exception], Any]:
    async def token_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, subs.ExpiredToken):
            return web.message(
                "Link expired",
                "This link has expired. Fill in the subscription form again to get a new one.",
                status_code=410,
                link=f"{web.base_url}/subscribe",
                link_text="Subscribe",
            )
        return web.message(
            "Link not valid",
            "This link is not valid: it may have been cut short or changed. Copy the whole "
            "link from the email and try again.",
            status_code=400,
        )

    return token_error


def _bad_form(web: Web) -> Callable[[Request, Exception], Any]:
    async def bad_form(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadForm)
        return web.message("Cannot accept the form", exc.reason, status_code=exc.status_code)

    return bad_form


def _http_error(web: Web) -> Callable[[Request, Exception], Any]:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            moved = _without_slash(request)
            if moved is not None:
                query = f"?{request.url.query}" if request.url.query else ""
                return RedirectResponse(f"{web.base_url}{moved}{query}", status_code=307)
            return web.message("Not found", "There is no page here.", status_code=404)
        response = web.message("Error", str(exc.detail), status_code=exc.status_code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    return http_error


def _without_slash(request: Request) -> str | None:
    """The path without its trailing slash, if a page answers there."""
    path = request.url.path
    if path == "/" or not path.endswith("/"):
        return None
    stripped = path.rstrip("/") or "/"
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.fullmatch(stripped):
            return stripped
    return None


def _server_error(web: Web) -> Callable[[Request, Exception], Any]:
    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("error on %s %s", request.method, request.url.path, exc_info=exc)
        text = "Something went wrong on our side. Please try again later."
        if isinstance(exc, NewsletterError):
            text = "The service is not available right now. Please try again later."
        return web.message("Error", text, status_code=500)

    return server_error


__all__ = ["create_app"]
