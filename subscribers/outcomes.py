"""What delivery outcomes do to subscribers: an address the relay says is gone, or a bounce or
complaint report, takes its subscriber off the list with the cause in their history. Delivery
hands these back; it never changes a subscriber itself."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from newsletter.store.models import Subscriber, SubscriberStatus
from subscribers.history import record_change
from subscribers.queries import subscribers_by_ids

# Only people still (or about to be) on the list change state: an unsubscribed address that
# bounces later stays unsubscribed, as they chose.
ON_THE_LIST = (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)


def take_off_list(
    *, session: Session, subscriber: Subscriber, status: SubscriberStatus, cause: str
) -> bool:
    """Put a subscriber who is on the list in `status` (bounced, complained); False, changing
    nothing, for one who left or was taken off already: that stronger reason stays on record."""
    if subscriber.status not in ON_THE_LIST:
        return False
    return record_change(session=session, subscriber=subscriber, status=status, cause=cause)


def mark_bounced(*, session: Session, causes: Mapping[int, str]) -> int:
    """Take the subscribers with these ids off the list as bounced, each with its cause (the
    relay's reply); returns how many changed."""
    return sum(
        take_off_list(
            session=session,
            subscriber=subscriber,
            status=SubscriberStatus.BOUNCED,
            cause=causes[subscriber.id],
        )
        for subscriber in subscribers_by_ids(session=session, ids=sorted(causes))
    )
