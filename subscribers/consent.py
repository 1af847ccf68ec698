"""Double opt-in and leaving: what the subscription pages do, as library functions.

Nothing here tells a caller whether an address was already on the list: the subscribe page
must answer the same either way."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from newsletter.store.models import Subscriber, SubscriberStatus
from newsletter.store.queries import get_subscriber
from subscribers.errors import InvalidValue
from subscribers.history import record_change, record_new
from subscribers.service import flush_new
from subscribers.suppression import is_suppressed
from subscribers.validate import normalize_address, validate_lang

# A second form submission within this time sends no second email: someone typing a stranger's
# address repeatedly, from many client addresses, cannot flood that stranger's inbox.
RESEND_AFTER = timedelta(minutes=10)
MAX_SECTIONS = 100


@dataclass(frozen=True)
class Confirmation:
    """A confirmation email to send now."""

    subscriber_id: int
    email: str
    lang: str
    key: str  # the subscriber's link key, which the confirmation link carries


def request_subscription(
    *, session: Session, email: str, lang: str, now: datetime, cause: str
) -> Confirmation | None:
    """Make the address pending (unless it is active) and say whether to email it a link.

    Active subscribers, complainants and forgotten addresses get no email; someone who left or
    bounced comes back as pending, because returning needs the same consent as joining."""
    address = normalize_address(email)
    checked_lang = validate_lang(lang)
    if is_suppressed(session=session, address=address):
        return None
    subscriber = get_subscriber(session=session, email=address)
    if subscriber is None:
        subscriber = Subscriber(email=address, lang=checked_lang, status=SubscriberStatus.PENDING)
        session.add(subscriber)
        flush_new(session, f"{address} was added meanwhile")
        record_new(session=session, subscriber=subscriber, cause=cause, at=now)
    elif subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.COMPLAINED):
        # Complained: marked us as spam; a form anyone can fill must not mail them again.
        return None
    else:
        sent = subscriber.confirmation_sent_at
        if subscriber.status is SubscriberStatus.PENDING and sent and now - sent < RESEND_AFTER:
            return None
        subscriber.lang = checked_lang
        record_change(
            session=session,
            subscriber=subscriber,
            status=SubscriberStatus.PENDING,
            cause=cause,
            at=now,
        )
    subscriber.confirmation_sent_at = now
    session.flush()
    return Confirmation(subscriber.id, subscriber.email, subscriber.lang, subscriber.link_key)


def confirmation_failed(*, session: Session, subscriber_id: int) -> None:
    """The email did not go out: let the next form submission try again at once."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        subscriber.confirmation_sent_at = None


class Confirmed(enum.Enum):
    NOW = "now"
    ALREADY = "already"
    GONE = "gone"  # left or erased since the link was sent: the link no longer speaks for them


def confirm(*, session: Session, subscriber_id: int, now: datetime, cause: str) -> Confirmed:
    """Activate a pending subscriber; opening the link again changes nothing."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return Confirmed.GONE
    if subscriber.status is SubscriberStatus.ACTIVE:
        return Confirmed.ALREADY
    if subscriber.status is not SubscriberStatus.PENDING:
        return Confirmed.GONE
    record_change(
        session=session, subscriber=subscriber, status=SubscriberStatus.ACTIVE, cause=cause, at=now
    )
    subscriber.confirmed_at = now
    return Confirmed.NOW


def unsubscribe(*, session: Session, subscriber_id: int, now: datetime, cause: str) -> bool:
    """Stop mailing the subscriber; True if this call changed anything. A complaint stays a
    complaint, and an erased subscriber is already never mailed."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status is SubscriberStatus.COMPLAINED:
        return False
    return record_change(
        session=session,
        subscriber=subscriber,
        status=SubscriberStatus.UNSUBSCRIBED,
        cause=cause,
        at=now,
    )


def update_preferences(
    *,
    session: Session,
    subscriber_id: int,
    lang: str,
    sections: Sequence[str],
    offered: Sequence[str],
    other_languages: bool = False,
) -> Subscriber | None:
    """Store the edition language, the chosen sections (a subset of `offered`; none chosen
    means everything) and whether they want the other language's headlines too. None when the
    subscriber no longer exists."""
    checked_lang = validate_lang(lang)
    known = set(offered)
    chosen = list(dict.fromkeys(tag.strip().lower() for tag in sections))
    unknown = [tag for tag in chosen if tag not in known]
    if unknown:
        raise InvalidValue("section", unknown[0], "not one of the sections on offer")
    if len(chosen) > MAX_SECTIONS:
        raise InvalidValue("sections", f"{len(chosen)} sections", f"more than {MAX_SECTIONS}")
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    subscriber.lang = checked_lang
    subscriber.sections = sorted(chosen)
    subscriber.other_languages = other_languages
    return subscriber
