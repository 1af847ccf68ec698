"""The orchestrator: the only module besides the store that holds a database session.
It runs the stages in order and keeps the edition and the delivery ledger up to date."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.content import ArticleItem, EditionContent, ThreadItem
from newsletter.deliver import RecipientRefused, Transport, compose
from newsletter.errors import EditionStateError, NothingToSend
from newsletter.ingest import read_file
from newsletter.render import RenderedEdition, personalize, render_edition
from newsletter.select import day_bounds
from newsletter.store import queries
from newsletter.store.db import session_scope
from newsletter.store.models import (
    Article,
    DeliveryStatus,
    Edition,
    EditionItem,
    EditionStatus,
    ItemKind,
    SubscriberStatus,
    Thread,
)
from newsletter.summarize import summarize
from subscribers import normalize_address, unsubscribe_url

MAX_THREADS = 10
SUMMARY_SENTENCES = 3
LANGUAGES = ("en", "ru")
_BATCH = 200


@dataclass(frozen=True)
class BuildResult:
    edition_date: date
    articles: int
    threads: int
    rebuilt: bool


@dataclass
class SendReport:
    edition_date: date
    queued: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def ingest(
    *,
    engine: Engine,
    settings: Settings,
    paths: Sequence[Path],
    published_at: datetime | None = None,
    lang: str | None = None,
    url: str | None = None,
) -> list[tuple[Path, queries.StoreCounts]]:
    """Read and store files in order, each in its own transaction: a bad file stores nothing
    and stops the run, and the files before it stay stored."""
    results = []
    for path in paths:
        batch = read_file(path, tz=settings.timezone, published_at=published_at, lang=lang, url=url)
        with session_scope(engine) as session:
            results.append((path, queries.store_batch(session=session, batch=batch)))
    return results


def build(*, engine: Engine, settings: Settings, day: date) -> BuildResult:
    """Compose (or recompose, while still a draft) the edition for one local day."""
    start, end = day_bounds(day, settings.timezone)
    with session_scope(engine) as session:
        articles = queries.articles_published_between(session=session, start=start, end=end)
        threads = queries.threads_active_between(
            session=session, start=start, end=end, limit=MAX_THREADS
        )
        if not articles and not threads:
            raise NothingToSend(
                f"no articles or discussions on {day.isoformat()} ({settings.timezone.key}): "
                "no edition built"
            )
        edition = queries.get_edition(session=session, edition_date=day)
        rebuilt = edition is not None
        if edition is None:
            edition = Edition(edition_date=day, subject="")
            session.add(edition)
        elif edition.status is not EditionStatus.DRAFT:
            raise EditionStateError(
                f"the edition of {day.isoformat()} is {edition.status.value}: it is not rebuilt"
            )
        edition.items.clear()
        session.flush()  # the old items' positions must be free before new ones take them
        items = [_article_item(a) for a in articles] + [_thread_item(t) for t in threads]
        for position, item in enumerate(items):
            item.position = position
        edition.items.extend(items)
        edition.subject = items[0].title
        return BuildResult(day, len(articles), len(threads), rebuilt)


def _article_item(article: Article) -> EditionItem:
    summary = summarize(
        article.body, lang=article.lang, max_sentences=SUMMARY_SENTENCES, title=article.title
    )
    return EditionItem(
        kind=ItemKind.ARTICLE,
        article_id=article.id,
        title=article.title,
        url=article.url,
        summary=list(summary),
        details={
            "lang": article.lang,
            "published_at": article.published_at.isoformat(),
            "author": article.author,
            "image_url": article.image_url,
            "tags": list(article.tags),
        },
    )


def _thread_item(thread: Thread) -> EditionItem:
    return EditionItem(
        kind=ItemKind.THREAD,
        thread_id=thread.id,
        title=thread.title,
        url=thread.url,
        summary=[],
        details={
            "comments": thread.comments,
            "last_activity_at": thread.last_activity_at.isoformat(),
            "reply_to": thread.reply_to,
        },
    )


def _content(edition: Edition, settings: Settings) -> EditionContent:
    articles: list[ArticleItem] = []
    threads: list[ThreadItem] = []
    for item in edition.items:
        d: dict[str, Any] = item.details
        if item.kind is ItemKind.ARTICLE:
            articles.append(
                ArticleItem(
                    title=item.title,
                    url=item.url,
                    summary=tuple(item.summary),
                    lang=d["lang"],
                    published_at=datetime.fromisoformat(d["published_at"]),
                    author=d.get("author"),
                    image_url=d.get("image_url"),
                    tags=tuple(d.get("tags", ())),
                )
            )
        else:
            threads.append(
                ThreadItem(
                    title=item.title,
                    url=item.url,
                    comments=int(d["comments"]),
                    last_activity_at=datetime.fromisoformat(d["last_activity_at"]).astimezone(
                        settings.timezone
                    ),
                    reply_to=d.get("reply_to"),
                )
            )
    return EditionContent(edition.edition_date, edition.subject, tuple(articles), tuple(threads))


def _require_edition(session: Session, day: date) -> Edition:
    edition = queries.get_edition(session=session, edition_date=day)
    if edition is None:
        raise EditionStateError(
            f"there is no edition for {day.isoformat()}: run `newsletter build --date {day}`"
        )
    return edition


class _Renderer:
    """Compiles each language's edition once; a recipient's copy is then a substitution."""

    def __init__(self, content: EditionContent, settings: Settings) -> None:
        self._content = content
        self._settings = settings
        self._rendered: dict[str, RenderedEdition] = {}

    def get(self, lang: str) -> RenderedEdition:
        if lang not in self._rendered:
            self._rendered[lang] = render_edition(
                self._content,
                lang=lang,
                site_name=self._settings.site_name,
                base_url=self._settings.require_base_url(),
            )
        return self._rendered[lang]

    def message(
        self, *, lang: str, to_address: str, to_name: str | None, unsubscribe: str, message_id: str
    ) -> EmailMessage:
        rendered = self.get(lang)
        html, text = personalize(rendered, unsubscribe_url=unsubscribe)
        return compose(
            sender=self._settings.require_from(),
            to_address=to_address,
            to_name=to_name,
            subject=rendered.subject,
            html=html,
            text=text,
            message_id=message_id,
            unsubscribe_url=unsubscribe,
            lang=lang,
        )


def preview(*, engine: Engine, settings: Settings, day: date, out_dir: Path) -> list[Path]:
    """Write the edition as each language's .html, .txt and .eml, as a subscriber would get it."""
    with session_scope(engine) as session:
        content = _content(_require_edition(session, day), settings)
    renderer = _Renderer(content, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    unsubscribe = f"{settings.require_base_url()}/unsubscribe/preview"
    for lang in LANGUAGES:
        rendered = renderer.get(lang)
        html, text = personalize(rendered, unsubscribe_url=unsubscribe)
        message = renderer.message(
            lang=lang,
            to_address=_sender_address(settings),
            to_name=None,
            unsubscribe=unsubscribe,
            message_id=make_msgid(domain=_sender_domain(settings)),
        )
        stem = out_dir / f"edition-{day.isoformat()}.{lang}"
        for suffix, data in ((".html", html), (".txt", text)):
            path = stem.with_suffix(stem.suffix + suffix)
            path.write_text(data, "utf-8")
            written.append(path)
        eml = stem.with_suffix(stem.suffix + ".eml")
        eml.write_bytes(message.as_bytes())
        written.append(eml)
    return written


def send_test(
    *, settings: Settings, engine: Engine, day: date, to: str, lang: str, transport: Transport
) -> str:
    """One copy to one address, recorded nowhere: for editors checking an edition."""
    address = normalize_address(to)
    with session_scope(engine) as session:
        content = _content(_require_edition(session, day), settings)
    renderer = _Renderer(content, settings)
    message = renderer.message(
        lang=lang,
        to_address=address,
        to_name=None,
        unsubscribe=f"{settings.require_base_url()}/unsubscribe/test",
        message_id=make_msgid(domain=_sender_domain(settings)),
    )
    transport.send(message)
    return address


def send(
    *, engine: Engine, settings: Settings, day: date, transport: Transport | None
) -> SendReport:
    """Deliver the edition to every active subscriber who has not had it; `transport=None` is a
    dry run that composes every message and records nothing.

    Each delivery is marked `sending` (committed) before the message goes out and `sent` after,
    so a run killed between the two resends at most the one message that was in flight, with
    the same Message-ID; every other subscriber gets the edition exactly once."""
    secret = settings.require_secret_key()
    base_url = settings.require_base_url()
    with session_scope(engine) as session:
        edition = _require_edition(session, day)
        content = _content(edition, settings)
        edition_id = edition.id
        report = SendReport(day)
        if transport is not None:
            report.queued = queries.enqueue_deliveries(session=session, edition_id=edition_id)
            if edition.status is not EditionStatus.SENT:
                edition.status = EditionStatus.SENDING
    renderer = _Renderer(content, settings)
    for delivery_id, subscriber in _deliveries(engine, edition_id):
        lang = subscriber.lang if subscriber.lang in LANGUAGES else "en"
        message = renderer.message(
            lang=lang,
            to_address=subscriber.email,
            to_name=subscriber.name,
            unsubscribe=unsubscribe_url(
                base_url=base_url, secret=secret, subscriber_id=subscriber.id
            ),
            message_id=subscriber.message_id
            or make_msgid(
                idstring=f"e{edition_id}.s{subscriber.id}", domain=_sender_domain(settings)
            ),
        )
        if transport is None:
            report.queued += 1
            continue
        if subscriber.status is not SubscriberStatus.ACTIVE:
            _mark(engine, delivery_id, DeliveryStatus.SKIPPED, f"subscriber is {subscriber.status}")
            report.skipped += 1
            continue
        _mark(engine, delivery_id, DeliveryStatus.SENDING, message_id=str(message["Message-ID"]))
        try:
            transport.send(message)
        except RecipientRefused as refused:
            status = DeliveryStatus.FAILED if refused.permanent else DeliveryStatus.PENDING
            _mark(engine, delivery_id, status, str(refused))
            report.errors.append(f"{subscriber.email}: {refused}")
            if refused.permanent:
                report.failed += 1
            else:
                report.deferred += 1
            continue
        except BaseException as exc:
            # The relay went away: this one is unknown, so it is retried on the next run.
            _mark(engine, delivery_id, DeliveryStatus.PENDING, str(exc))
            raise
        _mark(engine, delivery_id, DeliveryStatus.SENT)
        report.sent += 1
    if transport is not None:
        _finish(engine, edition_id)
    return report


@dataclass(frozen=True)
class _Recipient:
    id: int
    email: str
    name: str | None
    lang: str
    status: SubscriberStatus
    message_id: str | None


def _deliveries(engine: Engine, edition_id: int) -> Iterator[tuple[int, _Recipient]]:
    """Unsent deliveries in batches, each read in its own short transaction."""
    after = 0
    while True:
        with session_scope(engine) as session:
            rows = queries.deliveries_to_send(
                session=session, edition_id=edition_id, after_id=after, limit=_BATCH
            )
            batch = [
                (
                    d.id,
                    _Recipient(s.id, s.email, s.name, s.lang, s.status, d.message_id),
                )
                for d, s in rows
            ]
        if not batch:
            return
        yield from batch
        after = batch[-1][0]


def _mark(
    engine: Engine,
    delivery_id: int,
    status: DeliveryStatus,
    error: str | None = None,
    message_id: str | None = None,
) -> None:
    with session_scope(engine) as session:
        queries.mark_delivery(
            session=session,
            delivery_id=delivery_id,
            status=status,
            error=error,
            message_id=message_id,
        )


def _finish(engine: Engine, edition_id: int) -> None:
    with session_scope(engine) as session:
        counts = queries.delivery_counts(session=session, edition_id=edition_id)
        if counts[DeliveryStatus.PENDING] == 0 and counts[DeliveryStatus.SENDING] == 0:
            edition = session.get(Edition, edition_id)
            assert edition is not None
            edition.status = EditionStatus.SENT


def run(*, engine: Engine, settings: Settings, day: date, transport: Transport) -> SendReport:
    """What cron calls: build the day's edition unless it exists, then send what is left."""
    with session_scope(engine) as session:
        exists = queries.get_edition(session=session, edition_date=day) is not None
    if not exists:
        build(engine=engine, settings=settings, day=day)
    return send(engine=engine, settings=settings, day=day, transport=transport)


def _sender_address(settings: Settings) -> str:
    return parseaddr(settings.require_from())[1]


def _sender_domain(settings: Settings) -> str:
    return _sender_address(settings).rpartition("@")[2]
