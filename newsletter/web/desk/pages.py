"""The desk's pages. Handlers parse the request, call one function of `newsletter.desk` in a
worker thread and render a template; forms post to their own page, which answers with the
page again and a line saying what happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from newsletter.delivery.compose import Messages
from newsletter.delivery.smtp import SmtpTransport
from newsletter.desk import actions, audit, overview
from newsletter.desk.accounts import check_password
from newsletter.edition import content_of, require_edition
from newsletter.edition.choices import article_sentences, stored_choice
from newsletter.errors import NewsletterError
from newsletter.languages import ENGLISH_NAMES, LANGUAGES
from newsletter.render import MAX_HTML_BYTES, RenderedEdition, personalize
from newsletter.render.shape import reader_edition
from newsletter.store.db import session_scope
from newsletter.store.models import Article, EditionStatus, Editor, ItemKind
from newsletter.store.queries import get_edition
from newsletter.web.context import Web
from newsletter.web.desk.chart import delivery_chart
from newsletter.web.desk.guard import Desk, signed_in
from newsletter.web.desk.measure import PHONE_HEIGHT, PHONE_WIDTH
from newsletter.web.security import BadForm, Fields, client_key, field, read_form

GMAIL_CLIPS = 102 * 1024  # about where Gmail cuts a message's HTML
VIEWS = {"desktop": 640, "phone": PHONE_WIDTH}  # preview frame widths in CSS pixels
MAX_EMAIL = 320
CALENDAR_BACK = 14  # days before today; older editions are listed below them
MAX_URL = 2048


def routes(web: Web) -> list[Route]:
    desk = Desk.of(web)
    return [
        Route("/desk", signed_in(desk, _calendar(desk)), methods=["GET", "POST"]),
        Route("/desk/login", _login(desk), methods=["GET", "POST"]),
        Route("/desk/edition/{day}", signed_in(desk, _edition(desk)), methods=["GET", "POST"]),
        Route("/desk/edition/{day}/email", signed_in(desk, _email(desk)), methods=["GET"]),
        Route(
            "/desk/edition/{day}/delivery",
            signed_in(desk, _delivery(desk)),
            methods=["GET", "POST"],
        ),
    ]


def _login(desk: Desk) -> Any:
    async def login(request: Request) -> Response:
        if request.method == "GET":
            return desk.page(request, "login.html.j2", title="Sign in", editor=None, problem=None)
        fields = await read_form(request)
        desk.web.csrf.check(request, fields)
        email = field(fields, "email", max_length=MAX_EMAIL).strip().lower()
        password = field(fields, "password", max_length=1000)
        client = client_key(request, desk.web.trusted_proxies)
        wait = max(desk.per_account.wait(email), desk.per_client.wait(client))
        if wait:
            response = desk.page(
                request,
                "login.html.j2",
                title="Sign in",
                editor=None,
                status_code=429,
                problem="Too many wrong attempts. Wait a quarter of an hour and try again.",
            )
            response.headers["Retry-After"] = str(round(wait))
            return response
        editor = await run_in_threadpool(_check, desk, email, password)
        if editor is None:
            desk.per_account.failed(email)
            desk.per_client.failed(client)
            return desk.page(
                request,
                "login.html.j2",
                title="Sign in",
                editor=None,
                status_code=403,
                problem="The address or the password is wrong.",
            )
        response = RedirectResponse(f"{desk.root}", status_code=303)
        desk.sessions.start(response, editor)
        return response

    return login


def _check(desk: Desk, email: str, password: str) -> Editor | None:
    with session_scope(desk.web.engine) as session:
        editor = check_password(session=session, email=email, password=password)
        if editor is not None:
            session.flush()
            session.expunge(editor)
        return editor


def _calendar(desk: Desk) -> Any:
    async def calendar(request: Request, editor: Editor, fields: Fields | None) -> Response:
        settings = desk.web.settings
        today = datetime.now(settings.timezone).date()
        first, last = today - timedelta(days=CALENDAR_BACK), today + timedelta(days=2)
        days = await run_in_threadpool(
            lambda: overview.calendar(
                engine=desk.web.engine, settings=settings, first=first, last=last
            )
        )
        earlier = await run_in_threadpool(
            lambda: overview.earlier_editions(engine=desk.web.engine, before=first)
        )
        return desk.page(
            request,
            "calendar.html.j2",
            title="Editions",
            editor=editor,
            days=days,
            earlier=earlier,
            today=today,
            require_approval=settings.edition.require_approval,
        )

    return calendar


def _day(request: Request) -> date:
    try:
        return date.fromisoformat(request.path_params["day"])
    except ValueError:
        raise HTTPException(404) from None


def _choose(request: Request, name: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get(name, allowed[0])
    return value if value in allowed else allowed[0]


@dataclass(frozen=True)
class ItemRow:
    """One article of the chosen language as the desk lists it."""

    url: str
    title: str
    place: int
    top: bool
    folded_under: str | None
    pinned: bool
    moved: int
    chosen: bool
    sentences: tuple[tuple[str, bool], ...]


def _edition(desk: Desk) -> Any:
    async def edition(request: Request, editor: Editor, fields: Fields | None) -> Response:
        day = _day(request)
        lang = _choose(request, "lang", LANGUAGES)
        view = _choose(request, "view", tuple(VIEWS))
        notice, problem = None, None
        if fields is not None:
            try:
                notice = await run_in_threadpool(_act, desk, day, editor.email, fields)
            except NewsletterError as exc:
                problem = str(exc)
        if not await run_in_threadpool(_built, desk, day):
            return desk.page(
                request,
                "unbuilt.html.j2",
                title=f"Edition of {day.isoformat()}",
                editor=editor,
                day=day,
                problem=problem,
            )
        context = await run_in_threadpool(_edition_context, desk, day, lang, view)
        return desk.page(
            request,
            "edition.html.j2",
            title=f"Edition of {day.isoformat()}",
            editor=editor,
            notice=notice,
            problem=problem,
            **context,
        )

    return edition


def _built(desk: Desk, day: date) -> bool:
    with session_scope(desk.web.engine) as session:
        return get_edition(session=session, edition_date=day) is not None


def _act(desk: Desk, day: date, who: str, fields: Fields) -> str:
    """Carry out one form of the edition page; what to tell the editor."""
    engine, settings = desk.web.engine, desk.web.settings
    action = field(fields, "action", max_length=40)
    if action in actions.ITEM_ACTIONS:
        url = field(fields, "url", max_length=MAX_URL)
        chosen = tuple(fields.get("sentence", []))
        actions.change_item(
            engine=engine,
            settings=settings,
            day=day,
            url=url,
            editor=who,
            action=action,
            sentences=chosen,
        )
        return _DONE[action]
    if action == "edition":
        actions.change_edition(
            engine=engine,
            settings=settings,
            day=day,
            editor=who,
            subjects={
                lang: field(fields, f"subject_{lang}", max_length=actions.MAX_SUBJECT * 2)
                for lang in LANGUAGES
            },
            note=field(fields, "note", max_length=actions.MAX_NOTE * 2),
        )
        return "Subjects and note saved."
    if action == "build":
        actions.build_draft(engine=engine, settings=settings, day=day, editor=who)
        return "The draft is built again with the day's latest articles; your changes are kept."
    if action == "approve":
        actions.approve(engine=engine, day=day, editor=who)
        return "Approved. The edition goes out at the next scheduled run."
    if action == "withdraw":
        actions.withdraw(engine=engine, day=day, editor=who)
        return "Approval withdrawn: the edition is a draft again."
    if action == "test":
        to = field(fields, "to", max_length=MAX_EMAIL).strip()
        langs = tuple(lang for lang in fields.get("test_lang", []) if lang in LANGUAGES)
        if not langs:
            raise actions.DeskError("tick at least one language for the test copy")
        with SmtpTransport(settings.smtp) as transport:
            copies = actions.send_test_copies(
                engine=engine,
                settings=settings,
                day=day,
                to=to,
                langs=langs,
                editor=who,
                transport=transport,
            )
        return " ".join(
            f"{ENGLISH_NAMES[c.lang]} copy to {c.address}: accepted, the mail server answered "
            f"“{c.reply}”."
            if c.accepted
            else f"{ENGLISH_NAMES[c.lang]} copy to {c.address}: not sent: {c.reply}."
            for c in copies
        )
    raise BadForm("Unknown action.")


_DONE = {
    "pin": "Pinned to the top stories.",
    "unpin": "Unpinned: the ranking places it again.",
    "exclude": "Left out of the edition.",
    "include": "Put back into the edition.",
    "up": "Moved up.",
    "down": "Moved down.",
    "sentences": "Blurb sentences saved.",
}


def _edition_context(desk: Desk, day: date, lang: str, view: str) -> dict[str, Any]:
    settings = desk.web.settings
    with session_scope(desk.web.engine) as session:
        edition = require_edition(session=session, day=day)
        content = content_of(edition, settings)
        stored = stored_choice(session=session, day=day)
        items = [i for i in edition.items if i.kind is ItemKind.ARTICLE]
        bodies = {
            a.url: a.body
            for a in session.scalars(select(Article).where(Article.url.in_([i.url for i in items])))
        }
        excluded_titles = {
            a.url: a.title
            for a in session.scalars(
                select(Article).where(Article.url.in_(stored.ranking.excluded))
            )
        }
        history = audit.history(session=session, day=day)
        status = edition.status
        shown = reader_edition(content, lang=lang, top_stories=settings.edition.top_stories)
        top_urls = {s.article.url for s in shown.top}
        rows: list[ItemRow] = []
        for item in items:
            if item.details.get("lang") != lang or item.url is None:
                continue
            current = set(item.summary)
            rows.append(
                ItemRow(
                    url=item.url,
                    title=item.title,
                    place=len(rows) + 1,
                    top=item.url in top_urls,
                    folded_under=item.details.get("story"),
                    pinned=item.url in stored.ranking.pinned,
                    moved=stored.ranking.moves.get(item.url, 0),
                    chosen=bool(item.details.get("chosen_sentences")),
                    sentences=tuple(
                        (s, s in current) for s in article_sentences(bodies.get(item.url, ""), lang)
                    ),
                )
            )
        log = [
            {
                "at": a.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "editor": a.editor,
                "action": a.action,
                "item": a.item_url or "",
                "before": a.before or "",
                "after": a.after or "",
            }
            for a in reversed(history)
        ]
    messages = Messages(content, settings)
    rendered = {code: messages.rendered(code) for code in LANGUAGES}
    html, text = _with_test_links(messages, rendered[lang])
    height = desk.meter.height(html)
    return {
        "day": day,
        "status": status.value,
        "editable": status is EditionStatus.DRAFT,
        "approved": status is EditionStatus.APPROVED,
        "sent": status in (EditionStatus.SENDING, EditionStatus.SENT),
        "require_approval": settings.edition.require_approval,
        "lang": lang,
        "langs": list(ENGLISH_NAMES.items()),
        "view": view,
        "frame_width": VIEWS[view],
        "frame_src": f"{desk.root}/edition/{day.isoformat()}/email?lang={lang}",
        "subject": rendered[lang].subject,
        "subjects": {code: dict(content.subjects).get(code, "") for code in LANGUAGES},
        "built_subjects": {code: rendered[code].subject for code in LANGUAGES},
        "note": content.note or "",
        "text": text,
        "size": rendered[lang].size,
        "max_size": MAX_HTML_BYTES,
        "gmail_clips": GMAIL_CLIPS,
        "fitting": rendered[lang].fitting(),
        "height": height,
        "screens": round(height / PHONE_HEIGHT, 1) if height else None,
        "phone": (PHONE_WIDTH, PHONE_HEIGHT),
        "items": rows,
        "excluded": sorted(excluded_titles.items(), key=lambda pair: pair[1]),
        "history": log,
        "top_stories": settings.edition.top_stories,
    }


def _with_test_links(messages: Messages, rendered: RenderedEdition) -> tuple[str, str]:
    """(html, text) with a test copy's links, as `send --to` mails them: an editor who clicks
    one sees a page saying it belongs to a test copy, and nothing changes."""
    return personalize(
        rendered,
        unsubscribe_url=messages.unsubscribe_url(None),
        preferences_url=messages.preferences_url(None),
    )


def _email(desk: Desk) -> Any:
    async def email(request: Request, editor: Editor, fields: Fields | None) -> Response:
        day = _day(request)
        lang = _choose(request, "lang", LANGUAGES)
        html = await run_in_threadpool(_email_html, desk, day, lang)
        response = HTMLResponse(html)
        # The email as subscribers get it: its images (the site's own) may load, nothing else;
        # no script runs, and only the desk may frame it.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
            "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
        )
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    return email


def _email_html(desk: Desk, day: date, lang: str) -> str:
    with session_scope(desk.web.engine) as session:
        content = content_of(require_edition(session=session, day=day), desk.web.settings)
    messages = Messages(content, desk.web.settings)
    return _with_test_links(messages, messages.rendered(lang))[0]


def _delivery(desk: Desk) -> Any:
    async def delivery(request: Request, editor: Editor, fields: Fields | None) -> Response:
        day = _day(request)
        report = await run_in_threadpool(
            lambda: overview.delivery_report(engine=desk.web.engine, day=day)
        )
        return desk.page(
            request,
            "delivery.html.j2",
            title=f"Delivery of {day.isoformat()}",
            editor=editor,
            day=day,
            report=report,
            counts={state.value: n for state, n in report.counts.items()},
            chart=Markup(delivery_chart(report.timeline)),  # numbers and escaped labels
        )

    return delivery
