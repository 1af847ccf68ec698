"""A subscriber's own pages, reached through the signed links in every email: unsubscribe
(also RFC 8058 one-click) and preferences."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

import subscribers as subs
from newsletter.languages import DEFAULT_LANGUAGE, OWN_NAMES
from newsletter.store.db import session_scope
from newsletter.store.models import Subscriber, SubscriberStatus
from newsletter.store.queries import tags_published_since
from newsletter.web.context import Endpoint, Web
from newsletter.web.security import BadForm, field, read_form
from subscribers.tokens import PREFERENCES, UNSUBSCRIBE

SECTIONS_FROM = timedelta(days=180)  # tags of articles this recent are offered as sections
_MAX_TAG = 100


def unsubscribe_page(web: Web) -> Endpoint:
    async def unsubscribe(request: Request) -> Response:
        link = subs.read_token(
            secret=web.secret, purpose=UNSUBSCRIBE, token=request.path_params["token"]
        )
        if link.test:
            return _test_copy(web, "unsubscribe the reader of a real edition")
        if request.method != "POST":  # GET, and HEAD with it
            subscriber = await run_in_threadpool(_subscriber, web, link)
            if subscriber is None or not _mailed(subscriber):
                return _unsubscribed(web)
            return web.page("unsubscribe.html.j2", title="Unsubscribe", email=subscriber.email)
        # RFC 8058: a POST carrying List-Unsubscribe=One-Click, from a mail client or from the
        # page's button; no CSRF token, as the signed link is the credential.
        fields = await read_form(request)
        if field(fields, "List-Unsubscribe", max_length=20) != "One-Click":
            raise BadForm("Expected the form field List-Unsubscribe=One-Click.")
        via = field(fields, "via", max_length=10)
        cause = "unsubscribe page" if via == "page" else "one-click unsubscribe (mail client)"
        await run_in_threadpool(_run_unsubscribe, web, link, cause)
        return _unsubscribed(web)

    return unsubscribe


def _test_copy(web: Web, action: str) -> Response:
    """What a test copy's link answers (`send --to`): it names nobody, so it changes nothing."""
    return web.message(
        "This is a test copy",
        f"This link comes from a test copy of the edition. In a subscriber's copy it would "
        f"{action}; here nothing was changed.",
    )


def _mailed(subscriber: Subscriber) -> bool:
    return subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE)


def _unsubscribed(web: Web) -> Response:
    return web.message(
        "You are unsubscribed",
        "This address gets no more editions. Changed your mind? Subscribe again at any time.",
        link=f"{web.base_url}/subscribe",
        link_text="Subscribe",
    )


def _subscriber(web: Web, link: subs.Link) -> Subscriber | None:
    with session_scope(web.engine) as session:
        return subs.subscriber_for_link(session=session, link=link)


def _run_unsubscribe(web: Web, link: subs.Link, cause: str) -> None:
    with session_scope(web.engine) as session:
        subscriber = subs.subscriber_for_link(session=session, link=link)
        if subscriber is not None:  # erased: already never mailed
            subs.unsubscribe(
                session=session, subscriber_id=subscriber.id, now=web.now(), cause=cause
            )


def preferences_page(web: Web) -> Endpoint:
    async def preferences(request: Request) -> Response:
        token = request.path_params["token"]
        link = subs.read_token(secret=web.secret, purpose=PREFERENCES, token=token)
        if link.test:
            return _test_copy(web, "open that reader's language and sections")
        saved = False
        if request.method == "POST":
            fields = await read_form(request)
            web.csrf.check(request, fields)
            lang = field(fields, "lang", max_length=8, default=DEFAULT_LANGUAGE)
            # An unticked checkbox sends nothing: absent is "no".
            other_languages = field(fields, "other_languages", max_length=3) == "yes"
            chosen = fields.get("sections", [])
            if any(len(tag) > _MAX_TAG for tag in chosen):
                raise BadForm(f"A section name is longer than {_MAX_TAG} characters.")
            try:
                stored = await run_in_threadpool(
                    _save_preferences, web, link, lang, chosen, other_languages
                )
            except subs.InvalidValue as exc:
                raise BadForm(f"Cannot save these preferences: {exc.reason}.") from None
            saved = stored is not None
        subscriber = await run_in_threadpool(_subscriber, web, link)
        if subscriber is None:
            return web.message(
                "Link no longer valid",
                "This address is no longer on the list.",
                status_code=410,
                link=f"{web.base_url}/subscribe",
                link_text="Subscribe",
            )
        offered = await run_in_threadpool(_sections_for, web, subscriber)
        return web.form_page(
            request,
            "preferences.html.j2",
            title="Preferences",
            email=subscriber.email,
            status=subscriber.status.value,
            lang=subscriber.lang,
            langs=list(OWN_NAMES.items()),
            offered=offered,
            chosen=set(subscriber.sections),
            other_languages=subscriber.other_languages,
            saved=saved,
            unsubscribe_link=subs.unsubscribe_url(
                base_url=web.base_url, secret=web.secret, key=subscriber.link_key
            ),
        )

    return preferences


def _sections_for(web: Web, subscriber: Subscriber) -> list[str]:
    with session_scope(web.engine) as session:
        return _offered(web, session, subscriber)


def _offered(web: Web, session: Session, subscriber: Subscriber) -> list[str]:
    """The configured sections, else the tags of recent articles; plus what they chose before,
    so that an old choice can still be seen and unticked."""
    offered = list(web.settings.web.sections) or tags_published_since(
        session=session, since=web.now() - SECTIONS_FROM
    )
    return sorted(set(offered) | set(subscriber.sections))


def _save_preferences(
    web: Web, link: subs.Link, lang: str, chosen: list[str], other_languages: bool
) -> Subscriber | None:
    with session_scope(web.engine) as session:
        subscriber = subs.subscriber_for_link(session=session, link=link)
        if subscriber is None:
            return None
        return subs.update_preferences(
            session=session,
            subscriber_id=subscriber.id,
            lang=lang,
            sections=chosen,
            offered=_offered(web, session, subscriber),
            other_languages=other_languages,
        )


def link_help(web: Web, title: str) -> Endpoint:
    async def link_help(request: Request) -> Response:
        return web.message(
            title,
            "Use the link at the bottom of any edition you received: it is your own.",
        )

    return link_help
