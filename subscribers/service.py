"""Adding and removing single subscribers: operator actions, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.errors import NewsletterError
from newsletter.store.models import Subscriber, SubscriberStatus
from newsletter.store.queries import get_subscriber
from subscribers.validate import DEFAULT_LANG, normalize_address, validate_lang, validate_name


def add_subscriber(
    *, session: Session, email: str, name: str | None = None, lang: str = DEFAULT_LANG
) -> Subscriber:
    """Store a new active subscriber; never revives one who left, as that needs their consent."""
    address = normalize_address(email)
    checked_name = validate_name(name)
    checked_lang = validate_lang(lang)
    stored = get_subscriber(session=session, email=address)
    if stored is not None:
        if stored.status is SubscriberStatus.ACTIVE:
            raise NewsletterError(f"{stored.email} is already subscribed")
        raise NewsletterError(
            f"{stored.email} is {stored.status.value}: subscribing them again needs their "
            "consent through a confirmation email, which is not available yet"
        )
    subscriber = Subscriber(
        email=address, name=checked_name, lang=checked_lang, status=SubscriberStatus.ACTIVE
    )
    session.add(subscriber)
    flush_new(session, f"{address} was added meanwhile")  # the id is for unsubscribe tokens
    return subscriber


def flush_new(session: Session, clash: str) -> None:
    """Flush added subscribers, turning a unique-index clash into an error the user can read.

    The check before an insert cannot see a row that another session stores meanwhile.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        raise NewsletterError(f"{clash}; nothing was stored") from exc


def remove_subscriber(*, session: Session, email: str) -> None:
    """Delete the subscriber outright (their deliveries go with them through ON DELETE CASCADE)."""
    stored = get_subscriber(session=session, email=email.strip())
    if stored is None:
        raise NewsletterError(f"no subscriber with the address {email.strip()!r}")
    session.delete(stored)
    session.flush()
