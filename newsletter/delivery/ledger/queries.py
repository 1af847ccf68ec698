"""The ledger's queries: one row per edition and subscriber, claimed with a lease, recorded in
batches. What a row becomes is decided in `rules`; these only read and write it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as lite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from newsletter.delivery.ledger.rules import ClaimedDelivery, DeliveryOutcome, released
from newsletter.store.models import (
    Delivery,
    DeliveryStatus,
    Edition,
    EditionStatus,
    Subscriber,
    SubscriberStatus,
)
from newsletter.store.queries import IN_CHUNK, delivery_counts


def editions_left_sending(*, session: Session, before: date) -> Sequence[date]:
    """Days before `before` whose edition is still being sent: recipients the relay deferred
    through a whole run, which the next day's `run` finishes first."""
    return session.scalars(
        select(Edition.edition_date)
        .where(Edition.status == EditionStatus.SENDING, Edition.edition_date < before)
        .order_by(Edition.edition_date)
    ).all()


def enqueue_deliveries(*, session: Session, edition_id: int) -> int:
    """Add a pending delivery for every active subscriber who has none for this edition yet.

    One INSERT ... SELECT, so memory does not grow with the list; ON CONFLICT DO NOTHING lets
    several workers enqueue the same edition at once."""
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
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else lite_insert
    statement = (
        dialect_insert(Delivery)
        .from_select(["edition_id", "subscriber_id", "status", "attempts", "updated_at"], rows)
        .on_conflict_do_nothing()
    )
    # SQLAlchemy keeps an INSERT's row count only when asked (psycopg's would read -1).
    result = session.execute(statement.execution_options(preserve_rowcount=True))
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim_deliveries(
    *,
    session: Session,
    edition_id: int,
    owner: str,
    limit: int,
    now: datetime,
    lease_until: datetime,
    exclusive: bool,
) -> list[ClaimedDelivery]:
    """Take up to `limit` (at most 500) deliveries due now, in id order: claims whose lease ran
    out first, then retries whose time has come, then pending ones. FOR UPDATE SKIP LOCKED lets
    PostgreSQL workers claim side by side without waiting for each other (SQLite serialises
    writers and ignores it). `exclusive` claims nothing while another owner holds a live lease."""
    due = (
        # No lease at all: left `sending` by a version of this program that kept none.
        and_(
            Delivery.status == DeliveryStatus.SENDING,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        ),
        and_(Delivery.status == DeliveryStatus.DEFERRED, Delivery.next_attempt_at <= now),
        Delivery.status == DeliveryStatus.PENDING,
    )
    others = (
        select(Delivery.id)
        .where(
            Delivery.edition_id == edition_id,
            Delivery.status == DeliveryStatus.SENDING,
            Delivery.lease_owner != owner,
            Delivery.lease_until >= now,
        )
        .exists()
    )
    if not 0 < limit <= IN_CHUNK:
        raise ValueError(f"claim between 1 and {IN_CHUNK} deliveries, not {limit}")
    ids: list[int] = []
    for condition in due:
        if len(ids) >= limit:
            break
        pick = (
            select(Delivery.id)
            .where(Delivery.edition_id == edition_id, condition)
            .order_by(Delivery.id)
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        )
        if exclusive:
            pick = pick.where(~others)
        ids.extend(
            session.scalars(
                update(Delivery)
                .where(Delivery.id.in_(pick.scalar_subquery()))
                .values(status=DeliveryStatus.SENDING, lease_owner=owner, lease_until=lease_until)
                .returning(Delivery.id)
            )
        )
    rows = session.execute(
        select(
            Delivery.id,
            Subscriber.id,
            Subscriber.link_key,
            Subscriber.email,
            Subscriber.name,
            Subscriber.lang,
            Subscriber.status,
            Delivery.attempts,
            Subscriber.sections,
            Subscriber.other_languages,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    )
    return [ClaimedDelivery(*row[:8], tuple(row[8] or ()), bool(row[9])) for row in rows]


def _in_id_order(*conditions: ColumnElement[bool]) -> ScalarSelect[int]:
    """The ids of the deliveries matching `conditions`, locked in id order (PostgreSQL).

    Every statement that updates several deliveries of a shared edition locks them in id order,
    so two senders waiting on each other's rows cannot deadlock: one waits for the other.
    """
    return (
        select(Delivery.id)
        .where(*conditions)
        .order_by(Delivery.id)
        .with_for_update()
        .scalar_subquery()
    )


def renew_leases(*, session: Session, edition_id: int, owner: str, until: datetime) -> None:
    """Keep what `owner` still holds: a live sender's claims never run out under it."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(
                _in_id_order(
                    Delivery.edition_id == edition_id,
                    Delivery.status == DeliveryStatus.SENDING,
                    Delivery.lease_owner == owner,
                )
            )
        )
        .values(lease_until=until)
    )


def release_claims(
    *, session: Session, edition_id: int, owners: Sequence[str], now: datetime
) -> int:
    """Give back what `owners` claimed and did not try, as `rules.released` says: their leases
    end in one statement that locks the rows in id order (see `_in_id_order`), then each row
    takes the state the rule gives it, in the same transaction."""
    held = session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(
                _in_id_order(
                    Delivery.edition_id == edition_id,
                    Delivery.status == DeliveryStatus.SENDING,
                    Delivery.lease_owner.in_(owners),
                )
            )
        )
        .values(lease_owner=None, lease_until=None)
        .returning(Delivery.id, Delivery.attempts)
    ).all()
    if not held:
        return 0
    outcomes = [released(delivery_id=i, attempts=attempts, now=now) for i, attempts in held]
    table = Delivery.__table__
    assert isinstance(table, Table)
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            next_attempt_at=bindparam("b_next", type_=Delivery.next_attempt_at.type),
        ),
        [
            {"b_id": o.delivery_id, "b_status": o.status.value, "b_next": o.next_attempt_at}
            for o in sorted(outcomes, key=lambda o: o.delivery_id)
        ],
    )
    return len(outcomes)


def lease_holders(*, session: Session, edition_id: int) -> dict[str, datetime]:
    """Every owner holding claims on the edition, with the end of its latest lease."""
    rows = session.execute(
        select(Delivery.lease_owner, func.max(Delivery.lease_until))
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.SENDING)
        .group_by(Delivery.lease_owner)
    )
    return {owner: until for owner, until in rows if owner is not None and until is not None}


def wake_deferred(*, session: Session, edition_id: int, now: datetime) -> None:
    """Retries that an earlier run left for the next one become due now."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.edition_id == edition_id,
            Delivery.status == DeliveryStatus.DEFERRED,
            Delivery.next_attempt_at.is_(None),
        )
        .values(next_attempt_at=now)
    )


