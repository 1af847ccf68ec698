"""What every page handler shares: the settings, the database, the confirmation queue's sender
and clocks, and the way pages are made (escaped templates, protective headers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from newsletter.config import Settings
from newsletter.web.confirmations import ConfirmationSender
from newsletter.web.pages import render
from newsletter.web.security import AttemptLimit, Csrf, IPNetwork

Endpoint = Callable[[Request], Any]


@dataclass
class Web:
    """The app's state, handed to each handler when the routes are made."""

    settings: Settings
    engine: Engine
    confirmations: ConfirmationSender
    clock: Callable[[], float]
    limiter: AttemptLimit
    trusted_proxies: tuple[IPNetwork, ...]
    csrf: Csrf
    secret: str
    base_url: str

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def page(
        self, template: str, *, title: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        body = render(
            template,
            title=title,
            site_name=self.settings.site_name,
            base_url=self.base_url,
            **context,
        )
        response = HTMLResponse(body, status_code=status_code)
        protect(response)
        return response

    def message(
        self, title: str, text: str, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("link", None)
        context.setdefault("link_text", "")
        return self.page(
            "message.html.j2",
            title=title,
            text=text,
            status_code=status_code,
            error=status_code >= 400,
            **context,
        )

    def form_page(self, request: Request, template: str, *, title: str, **context: Any) -> Response:
        cookie, token = self.csrf.form_token(request)
        response = self.page(template, title=title, csrf=token, **context)
        self.csrf.set_cookie(response, cookie)
        return response


def protect(response: Response) -> None:
    """No scripts, no framing, no Referer: page addresses carry personal tokens."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
