"""What every desk request passes: a signed-in editor, and for an action a same-origin request
carrying the page's CSRF token (`newsletter.web.security.Csrf`, shared with the public forms)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from newsletter.store.db import session_scope
from newsletter.store.models import Editor
from newsletter.web.context import Web
from newsletter.web.desk.measure import HeightMeter
from newsletter.web.desk.session import (
    FAILURES_PER_ACCOUNT,
    FAILURES_PER_CLIENT,
    FailedSignIns,
    Sessions,
)
from newsletter.web.pages import render
from newsletter.web.security import BadForm, Fields, field, read_form

DeskHandler = Callable[[Request, Editor, Fields | None], Awaitable[Response]]


@dataclass
class Desk:
    web: Web
    sessions: Sessions
    per_account: FailedSignIns
    per_client: FailedSignIns
    meter: HeightMeter

    @classmethod
    def of(cls, web: Web) -> Desk:
        return cls(
            web=web,
            sessions=Sessions(secret=web.secret, base_url=web.base_url, clock=web.clock),
            per_account=FailedSignIns(FAILURES_PER_ACCOUNT, web.clock),
            per_client=FailedSignIns(FAILURES_PER_CLIENT, web.clock),
            meter=HeightMeter(),
        )

    @property
    def root(self) -> str:
        return f"{self.web.base_url}/desk"

    def page(
        self,
        request: Request,
        template: str,
        *,
        title: str,
        editor: Editor | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        """A desk page with a fresh CSRF token for its forms (which post to the page itself)."""
        nonce, token = self.web.csrf.form_token(request)
        body = render(
            f"desk/{template}",
            title=title,
            site_name=self.web.settings.site_name,
            desk=self.root,
            editor=editor.email if editor else None,
            csrf=token,
            **context,
        )
        response = HTMLResponse(body, status_code=status_code)
        self.web.csrf.set_cookie(response, nonce)
        protect_desk(response)
        return response


def protect_desk(response: Response) -> None:
    """Nothing from elsewhere: no script at all, styles and the chart inline, the email
    preview framed from this site only, and the desk itself never framed."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"


def signed_in(desk: Desk, handler: DeskHandler) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint for `handler`: a page without a session sends the browser to the sign-in
    page, an action without one is refused; an action must also pass the site's one CSRF
    check (`Csrf.check`: the browser's word on the origin, then the page's token). Every POST
    may be the sign-out button of the page's header."""

    async def endpoint(request: Request) -> Response:
        editor = await run_in_threadpool(desk.sessions.editor, request, desk.web.engine)
        if editor is None:
            if request.method in ("GET", "HEAD"):
                return RedirectResponse(f"{desk.root}/login", status_code=303)
            raise BadForm("You are not signed in. Sign in again at the desk.", 403)
        fields: Fields | None = None
        if request.method == "POST":
            fields = await read_form(request)
            desk.web.csrf.check(request, fields)
            if field(fields, "action", max_length=40) == "signout":
                await run_in_threadpool(_sign_out, desk, editor.id)
                response = RedirectResponse(f"{desk.root}/login", status_code=303)
                desk.sessions.end(response)
                return response
        return await handler(request, editor, fields)

    return endpoint


def _sign_out(desk: Desk, editor_id: int) -> None:
    """Every session of the editor ends, not only this browser's cookie."""
    with session_scope(desk.web.engine) as session:
        editor = session.get(Editor, editor_id)
        if editor is not None:
            editor.session_epoch += 1
