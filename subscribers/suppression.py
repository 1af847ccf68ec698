"""Erasing a person while remembering never to mail them: a hash of the address survives them.

The hash is an unkeyed SHA-256 of the normalised, lower-cased address. Keyed with the secret, it
would be harder to confirm a guessed address, but rotating NEWSLETTER_SECRET_KEY would then
silently empty the list and mail people who asked to be forgotten, which is the worse failure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from newsletter.store.models import Suppression
from newsletter.store.queries import get_subscriber
from subscribers.queries import suppressed_among
from subscribers.validate import normalize_address

_DOMAIN = b"newsletter-suppression:"  # a hash of this list matches no other list's hashes


def address_hash(address: str) -> str:
    """The suppression key of an already normalised address (same for any capitalisation)."""
    return hashlib.sha256(_DOMAIN + address.lower().encode("utf-8")).hexdigest()


def is_suppressed(*, session: Session, address: str) -> bool:
    return bool(suppressed_among(session=session, hashes=[address_hash(address)]))


@dataclass(frozen=True)
class Forgotten:
    address: str
    erased: bool  # a subscriber row (with its history and deliveries) was deleted
    newly_suppressed: bool


def forget(*, session: Session, email: str, reason: str = "erased on request") -> Forgotten:
    """Delete everything stored about the address and add it to the suppression list. Works for
    addresses not on the list too, so a request can be honoured before an import brings them."""
    address = normalize_address(email)
    stored = get_subscriber(session=session, email=address)
    if stored is not None:
        session.delete(stored)  # deliveries and history go with it (ON DELETE CASCADE)
    key = address_hash(address)
    newly = not suppressed_among(session=session, hashes=[key])
    if newly:
        session.add(Suppression(address_hash=key, reason=reason))
    session.flush()
    return Forgotten(address=address, erased=stored is not None, newly_suppressed=newly)
