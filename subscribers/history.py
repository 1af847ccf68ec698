"""Every change of a subscriber's state goes through `record_change`, so the history table can
answer "why did X stop getting the edition" for web, CLI and bounce-processing changes alike."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from newsletter.store.models import Subscriber, SubscriberEvent, SubscriberStatus

MAX_CAUSE_LENGTH = 300  # the width of subscriber_events.cause


def record_change(
    *,
    session: Session,
    subscriber: Subscriber,
    status: SubscriberStatus,
    cause: str,
    at: datetime | None = None,
) -> bool:
    """Put a stored `subscriber` in `status` and record when and why; False, recording nothing,
    when it already was there (so repeated clicks and retried bounces leave one entry).

    `cause` is a short sentence for the operator, such as "bounce: 550 5.1.1 user unknown"."""
    old = subscriber.status
    if old is status:
        return False
    when = at or datetime.now(UTC)
    subscriber.status = status
    if status is SubscriberStatus.UNSUBSCRIBED:
        subscriber.unsubscribed_at = when
    session.add(_event(subscriber.id, old, status, cause, when))
    return True


def record_new(
    *, session: Session, subscriber: Subscriber, cause: str, at: datetime | None = None
) -> None:
    """Record the state a subscriber just stored (flushed, so it has an id) starts in."""
    when = at or datetime.now(UTC)
    session.add(_event(subscriber.id, None, subscriber.status, cause, when))


def event_values(
    *, subscriber_id: int, status: SubscriberStatus, cause: str, at: datetime
) -> dict[str, object]:
    """A new subscriber's first event as insert values, for bulk imports."""
    return {
        "subscriber_id": subscriber_id,
        "at": at,
        "old_status": None,
        "new_status": status,
        "cause": _cause(cause),
    }


def _event(
    subscriber_id: int,
    old: SubscriberStatus | None,
    new: SubscriberStatus,
    cause: str,
    at: datetime,
) -> SubscriberEvent:
    if subscriber_id is None:
        raise ValueError("flush a new subscriber before recording its history")
    return SubscriberEvent(
        subscriber_id=subscriber_id, at=at, old_status=old, new_status=new, cause=_cause(cause)
    )


def _cause(text: str) -> str:
    return " ".join(text.split())[:MAX_CAUSE_LENGTH]