def next_wakeup(*, session: Session, edition_id: int, owner: str) -> datetime | None:
    """When something of the edition next becomes claimable: now if anything is pending (a
    dead sender's claims just given back, say), else a scheduled retry or the end of another
    sender's lease. None when nothing is left to wait for in this run."""
    pending = session.scalar(
        select(Delivery.id)
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.PENDING)
        .limit(1)
    )
    if pending is not None:
        return datetime.now(UTC)
    retry = session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.DEFERRED
        )
    )
    lease = session.scalar(
        select(func.min(Delivery.lease_until)).where(
            Delivery.edition_id == edition_id,
            Delivery.status == DeliveryStatus.SENDING,
            Delivery.lease_owner != owner,
        )
    )
    times = [t for t in (retry, lease) if t is not None]
    return min(times) if times else None


def relax_commits(*, connection: Connection) -> None:
    """Let this connection's commits return before the disk has them: what they record is safe
    from a crash of this process (the database server or the OS has it); only a crash of the
    machine itself could lose the last moments. For SQLite in WAL mode this is what SQLite
    advises anyway."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET synchronous_commit TO OFF"))
    else:
        connection.execute(text("PRAGMA synchronous = NORMAL"))


def _record_statement() -> Update:
    table = Delivery.__table__
    assert isinstance(table, Table)
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            attempts=table.c.attempts + bindparam("b_tried"),
            message_id=func.coalesce(bindparam("b_message_id"), table.c.message_id),
            reply_code=bindparam("b_code"),
            last_error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next", type_=Delivery.next_attempt_at.type),
            sent_at=bindparam("b_sent_at", type_=Delivery.sent_at.type),
            updated_at=bindparam("b_now", type_=Delivery.updated_at.type),
            lease_owner=None,
            lease_until=None,
        )
    )


# Built once: it runs for every few messages sent, and building it costs more than running it.
_RECORD = _record_statement()


def record_outcomes(*, connection: Connection, outcomes: Sequence[DeliveryOutcome]) -> None:
    """Record many deliveries' outcomes in one statement (executemany) and release their
    claims: the ledger keeps up with several connections at a commit per batch."""
    if not outcomes:
        return
    now = datetime.now(UTC)
    # In id order, like every multi-row update of deliveries (see `_in_id_order`).
    outcomes = sorted(outcomes, key=lambda o: o.delivery_id)
    connection.execute(
        _RECORD,
        [
            {
                "b_id": o.delivery_id,
                "b_status": o.status.value,
                "b_tried": int(o.tried),
                "b_message_id": o.message_id,
                "b_code": o.reply_code,
                "b_error": o.error,
                "b_next": o.next_attempt_at,
                "b_sent_at": now if o.status is DeliveryStatus.SENT else None,
                "b_now": now,
            }
            for o in outcomes
        ],
    )


def recipients_awaiting(
    *, session: Session, edition_id: int, after_id: int, limit: int
) -> Sequence[Subscriber]:
    """Active subscribers the edition has not reached yet, in id order; reads, never writes."""
    reached = select(Delivery.id).where(
        Delivery.edition_id == edition_id,
        Delivery.subscriber_id == Subscriber.id,
        Delivery.status.not_in(_UNFINISHED),
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


def section_choices(*, session: Session) -> list[tuple[str, list[str]]]:
    """Every distinct (language, sections) among active subscribers: the variants a send can
    make, which must all render before an edition goes out. Compared as text, as PostgreSQL's
    JSON type has no equality."""
    rows = session.execute(
        select(Subscriber.lang, cast(Subscriber.sections, String))
        .where(Subscriber.status == SubscriberStatus.ACTIVE)
        .distinct()
    )
    return [(lang, json.loads(sections or "[]")) for lang, sections in rows]


def unfinished_deliveries(*, session: Session, edition_id: int) -> int:
    """Deliveries still to go: pending, claimed or deferred."""
    return int(
        session.scalar(
            select(func.count()).where(
                Delivery.edition_id == edition_id, Delivery.status.in_(_UNFINISHED)
            )
        )
        or 0
    )


@dataclass(frozen=True)
class SendingProgress:
    counts: dict[DeliveryStatus, int]
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    sent_last_minute: int
    # (status, reply code, count, one of the replies) of deferred and failed deliveries
    errors: list[tuple[DeliveryStatus, int | None, int, str | None]]
    senders: dict[str, datetime]
    skipped_empty: int = 0  # skipped deliveries recorded with `skipped_reason`


def sending_progress(
    *, session: Session, edition_id: int, now: datetime, skipped_reason: str = ""
) -> SendingProgress:
    """What `newsletter status` shows; only reads, so it runs beside a sender."""
    first, last, recent = session.execute(
        select(
            func.min(Delivery.sent_at),
            func.max(Delivery.sent_at),
            func.count().filter(Delivery.sent_at >= now - timedelta(minutes=1)),
        ).where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.SENT)
    ).one()
    errors = session.execute(
        select(Delivery.status, Delivery.reply_code, func.count(), func.max(Delivery.last_error))
        .where(
            Delivery.edition_id == edition_id,
            Delivery.status.in_([DeliveryStatus.DEFERRED, DeliveryStatus.FAILED]),
        )
        .group_by(Delivery.status, Delivery.reply_code)
        .order_by(func.count().desc())
    )
    return SendingProgress(
        counts=delivery_counts(session=session, edition_id=edition_id),
        first_sent_at=first,
        last_sent_at=last,
        sent_last_minute=int(recent or 0),
        errors=[(status, code, int(count), sample) for status, code, count, sample in errors],
        senders=lease_holders(session=session, edition_id=edition_id),
        skipped_empty=int(
            session.scalar(
                select(func.count()).where(
                    Delivery.edition_id == edition_id,
                    Delivery.status == DeliveryStatus.SKIPPED,
                    Delivery.last_error == skipped_reason,
                )
            )
            or 0
        ),
    )


_UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)
