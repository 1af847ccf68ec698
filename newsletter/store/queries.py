"""Queries named by what they are for; keyword-only so call sites read as sentences."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from newsletter.content import ArticleRecord, IngestBatch, ThreadRecord
from newsletter.store.models import (
    Article,
    Delivery,
    DeliveryStatus,
    Edition,
    Post,
    Subscriber,
    SubscriberStatus,
    Thread,
)

_IN_CHUNK = 500  # stays under SQLite's bound-parameter limit
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
    for thread_record in batch.threads:
        thread = known_threads.get(thread_record.key)
        if thread is None:
            thread = Thread(key=thread_record.key)
            session.add(thread)
        _fill_thread(thread, thread_record)
    session.flush()
    return StoreCounts(
        articles_added=len(batch.articles) - len(known_articles),
        articles_updated=len(known_articles),
        threads_added=len(batch.threads) - len(known_threads),
        threads_updated=len(known_threads),
    )


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), _IN_CHUNK):
        yield keys[start : start + _IN_CHUNK]


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
    """The most commented threads with activity in [start, end)."""
    return session.scalars(
        select(Thread)
        .where(Thread.last_activity_at >= start, Thread.last_activity_at < end)
        .order_by(Thread.comments.desc(), Thread.last_activity_at.desc(), Thread.id)
        .limit(limit)
    ).all()


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


def stored_keys(*, session: Session, emails: Sequence[str]) -> set[str]:
    """Python-lower-cased stored addresses that the unique index counts as one of `emails`."""
    keys: set[str] = set()
    for chunk in _chunks(emails):
        wanted = [func.lower(email) for email in chunk]
        keys.update(
            stored.lower()
            for stored in session.scalars(
                select(Subscriber.email).where(func.lower(Subscriber.email).in_(wanted))
            )
        )
    return keys


def enqueue_deliveries(*, session: Session, edition_id: int) -> int:
    """Add a pending delivery for every active subscriber who has none for this edition yet."""
    already = select(Delivery.id).where(
        Delivery.edition_id == edition_id, Delivery.subscriber_id == Subscriber.id
    )
    now = datetime.now(UTC)
    rows = select(
        literal(edition_id),
        Subscriber.id,
        literal(DeliveryStatus.PENDING.value),
        literal(0),
        literal(now, Delivery.updated_at.type),
    ).where(Subscriber.status == SubscriberStatus.ACTIVE, ~already.exists())
    # Counted through RETURNING: psycopg reports no row count for INSERT ... SELECT here.
    inserted = session.scalars(
        insert(Delivery)
        .from_select(["edition_id", "subscriber_id", "status", "attempts", "updated_at"], rows)
        .returning(Delivery.id)
    )
    return len(inserted.all())


def deliveries_to_send(
    *, session: Session, edition_id: int, after_id: int, limit: int
) -> Sequence[tuple[Delivery, Subscriber]]:
    """The next unsent deliveries in id order. `sending` ones were in flight when a run died."""
    rows = session.execute(
        select(Delivery, Subscriber)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.edition_id == edition_id,
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
            Delivery.id > after_id,
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [(delivery, subscriber) for delivery, subscriber in rows]


def recipients_awaiting(
    *, session: Session, edition_id: int, after_id: int, limit: int
) -> Sequence[Subscriber]:
    """Active subscribers the edition has not reached yet, in id order; reads, never writes."""
    reached = select(Delivery.id).where(
        Delivery.edition_id == edition_id,
        Delivery.subscriber_id == Subscriber.id,
        Delivery.status.not_in([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
    )
    return session.scalars(
        select(Subscriber)
        .where(
            Subscriber.status == SubscriberStatus.ACTIVE,
            Subscriber.id > after_id,
            ~reached.exists(),
        )
        .order_by(Subscriber.id)
        .limit(limit)
    ).all()


def delivery_counts(*, session: Session, edition_id: int) -> dict[DeliveryStatus, int]:
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    )
    counts = dict.fromkeys(DeliveryStatus, 0)
    counts.update({status: count for status, count in rows})
    return counts


def mark_delivery(
    *,
    session: Session,
    delivery_id: int,
    status: DeliveryStatus,
    error: str | None = None,
    message_id: str | None = None,
) -> None:
    """Record one step of a delivery; `sending` also counts an attempt."""
    now = datetime.now(UTC)
    values: dict[str, object] = {"status": status, "updated_at": now, "last_error": error}
    if status is DeliveryStatus.SENDING:
        values["attempts"] = Delivery.attempts + 1
    if status is DeliveryStatus.SENT:
        values["sent_at"] = now
    if message_id is not None:
        values["message_id"] = message_id
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))
