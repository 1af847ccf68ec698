"""Operator actions on single subscribers, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.errors import NewsletterError
from newsletter.languages import DEFAULT_LANGUAGE
from newsletter.store.models import Subscriber, SubscriberStatus
from newsletter.store.queries import get_subscriber
from subscribers.errors import Suppressed
from subscribers.history import record_change, record_new
from subscribers.suppression import is_suppressed
from subscribers.validate import normalize_address, validate_lang, validate_name


def add_subscriber(
    *,
    session: Session,
    email: str,
    name: str | None = None,
    lang: str = DEFAULT_LANGUAGE,
    cause: str = "added by the operator",
) -> Subscriber:
    """Store a new active subscriber; never revives one who left, as that needs their consent,
    and refuses an address whose owner asked to be forgotten."""
    address = normalize_address(email)
    checked_name = validate_name(name)
    checked_lang = validate_lang(lang)
    stored = get_subscriber(session=session, email=address)
    if stored is not None:
        if stored.status is SubscriberStatus.ACTIVE:
            raise NewsletterError(f"{stored.email} is already subscribed")
        raise NewsletterError(
            f"{stored.email} is {stored.status.value}: subscribing them again needs their "
            "consent, given through the confirmation email of the subscribe page"
        )
    if is_suppressed(session=session, address=address):
        raise Suppressed(f"{address} was forgotten on request and must not be mailed again")
    subscriber = Subscriber(
        email=address, name=checked_name, lang=checked_lang, status=SubscriberStatus.ACTIVE
    )
    session.add(subscriber)
    flush_new(session, f"{address} was added meanwhile")
    record_new(session=session, subscriber=subscriber, cause=cause)
    return subscriber


def flush_new(session: Session, clash: str) -> None:
    """Flush added subscribers, turning a unique-index clash into an error the user can read.

    The check before an insert cannot see a row that another session stores meanwhile.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        raise NewsletterError(f"{clash}; nothing was stored") from exc


def remove_subscriber(
    *, session: Session, email: str, cause: str = "removed by the operator"
) -> bool:
    """Stop mailing the address, keeping the row and its history (`forget` erases them).
    False when it was not being mailed already."""
    stored = get_subscriber(session=session, email=email.strip())
    if stored is None:
        raise NewsletterError(f"no subscriber with the address {email.strip()!r}")
    if stored.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        return False  # already not mailed, and the stronger reason should stay visible
    changed = record_change(
        session=session, subscriber=stored, status=SubscriberStatus.UNSUBSCRIBED, cause=cause
    )
    session.flush()
    return changed
