"""Typed SQLAlchemy 2.0 models. Times are stored in UTC and always read back timezone-aware."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from newsletter.content import MAX_AUTHOR, MAX_TITLE, MAX_URL
from newsletter.languages import DEFAULT_LANGUAGE


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC out: on SQLite, which keeps no zone, as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} reached the database")
        value = value.astimezone(UTC)
        # SQLite compares the stored text: keep one zone-less UTC form so ranges work.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)


LINK_KEY_LENGTH = 32  # characters of `new_link_key`


def new_link_key() -> str:
    """192 random bits, URL-safe: what a subscriber's links name them by. A row id cannot do
    that job, as SQLite hands a deleted row's id to the next row."""
    return secrets.token_urlsafe(24)


def _enum(cls: type[enum.Enum]) -> Enum:
    # Plain strings in a VARCHAR: portable between SQLite and PostgreSQL, no ALTER TYPE to migrate.
    return Enum(
        cls,
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    # Named constraints, so that migrations can refer to them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class EditionStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"


class ItemKind(enum.StrEnum):
    ARTICLE = "article"
    THREAD = "thread"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # queued, not tried yet
    SENDING = "sending"  # claimed by a sender (lease_owner) until lease_until
    DEFERRED = "deferred"  # a 4xx reply or a dropped connection; retried at next_attempt_at
    SENT = "sent"
    FAILED = "failed"  # a 5xx reply: never retried
    SKIPPED = "skipped"  # the subscriber left between queueing and sending


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(MAX_URL), unique=True)
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(index=True)
    lang: Mapped[str] = mapped_column(String(8))
    author: Mapped[str | None] = mapped_column(String(MAX_AUTHOR))
    image_url: Mapped[str | None] = mapped_column(String(MAX_URL))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=_utcnow, onupdate=_utcnow)


class Thread(Base):
    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_URL), unique=True)
    url: Mapped[str | None] = mapped_column(String(MAX_URL))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    last_activity_at: Mapped[datetime] = mapped_column(index=True)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    reply_to: Mapped[str | None] = mapped_column(String(MAX_TITLE))
    updated_at: Mapped[datetime] = mapped_column(default=_utcnow, onupdate=_utcnow)

    posts: Mapped[list[Post]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="Post.position"
    )


class ThreadCount(Base):
    """The all-time comment count of a thread as one ingest saw it. The site's export gives
    nothing finer, so a day's activity on a thread without known posts is the growth of this
    count from one export to the next."""

    __tablename__ = "thread_counts"
    __table_args__ = (Index("ix_thread_counts_thread_id_id", "thread_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    comments: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(default=_utcnow)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("thread_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    position: Mapped[int]
    author: Mapped[str] = mapped_column(String(MAX_AUTHOR))
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime]

    thread: Mapped[Thread] = relationship(back_populates="posts")


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(300))
    lang: Mapped[str] = mapped_column(String(8), default=DEFAULT_LANGUAGE)
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus), default=SubscriberStatus.ACTIVE, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=_utcnow, onupdate=_utcnow)
    # The consent trail: when the address was proven theirs, and when they left.
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # The last confirmation email, so a form cannot be used to flood someone's inbox.
    confirmation_sent_at: Mapped[datetime | None]
    # Tags of the articles they want; empty means everything.
    sections: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Every link in their mail carries this key (signed): it is never reused and is deleted
    # with the row, so an erased person's links act on nobody.
    link_key: Mapped[str] = mapped_column(
        String(LINK_KEY_LENGTH), default=new_link_key, unique=True, index=True
    )
    # On the list before links carried keys: their old links, which carry the row id, are
    # honoured for this row only. New rows never are, so a reused id matches no old link.
    legacy_id_links: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Headlines of the day's articles in the other language too, under their own heading.
    other_languages: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# One person, one row, whatever the capitalisation they typed.
Index("uq_subscribers_email_lower", func.lower(Subscriber.email), unique=True)


class SubscriberEvent(Base):
    """One change of a subscriber's state, so an operator can tell why someone stopped getting
    the edition. Goes with the subscriber when their data is erased."""

    __tablename__ = "subscriber_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=_utcnow)
    old_status: Mapped[SubscriberStatus | None] = mapped_column(_enum(SubscriberStatus))
    new_status: Mapped[SubscriberStatus] = mapped_column(_enum(SubscriberStatus))
    cause: Mapped[str] = mapped_column(String(300))


