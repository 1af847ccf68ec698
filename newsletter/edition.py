"""The orchestrator of an edition's content: ingest, build, preview, and the messages made from
a built edition. With `newsletter.sending` the only modules besides the store that hold a
database session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.content import ArticleItem, EditionContent, ThreadItem
from newsletter.deliver import compose
from newsletter.errors import EditionStateError, NothingToSend
from newsletter.ingest import read_file
from newsletter.render import RenderedEdition, personalize, render_edition
from newsletter.select import day_bounds
from newsletter.store import queries
from newsletter.store.db import session_scope
from newsletter.store.models import (
    Article,
    Edition,
    EditionItem,
    EditionStatus,
    ItemKind,
    Thread,
)
from newsletter.summarize import summarize
from subscribers import unsubscribe_url

MAX_THREADS = 10
SUMMARY_SENTENCES = 3
LANGUAGES = ("en", "ru")


@dataclass(frozen=True)
class BuildResult:
    edition_date: date
    articles: int
    threads: int
    rebuilt: bool


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


def require_edition(*, session: Session, day: date) -> Edition:
    edition = queries.get_edition(session=session, edition_date=day)
    if edition is None:
        raise EditionStateError(
            f"there is no edition for {day.isoformat()}: run `newsletter build --date {day}`"
        )
    return edition


def load_content(*, engine: Engine, settings: Settings, day: date) -> EditionContent:
    with session_scope(engine) as session:
        return content_of(require_edition(session=session, day=day), settings)


def content_of(edition: Edition, settings: Settings) -> EditionContent:
    """A built edition's content as plain records (item snapshots, times in the site's zone)."""
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


class Messages:
    """Makes recipients' messages of one edition: each language is compiled once, a recipient's
    copy is then a substitution of their unsubscribe link."""

    def __init__(self, content: EditionContent, settings: Settings) -> None:
        self._content = content
        self._settings = settings
        self._rendered: dict[str, RenderedEdition] = {}
        self._domain = parseaddr(settings.require_from())[1].rpartition("@")[2]

    def rendered(self, lang: str) -> RenderedEdition:
        lang = lang if lang in LANGUAGES else "en"
        if lang not in self._rendered:
            self._rendered[lang] = render_edition(
                self._content,
                lang=lang,
                site_name=self._settings.site_name,
                base_url=self._settings.require_base_url(),
            )
        return self._rendered[lang]

    def unsubscribe_url(self, subscriber_id: int) -> str:
        return unsubscribe_url(
            base_url=self._settings.require_base_url(),
            secret=self._settings.require_secret_key(),
            subscriber_id=subscriber_id,
        )

    def new_message_id(self, idstring: str | None = None) -> str:
        return make_msgid(idstring=idstring, domain=self._domain)

    def message(
        self,
        *,
        lang: str,
        to_address: str,
        to_name: str | None,
        unsubscribe: str,
        message_id: str | None = None,
    ) -> EmailMessage:
        rendered = self.rendered(lang)
        html, text = personalize(rendered, unsubscribe_url=unsubscribe)
        return compose(
            sender=self._settings.require_from(),
            to_address=to_address,
            to_name=to_name,
            subject=rendered.subject,
            html=html,
            text=text,
            message_id=message_id or self.new_message_id(),
            unsubscribe_url=unsubscribe,
            lang=rendered.lang,
        )


def preview(*, engine: Engine, settings: Settings, day: date, out_dir: Path) -> list[Path]:
    """Write the edition as each language's .html, .txt and .eml, as a subscriber would get it."""
    messages = Messages(load_content(engine=engine, settings=settings, day=day), settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    unsubscribe = f"{settings.require_base_url()}/unsubscribe/preview"
    for lang in LANGUAGES:
        html, text = personalize(messages.rendered(lang), unsubscribe_url=unsubscribe)
        message = messages.message(
            lang=lang,
            to_address=parseaddr(settings.require_from())[1],
            to_name=None,
            unsubscribe=unsubscribe,
        )
        stem = out_dir / f"edition-{day.isoformat()}.{lang}"
        for suffix, data in ((".html", html), (".txt", text)):
            path = stem.with_name(f"{stem.name}{suffix}")
            path.write_text(data, "utf-8")
            written.append(path)
        eml = stem.with_name(f"{stem.name}.eml")
        eml.write_bytes(message.as_bytes())
        written.append(eml)
    return written
