"""What the desk shows about editions: the calendar of recent and coming days with their
state and delivery counts, and how a sending or sent edition's deliveries went."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.delivery.ledger.queries import sending_progress
from newsletter.delivery.report import EMPTY_EDITION
from newsletter.edition import require_edition
from newsletter.select import day_bounds
from newsletter.store import queries
from newsletter.store.db import session_scope
from newsletter.store.models import (
    Article,
    Delivery,
    DeliveryStatus,
    Edition,
    Subscriber,
    SubscriberEvent,
    SubscriberStatus,
    Thread,
)

NOTHING_TO_SEND = "nothing to send"
NOT_BUILT = "not built yet"


@dataclass(frozen=True)
class DayState:
    """One day of the calendar. `state` is the edition's state word, or NOT_BUILT (the day has
    articles or discussions but no edition yet), or NOTHING_TO_SEND."""

    day: date
    state: str
    subject: str = ""
    recipients: int = 0
    delivered: int = 0
    deferred: int = 0
    failed: int = 0


def calendar(*, engine: Engine, settings: Settings, first: date, last: date) -> list[DayState]:
    """The days from `first` to `last`, newest first."""
    days = [last - timedelta(days=n) for n in range((last - first).days + 1)]
    with session_scope(engine) as session:
        editions = {
            e.edition_date: e
            for e in session.scalars(
                select(Edition).where(Edition.edition_date.between(days[-1], days[0]))
            )
        }
        result = []
        for day in days:
            edition = editions.get(day)
            if edition is None:
                has = _has_content(session, day, settings)
                result.append(DayState(day, NOT_BUILT if has else NOTHING_TO_SEND))
                continue
            result.append(_state(session, edition))
    return result


def earlier_editions(*, engine: Engine, before: date, limit: int = 10) -> list[DayState]:
    """The latest editions before `before`, newest first, with their delivery counts."""
    with session_scope(engine) as session:
        editions = session.scalars(
            select(Edition)
            .where(Edition.edition_date < before)
            .order_by(Edition.edition_date.desc())
            .limit(limit)
        ).all()
        return [_state(session, e) for e in editions]


def _state(session: Session, edition: Edition) -> DayState:
    counts = queries.delivery_counts(session=session, edition_id=edition.id)
    return DayState(
        edition.edition_date,
        edition.status.value,
        subject=edition.subject,
        recipients=sum(counts.values()),
        delivered=counts[DeliveryStatus.SENT],
        deferred=counts[DeliveryStatus.DEFERRED],
        failed=counts[DeliveryStatus.FAILED],
    )


def _has_content(session: Session, day: date, settings: Settings) -> bool:
    start, end = day_bounds(day, settings.timezone)
    articles = session.scalar(
        select(func.count())
        .select_from(Article)
        .where(Article.published_at >= start, Article.published_at < end)
    )
    threads = session.scalar(
        select(func.count())
        .select_from(Thread)
        .where(Thread.last_activity_at >= start, Thread.last_activity_at < end)
    )
    return bool(articles or threads)


@dataclass(frozen=True)
class Moment:
    """Deliveries in each state at one time, counted from the edition's first queued one."""

    at: datetime
    sent: int
    deferred: int
    failed: int
    waiting: int


@dataclass(frozen=True)
class Casualty:
    email: str
    status: str  # bounced or complained
    at: datetime | None
    cause: str


@dataclass(frozen=True)
class DeliveryReport:
    day: date
    state: str
    counts: dict[DeliveryStatus, int]
    timeline: list[Moment]
    # (state, reply code or None for a dropped connection, count, one of the replies)
    errors: list[tuple[str, int | None, int, str]]
    casualties: list[Casualty]
    skipped_empty: int


TIMELINE_POINTS = 24


def delivery_report(*, engine: Engine, day: date) -> DeliveryReport:
    """How a sending or sent edition's deliveries went: states over time (from each
    delivery's last change), refusals by reply code, readers who bounced or complained."""
    with session_scope(engine) as session:
        edition = require_edition(session=session, day=day)
        rows = session.execute(
            select(Delivery.status, Delivery.sent_at, Delivery.updated_at).where(
                Delivery.edition_id == edition.id
            )
        ).all()
        progress = sending_progress(
            session=session,
            edition_id=edition.id,
            now=datetime.now(UTC),
            skipped_reason=EMPTY_EDITION,
        )
        return DeliveryReport(
            day=day,
            state=edition.status.value,
            counts=progress.counts,
            timeline=_timeline([(s, sent or changed) for s, sent, changed in rows]),
            errors=[(s.value, code, n, sample or "") for s, code, n, sample in progress.errors],
            casualties=_casualties(session, edition.id),
            skipped_empty=progress.skipped_empty,
        )


def _timeline(events: Sequence[tuple[DeliveryStatus, datetime]]) -> list[Moment]:
    """TIMELINE_POINTS evenly spaced moments from the first change to the last: at each, how
    many deliveries had reached their present state (the rest were waiting)."""
    if not events:
        return []
    first = min(at for _, at in events)
    last = max(at for _, at in events)
    span = (last - first) / (TIMELINE_POINTS - 1) if last > first else timedelta(0)
    moments = []
    for n in range(TIMELINE_POINTS if span else 1):
        at = first + span * n if n < TIMELINE_POINTS - 1 else last
        done = [status for status, changed in events if changed <= at]
        sent = done.count(DeliveryStatus.SENT)
        deferred = done.count(DeliveryStatus.DEFERRED)
        failed = done.count(DeliveryStatus.FAILED)
        moments.append(Moment(at, sent, deferred, failed, len(events) - sent - deferred - failed))
    return moments


def _casualties(session: Session, edition_id: int) -> list[Casualty]:
    found = session.scalars(
        select(Subscriber)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(
            Delivery.edition_id == edition_id,
            Subscriber.status.in_([SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED]),
        )
        .order_by(Subscriber.email)
    ).all()
    result = []
    for subscriber in found:
        event = session.scalars(
            select(SubscriberEvent)
            .where(SubscriberEvent.subscriber_id == subscriber.id)
            .order_by(SubscriberEvent.id.desc())
            .limit(1)
        ).first()
        result.append(
            Casualty(
                subscriber.email,
                subscriber.status.value,
                event.at if event else None,
                event.cause if event else "",
            )
        )
    return result
