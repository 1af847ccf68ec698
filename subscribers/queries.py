"""Named queries of the subscribers package, keyword-only like those of `newsletter.store`."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from newsletter.store.models import Subscriber, SubscriberEvent, Suppression
from subscribers.tokens import Link

_IN_CHUNK = 500  # stays under SQLite's bound-parameter limit
_LIST_CHUNK = 20_000  # addresses passed as one array parameter


def history_of(*, session: Session, subscriber_id: int) -> Sequence[SubscriberEvent]:
    """A subscriber's state changes, oldest first."""
    return session.scalars(
        select(SubscriberEvent)
        .where(SubscriberEvent.subscriber_id == subscriber_id)
        .order_by(SubscriberEvent.at, SubscriberEvent.id)
    ).all()


def subscriber_for_link(*, session: Session, link: Link) -> Subscriber | None:
    """The subscriber a genuine link speaks for; None when their row is gone (or for a test
    copy's link). A link carrying a row id finds only a row that was on the list when such links
    were mailed: a row that took over the id of an erased one has never been sent them."""
    if link.key is not None:
        return session.scalars(select(Subscriber).where(Subscriber.link_key == link.key)).first()
    if link.legacy_id is not None:
        found = session.get(Subscriber, link.legacy_id)
        return found if found is not None and found.legacy_id_links else None
    return None


def suppressed_among(*, session: Session, hashes: Sequence[str]) -> set[str]:
    """Which of these address hashes are on the suppression list."""
    found: set[str] = set()
    for start in range(0, len(hashes), _IN_CHUNK):
        chunk = hashes[start : start + _IN_CHUNK]
        found.update(
            session.scalars(
                select(Suppression.address_hash).where(Suppression.address_hash.in_(chunk))
            )
        )
    return found


# The addresses go in as one array parameter, unnested by the database: an IN list of 100 000
# `lower(?)` terms would cost more to compile than the import costs to store.
_STORED_AMONG = {
    "postgresql": "SELECT email FROM subscribers "
    "WHERE lower(email) IN (SELECT lower(k) FROM unnest(CAST(:keys AS text[])) AS k)",
    "sqlite": "SELECT email FROM subscribers "
    "WHERE lower(email) IN (SELECT lower(value) FROM json_each(:keys))",
}


def stored_addresses(*, session: Session, emails: Sequence[str]) -> set[str]:
    """Python-lower-cased stored addresses that the unique index counts as one of `emails`:
    the database lower-cases both sides, as its index does (SQLite folds ASCII only)."""
    dialect = session.get_bind().dialect.name
    statement = text(_STORED_AMONG[dialect])
    found: set[str] = set()
    for start in range(0, len(emails), _LIST_CHUNK):
        chunk = list(emails[start : start + _LIST_CHUNK])
        keys: object = chunk if dialect == "postgresql" else json.dumps(chunk)
        found.update(stored.lower() for stored in session.scalars(statement, {"keys": keys}))
    return found


def subscribers_by_ids(*, session: Session, ids: Sequence[int]) -> list[Subscriber]:
    found: list[Subscriber] = []
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        found.extend(session.scalars(select(Subscriber).where(Subscriber.id.in_(chunk))))
    return found
