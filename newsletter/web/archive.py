"""The archive of sent editions ("view in browser"), rendered from the stored snapshot of each
edition, so a page reads as the email did."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from newsletter.config import Settings
from newsletter.edition import content_of
from newsletter.languages import DEFAULT_LANGUAGE, LANGUAGES
from newsletter.links import UNSUBSCRIBE_PAGE
from newsletter.render import personalize, render_edition
from newsletter.select import parse_day
from newsletter.store.db import session_scope
from newsletter.store.models import Delivery, DeliveryStatus, Edition, EditionStatus

PageMaker = Callable[..., HTMLResponse]
_CACHED = 32  # rendered pages kept; MJML takes a good part of a second per page
# "View in browser" must work from the first message out, not only once the last one is; and
# never before: an edition nobody has received may still be built again, or never go out.
_LIVE = (EditionStatus.SENDING, EditionStatus.SENT)
_PUBLISHED = (
    select(Delivery.id)
    .where(Delivery.edition_id == Edition.id, Delivery.status == DeliveryStatus.SENT)
    .exists()
)


def sent_editions(*, session: Session) -> Sequence[Edition]:
    """Editions someone has received, newest first."""
    return session.scalars(
        select(Edition)
        .where(Edition.status.in_(_LIVE), _PUBLISHED)
        .order_by(Edition.edition_date.desc())
    ).all()


def sent_edition(*, session: Session, day: date) -> Edition | None:
    return session.scalars(
        select(Edition)
        .where(Edition.edition_date == day, Edition.status.in_(_LIVE), _PUBLISHED)
        .options(selectinload(Edition.items))
    ).one_or_none()


def index(page: PageMaker, engine: Engine) -> Callable[[Request], Any]:
    def listing() -> list[dict[str, str]]:
        with session_scope(engine) as session:
            return [
                {"date": e.edition_date.isoformat(), "subject": e.subject}
                for e in sent_editions(session=session)
            ]

    async def archive(request: Request) -> Response:
        editions = await run_in_threadpool(listing)
        return page("archive.html.j2", title="Archive", editions=editions)

    return archive


def edition_page(page: PageMaker, engine: Engine, settings: Settings) -> Callable[[Request], Any]:
    base_url = settings.require_base_url()
    cache: OrderedDict[tuple[date, str], str] = OrderedDict()
    lock = threading.Lock()

    def rendered(day: date, lang: str) -> str | None:
        with lock:
            if (day, lang) in cache:
                cache.move_to_end((day, lang))
                return cache[(day, lang)]
        with session_scope(engine) as session:
            edition = sent_edition(session=session, day=day)
            content = None if edition is None else content_of(edition, settings)
        if content is None:
            return None  # not cached: the edition may be sent later today
        # Everything of the day in that language: the page emails link to for what did not
        # fit under the clipping limit.
        edition_html = render_edition(
            content,
            lang=lang,
            site_name=settings.site_name,
            base_url=base_url,
            shape=settings.edition,
            max_bytes=None,
        )
        # No reader here: the footer's links lead to the pages that explain where to find
        # one's own links.
        html, _ = personalize(edition_html, unsubscribe_url=f"{base_url}{UNSUBSCRIBE_PAGE}")
        with lock:
            cache[(day, lang)] = html
            while len(cache) > _CACHED:
                cache.popitem(last=False)
        return html

    async def edition(request: Request) -> Response:
        try:
            day = parse_day(request.path_params["day"])  # one spelling per edition's address
        except ValueError:
            return _not_found(page)
        lang = request.query_params.get("lang", DEFAULT_LANGUAGE)
        if lang not in LANGUAGES:
            lang = DEFAULT_LANGUAGE
        html = await run_in_threadpool(rendered, day, lang)
        if html is None:
            return _not_found(page)
        response = HTMLResponse(html)
        # The edition's own HTML: inline styles and the articles' images, still no scripts.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
            "frame-ancestors 'none'"
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return edition


def _not_found(page: PageMaker) -> Response:
    return page(
        "message.html.j2",
        title="Not found",
        text="No edition was sent on that day.",
        status_code=404,
        error=True,
        link=None,
        link_text="",
    )
