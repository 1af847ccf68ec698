"""Sending an edition through the delivery ledger: one row per edition and subscriber, so that
running again sends only what is left and nobody gets an edition twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine

from newsletter.config import Settings
from newsletter.deliver import RecipientRefused, Transport
from newsletter.edition import Messages, build, content_of, load_content, require_edition
from newsletter.store import queries
from newsletter.store.db import session_scope
from newsletter.store.models import DeliveryStatus, Edition, EditionStatus, SubscriberStatus
from subscribers import normalize_address

_BATCH = 200


@dataclass
class SendReport:
    edition_date: date
    queued: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def send(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    transport: Transport,
    progress: Callable[[int, int], None] | None = None,
) -> SendReport:
    """Deliver the edition to every active subscriber who has not had it; `progress(done, total)`
    is called after each recipient.

    Each delivery is marked `sending` (committed) before its message goes out and `sent` after,
    so a run killed between the two resends at most the one message that was in flight, with the
    same Message-ID; every other subscriber gets the edition exactly once."""
    settings.require_secret_key()
    report = SendReport(day)
    with session_scope(engine) as session:
        edition = require_edition(session=session, day=day)
        messages = Messages(content_of(edition, settings), settings)
        edition_id = edition.id
        report.queued = queries.enqueue_deliveries(session=session, edition_id=edition_id)
        if edition.status is not EditionStatus.SENT:
            edition.status = EditionStatus.SENDING
        counts = queries.delivery_counts(session=session, edition_id=edition_id)
    total = counts[DeliveryStatus.PENDING] + counts[DeliveryStatus.SENDING]
    sender = _Sender(engine, messages, transport, report)
    for done, (delivery_id, recipient) in enumerate(_unsent(engine, edition_id), 1):
        sender.deliver(delivery_id, recipient)
        if progress is not None:
            progress(done, total)
    _finish(engine, edition_id)
    return report


def dry_run(*, engine: Engine, settings: Settings, day: date) -> int:
    """Compose the message of every subscriber a send would reach now; send and record nothing.
    Returns how many were composed."""
    composed = after = 0
    with session_scope(engine) as session:
        edition = require_edition(session=session, day=day)
        messages = Messages(content_of(edition, settings), settings)
        edition_id = edition.id
        while batch := queries.recipients_awaiting(
            session=session, edition_id=edition_id, after_id=after, limit=_BATCH
        ):
            for subscriber in batch:
                messages.message(
                    lang=subscriber.lang,
                    to_address=subscriber.email,
                    to_name=subscriber.name,
                    unsubscribe=messages.unsubscribe_url(subscriber.id),
                )
            composed += len(batch)
            after = batch[-1].id
    return composed


def send_test(
    *, engine: Engine, settings: Settings, day: date, to: str, lang: str, transport: Transport
) -> str:
    """One copy to one address, recorded nowhere: for editors checking an edition."""
    address = normalize_address(to)
    messages = Messages(load_content(engine=engine, settings=settings, day=day), settings)
    transport.send(
        messages.message(
            lang=lang,
            to_address=address,
            to_name=None,
            unsubscribe=f"{settings.require_base_url()}/unsubscribe/test",
        )
    )
    return address


def run(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    transport: Transport,
    progress: Callable[[int, int], None] | None = None,
) -> SendReport:
    """What cron calls: build the day's edition unless it exists, then send what is left."""
    with session_scope(engine) as session:
        exists = queries.get_edition(session=session, edition_date=day) is not None
    if not exists:
        build(engine=engine, settings=settings, day=day)
    return send(engine=engine, settings=settings, day=day, transport=transport, progress=progress)


@dataclass(frozen=True)
class _Recipient:
    id: int
    email: str
    name: str | None
    lang: str
    status: SubscriberStatus
    message_id: str | None


def _unsent(engine: Engine, edition_id: int) -> Iterator[tuple[int, _Recipient]]:
    """Unsent deliveries in batches, each read in its own short transaction."""
    after = 0
    while True:
        with session_scope(engine) as session:
            batch = [
                (d.id, _Recipient(s.id, s.email, s.name, s.lang, s.status, d.message_id))
                for d, s in queries.deliveries_to_send(
                    session=session, edition_id=edition_id, after_id=after, limit=_BATCH
                )
            ]
        if not batch:
            return
        yield from batch
        after = batch[-1][0]


@dataclass
class _Sender:
    engine: Engine
    messages: Messages
    transport: Transport
    report: SendReport

    def deliver(self, delivery_id: int, recipient: _Recipient) -> None:
        if recipient.status is not SubscriberStatus.ACTIVE:
            self._mark(delivery_id, DeliveryStatus.SKIPPED, f"subscriber is {recipient.status}")
            self.report.skipped += 1
            return
        message = self.messages.message(
            lang=recipient.lang,
            to_address=recipient.email,
            to_name=recipient.name,
            unsubscribe=self.messages.unsubscribe_url(recipient.id),
            # Kept from an earlier attempt, so a resent copy carries the same Message-ID.
            message_id=recipient.message_id,
        )
        self._mark(delivery_id, DeliveryStatus.SENDING, message_id=str(message["Message-ID"]))
        try:
            self.transport.send(message)
        except RecipientRefused as refused:
            permanent = refused.permanent
            self._mark(
                delivery_id,
                DeliveryStatus.FAILED if permanent else DeliveryStatus.PENDING,
                str(refused),
            )
            self.report.errors.append(f"{recipient.email}: {refused}")
            if permanent:
                self.report.failed += 1
            else:
                self.report.deferred += 1
            return
        except BaseException as exc:
            # The relay went away mid-message: unknown, so it is retried on the next run.
            self._mark(delivery_id, DeliveryStatus.PENDING, str(exc))
            raise
        self._mark(delivery_id, DeliveryStatus.SENT)
        self.report.sent += 1

    def _mark(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        error: str | None = None,
        message_id: str | None = None,
    ) -> None:
        with session_scope(self.engine) as session:
            queries.mark_delivery(
                session=session,
                delivery_id=delivery_id,
                status=status,
                error=error,
                message_id=message_id,
            )


def _finish(engine: Engine, edition_id: int) -> None:
    """The edition is sent once nothing is pending or in flight."""
    with session_scope(engine) as session:
        counts = queries.delivery_counts(session=session, edition_id=edition_id)
        if counts[DeliveryStatus.PENDING] == 0 and counts[DeliveryStatus.SENDING] == 0:
            edition = session.get(Edition, edition_id)
            assert edition is not None
            edition.status = EditionStatus.SENT
