"""Double opt-in: the subscribe form and the confirmation link."""

from __future__ import annotations

from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

import subscribers as subs
from newsletter.languages import DEFAULT_LANGUAGE, ENGLISH_NAMES, LANGUAGES, OWN_NAMES
from newsletter.store.db import session_scope
from newsletter.web.confirmations import enqueue
from newsletter.web.context import Endpoint, Web
from newsletter.web.security import BadForm, client_key, field, read_form
from subscribers.tokens import CONFIRM

MAX_EMAIL = 320  # RFC 5321's longest path; email-validator checks the parts


def subscribe_page(web: Web) -> Endpoint:
    async def subscribe(request: Request) -> Response:
        if request.method != "POST":  # GET, and HEAD with it: never acts, never counts
            return _subscribe_form(web, request, email="", lang=DEFAULT_LANGUAGE, problem=None)
        client = client_key(request, web.trusted_proxies)
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
        lang = field(fields, "lang", max_length=8, default=DEFAULT_LANGUAGE)
        if lang not in LANGUAGES:
            raise BadForm(f"Choose {' or '.join(ENGLISH_NAMES.values())}.")
        try:
            subs.normalize_address(email)
        except subs.InvalidAddress as exc:
            return _subscribe_form(
                web, request, email=email, lang=lang, problem=exc.reason, status_code=400
            )
        # The same work and the same answer for new, pending, active and forgotten addresses:
        # one stored request, taken in and mailed by the background sender. The page must not
        # tell a stranger who is on the list, by its words or by its time.
        await run_in_threadpool(
            enqueue,
            engine=web.engine,
            email=email,
            lang=lang,
            cause=f"subscribe form, from {client}",
            now=web.now(),
        )
        web.confirmations.wake()
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
        langs=list(OWN_NAMES.items()),
        max_email=MAX_EMAIL,
        problem=problem,
    )
    response.status_code = status_code
    return response


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
