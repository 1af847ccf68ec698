"""Queries named by what they are for; keyword-only so call sites read as sentences."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import (
    delete,
    func,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from newsletter.content import ArticleRecord, IngestBatch, ThreadRecord
from newsletter.store.models import (
    Article,
    Delivery,
    DeliveryStatus,
    Edition,
    Post,
    Subscriber,
    Thread,
    ThreadCount,
)

IN_CHUNK = 500  # stays under SQLite's bound-parameter limit


_M = TypeVar("_M", Article, Thread)


@dataclass(frozen=True)
class StoreCounts:
    articles_added: int = 0
    articles_updated: int = 0
    threads_added: int = 0
    threads_updated: int = 0


def store_batch(*, session: Session, batch: IngestBatch) -> StoreCounts:
    """Insert new items and update known ones (by URL / key), so re-ingesting never duplicates."""
    known_articles = {
        a.url: a
        for a in _rows_where_in(session, Article, Article.url, [a.url for a in batch.articles])
    }
    known_threads = {
        t.key: t
        for t in _rows_where_in(session, Thread, Thread.key, [t.key for t in batch.threads])
    }
    for record in batch.articles:
        article = known_articles.get(record.url)
        if article is None:
            article = Article(url=record.url)
            session.add(article)
        _fill_article(article, record)
    stored: list[Thread] = []
    for thread_record in batch.threads:
        thread = known_threads.get(thread_record.key)
        if thread is None:
            thread = Thread(key=thread_record.key)
            session.add(thread)
        _fill_thread(thread, thread_record)
        stored.append(thread)
    session.flush()
    # Every ingest's count is kept: the growth from one export to the next is the day's
    # activity of a thread whose posts the export does not carry.
    session.add_all(ThreadCount(thread_id=t.id, comments=t.comments) for t in stored)
    session.flush()
    return StoreCounts(
        articles_added=len(batch.articles) - len(known_articles),
        articles_updated=len(known_articles),
        threads_added=len(batch.threads) - len(known_threads),
        threads_updated=len(known_threads),
    )


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), IN_CHUNK):
        yield keys[start : start + IN_CHUNK]


def _rows_where_in(
    session: Session, model: type[_M], column: InstrumentedAttribute[str], keys: Sequence[str]
) -> list[_M]:
    found: list[_M] = []
    for chunk in _chunks(keys):
        found.extend(session.scalars(select(model).where(column.in_(chunk))))
    return found


def _fill_article(article: Article, record: ArticleRecord) -> None:
    article.title = record.title
    article.body = record.body
    article.published_at = record.published_at
    article.lang = record.lang
    article.author = record.author
    article.image_url = record.image_url
    article.tags = list(record.tags)


def _fill_thread(thread: Thread, record: ThreadRecord) -> None:
    thread.url = record.url
    thread.title = record.title
    thread.last_activity_at = record.last_activity_at
    thread.comments = record.comments
    thread.reply_to = record.reply_to
    # Update posts in place by position: deleting and re-adding in one flush would collide
    # on the (thread_id, position) unique constraint.
    for position, post_record in enumerate(record.posts):
        if position < len(thread.posts):
            post = thread.posts[position]
        else:
            post = Post(position=position)
            thread.posts.append(post)
        post.author = post_record.author
        post.body = post_record.body
        post.posted_at = post_record.posted_at
    del thread.posts[len(record.posts) :]


def articles_published_between(
    *, session: Session, start: datetime, end: datetime
) -> Sequence[Article]:
    """Articles with start <= published_at < end, newest first (uses ix_articles_published_at)."""
    return session.scalars(
        select(Article)
        .where(Article.published_at >= start, Article.published_at < end)
        .order_by(Article.published_at.desc(), Article.id)
    ).all()


def threads_active_between(
    *, session: Session, start: datetime, end: datetime, limit: int
) -> Sequence[Thread]:
    """Threads with activity in [start, end), latest activity first (the site's own order),
    with their posts; at most `limit` (uses ix_threads_last_activity_at)."""
    return session.scalars(
        select(Thread)
        .where(Thread.last_activity_at >= start, Thread.last_activity_at < end)
        .order_by(Thread.last_activity_at.desc(), Thread.id)
        .options(selectinload(Thread.posts))
        .limit(limit)
    ).all()


def comment_growth(
    *, session: Session, thread_ids: Sequence[int], day_start: datetime
) -> dict[int, int]:
    """How much each thread's comment count grew up to its latest ingest, from the last count
    seen before `day_start` (several exports a day then still measure the day), else from the
    ingest before the latest. Threads counted by one ingest only are left out: nothing to
    compare. Never below 0: a site may reset a count."""
    counts: dict[int, list[tuple[int, datetime]]] = {}
    for start in range(0, len(thread_ids), IN_CHUNK):
        rows = session.execute(
            select(ThreadCount.thread_id, ThreadCount.comments, ThreadCount.seen_at)
            .where(ThreadCount.thread_id.in_(thread_ids[start : start + IN_CHUNK]))
            .order_by(ThreadCount.thread_id, ThreadCount.id.desc())
        )
        for thread_id, comments, seen_at in rows:
            counts.setdefault(thread_id, []).append((comments, seen_at))
    growth = {}
    for thread_id, seen in counts.items():
        latest = seen[0][0]
        before = next((c for c, at in seen[1:] if at < day_start), None)
        if before is None and len(seen) > 1:
            before = seen[1][0]
        if before is not None:
            growth[thread_id] = max(latest - before, 0)
    return growth


def get_edition(*, session: Session, edition_date: date) -> Edition | None:
    return session.scalars(
        select(Edition)
        .where(Edition.edition_date == edition_date)
        .options(selectinload(Edition.items))
    ).one_or_none()


def get_subscriber(*, session: Session, email: str) -> Subscriber | None:
    # lower() on both sides in SQL: SQLite folds ASCII only, and the unique index sees that.
    return session.scalars(
        select(Subscriber).where(func.lower(Subscriber.email) == func.lower(email))
    ).one_or_none()


def list_subscribers(*, session: Session) -> Sequence[Subscriber]:
    return session.scalars(select(Subscriber).order_by(Subscriber.id)).all()


def sent_count(*, session: Session, edition_id: int) -> int:
    """How many readers have received the edition: while none has, it may be built again."""
    return int(
        session.scalar(
            select(func.count()).where(
                Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.SENT
            )
        )
        or 0
    )


def drop_deliveries(*, session: Session, edition_id: int) -> None:
    """Forget an unsent edition's deliveries: it is being built again, and sending it again
    queues its readers afresh."""
    session.execute(delete(Delivery).where(Delivery.edition_id == edition_id))


def delivery_counts(*, session: Session, edition_id: int) -> dict[DeliveryStatus, int]:
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    )
    counts = dict.fromkeys(DeliveryStatus, 0)
    counts.update({status: count for status, count in rows})
    return counts


def tags_published_since(*, session: Session, since: datetime) -> list[str]:
    """The distinct tags of articles published since `since`, sorted: the sections on offer.

    Tags sit in a JSON list per article, which SQLite and PostgreSQL unnest differently, so the
    lists are read and merged here; a few months of articles are a few thousand short lists."""
    tags: set[str] = set()
    for article_tags in session.scalars(select(Article.tags).where(Article.published_at >= since)):
        tags.update(tag.strip().lower() for tag in article_tags if tag.strip())
    return sorted(tags)
