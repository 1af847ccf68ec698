"""Double opt-in: the subscribe form and the confirmation link."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

import subscribers as subs
from newsletter.store.db import session_scope
from newsletter.web.context import LANG_LABELS, Endpoint, Web
from newsletter.web.mail import confirmation_message
from newsletter.web.security import BadForm, field, read_form
from subscribers.tokens import CONFIRM
from subscribers.validate import LANGS

log = logging.getLogger(__name__)

MAX_EMAIL = 320  # RFC 5321's longest path; email-validator checks the parts


def subscribe_page(web: Web) -> Endpoint:
    async def subscribe(request: Request) -> Response:
        if request.method == "GET":
            return _subscribe_form(web, request, email="", lang="en", problem=None)
        client = request.client.host if request.client else "unknown"
        wait = web.limiter.allow(client)
        if wait:
            response = web.message(
                "Too many attempts",
                "Too many subscription attempts from your network. Please try again later.",
                status_code=429,
            )
            response.headers["Retry-After"] = str(max(1, round(wait)))
            return response
        fields = await read_form(request)
        web.csrf.check(request, fields)
        email = field(fields, "email", max_length=MAX_EMAIL).strip()
        lang = field(fields, "lang", max_length=8, default="en")
        if lang not in LANGS:
            raise BadForm("Choose English or Russian.")
        try:
            subs.normalize_address(email)
        except subs.InvalidAddress as exc:
            return _subscribe_form(
                web, request, email=email, lang=lang, problem=exc.reason, status_code=400
            )
        await run_in_threadpool(_request_subscription, web, email, lang, client)
        # The same answer for new, pending, active and forgotten addresses: the page must
        # not tell a stranger who is on the list.
        return web.message(
            "Check your inbox",
            "If the address can be subscribed, a confirmation link is on its way to it. "
            "Open it to start receiving the edition.",
        )

    return subscribe


def _subscribe_form(
    web: Web,
    request: Request,
    *,
    email: str,
    lang: str,
    problem: str | None,
    status_code: int = 200,
) -> Response:
    response = web.form_page(
        request,
        "subscribe.html.j2",
        title="Subscribe",
        email=email,
        lang=lang,
        langs=list(LANG_LABELS.items()),
        max_email=MAX_EMAIL,
        problem=problem,
    )
    response.status_code = status_code
    return response


def _request_subscription(web: Web, email: str, lang: str, client: str) -> None:
    with session_scope(web.engine) as session:
        confirmation = subs.request_subscription(
            session=session,
            email=email,
            lang=lang,
            now=web.now(),
            cause=f"subscribe form, from {client}",
        )
    if confirmation is None:
        return
    link = subs.confirm_url(
        base_url=web.base_url,
        secret=web.secret,
        key=confirmation.key,
        clock=web.clock,
    )
    message = confirmation_message(
        sender=web.sender,
        to_address=confirmation.email,
        lang=confirmation.lang,
        site_name=web.settings.site_name,
        confirm_link=link,
        days=web.settings.web.confirm_days,
    )
    try:
        _send(web, message)
    except Exception:
        # Logged, not shown: an error page only for new addresses would tell who is listed.
        log.exception("confirmation email to subscriber %d failed", confirmation.subscriber_id)
        with session_scope(web.engine) as session:
            subs.confirmation_failed(session=session, subscriber_id=confirmation.subscriber_id)


def _send(web: Web, message: EmailMessage) -> None:
    with web.send_lock:  # one SMTP session, shared by the worker threads
        web.transport.send(message)


def confirm_page(web: Web) -> Endpoint:
    async def confirm(request: Request) -> Response:
        link = subs.read_timed_token(
            secret=web.secret,
            purpose=CONFIRM,
            token=request.path_params["token"],
            max_age=timedelta(days=web.settings.web.confirm_days),
            clock=web.clock,
        )
        outcome, key = await run_in_threadpool(_run_confirm, web, link)
        if outcome is subs.Confirmed.GONE or key is None:
            return web.message(
                "Link no longer valid",
                "This address left the list after the link was sent. To subscribe again, "
                "fill in the form once more.",
                status_code=410,
                link=f"{web.base_url}/subscribe",
                link_text="Subscribe",
            )
        preferences = subs.preferences_url(base_url=web.base_url, secret=web.secret, key=key)
        return web.message(
            "You are subscribed",
            "Thank you: the next edition will come to your inbox.",
            link=preferences,
            link_text="Choose your language and sections",
        )

    return confirm


def _run_confirm(web: Web, link: subs.Link) -> tuple[subs.Confirmed, str | None]:
    """The outcome, and the link key of the subscriber confirmed (None: their row is gone)."""
    with session_scope(web.engine) as session:
        subscriber = subs.subscriber_for_link(session=session, link=link)
        if subscriber is None:
            return subs.Confirmed.GONE, None
        outcome = subs.confirm(
            session=session, subscriber_id=subscriber.id, now=web.now(), cause="confirmation link"
        )
        return outcome, subscriber.link_key