class SubscribeRequest(Base):
    """A subscribe form's request, queued for `newsletter serve`'s background sender: the page
    stores only this, the same for every address, and answers; the sender takes it in (makes
    the address pending, or finds there is nothing to send) and mails the confirmation, trying
    again with back-off. Deleted once done; a row with `failed_at` was given up and reported."""

    __tablename__ = "subscribe_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    lang: Mapped[str] = mapped_column(String(8))
    cause: Mapped[str] = mapped_column(String(300))
    requested_at: Mapped[datetime] = mapped_column(default=_utcnow)
    # Set once taken in: whom the confirmation goes to. Erasing them drops the request.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    # A sender working on it holds it until then, so two `serve` processes never both send it.
    claimed_until: Mapped[datetime | None]
    reply_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None]


class Suppression(Base):
    """An address that must never be mailed again, kept only as a hash after its owner's data
    was erased."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


class Edition(Base):
    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_date: Mapped[date] = mapped_column(Date, unique=True)
    status: Mapped[EditionStatus] = mapped_column(_enum(EditionStatus), default=EditionStatus.DRAFT)
    subject: Mapped[str] = mapped_column(String(MAX_TITLE))
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=_utcnow, onupdate=_utcnow)
    # The editors' subject per language and their note, copied from `EditionChoice` at each
    # build: part of the snapshot, so an approved edition keeps them.
    subjects: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    note: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[EditionItem]] = relationship(
        back_populates="edition", cascade="all, delete-orphan", order_by="EditionItem.position"
    )


class EditionItem(Base):
    __tablename__ = "edition_items"
    __table_args__ = (UniqueConstraint("edition_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[ItemKind] = mapped_column(_enum(ItemKind))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))
    # A snapshot: the edition reads the same after its sources are re-ingested or edited.
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    url: Mapped[str | None] = mapped_column(String(MAX_URL))
    summary: Mapped[list[str]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    edition: Mapped[Edition] = relationship(back_populates="items")


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        # Claims read one state of one edition in id order: the index hands them over sorted.
        Index("ix_deliveries_edition_status_id", "edition_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=_utcnow, onupdate=_utcnow)
    # The relay's last reply code (4xx, 5xx), for `newsletter status`.
    reply_code: Mapped[int | None]
    # A deferred delivery's retry time; NULL: at the start of the next run.
    next_attempt_at: Mapped[datetime | None]
    # Who claimed it ("host:pid:nonce") and until when: a dead sender's claim runs out.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]


class Editor(Base):
    """Someone who may sign in to the desk. `session_epoch` grows at each sign-out, which ends
    every session the editor had; removing the editor ends them too."""

    __tablename__ = "editors"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(200))
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


Index("uq_editors_email_lower", func.lower(Editor.email), unique=True)


class ItemOverride(Base):
    """An editor's choice about one item of one day's edition, kept apart from the built items
    (which a rebuild replaces): the build's ranking applies it, so it outlives rebuilds that
    add the day's later articles. `pin` orders the pinned items (lower first); `move` shifts an
    item by that many places among its language's articles (negative: up); `sentences` are the
    article's own sentences chosen for its blurb (None: the summarizer's)."""

    __tablename__ = "item_overrides"
    __table_args__ = (UniqueConstraint("edition_date", "item_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_date: Mapped[date] = mapped_column(Date)
    item_url: Mapped[str] = mapped_column(String(2048))
    pin: Mapped[int | None]
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    move: Mapped[int] = mapped_column(Integer, default=0)
    sentences: Mapped[list[str] | None] = mapped_column(JSON)


class EditionChoice(Base):
    """An editor's choices for a day's edition as a whole: a subject per language (absent: the
    built one) and a note shown at the top of both parts."""

    __tablename__ = "edition_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_date: Mapped[date] = mapped_column(Date, unique=True)
    subjects: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)


class EditorAction(Base):
    """The audit log: who did what to which edition, when, with the value before and after."""

    __tablename__ = "editor_actions"
    __table_args__ = (Index("ix_editor_actions_edition_date_id", "edition_date", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=_utcnow)
    editor: Mapped[str] = mapped_column(String(320))
    edition_date: Mapped[date | None] = mapped_column(Date)
    action: Mapped[str] = mapped_column(String(50))
    item_url: Mapped[str | None] = mapped_column(String(2048))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
