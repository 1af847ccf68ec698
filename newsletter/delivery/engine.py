"""Sending an edition through the delivery ledger: one row per edition and subscriber, so that
running again sends only what is left and nobody gets an edition twice.

A sender claims deliveries in batches (marked `sending`, with a lease), hands them to N
connections, and records each outcome; a connection does not let the relay accept its next
message until the previous one is recorded as sent. So a sender killed at any moment leaves
at most one accepted-but-unrecorded message per connection: after `kill -9`, at most
`delivery.connections` subscribers get the edition twice (with the same Message-ID), and its
claims are taken over once its lease runs out (at once on the same host, where a dead pid shows).

The entry points here take a built edition as plain records (`BuiltEdition`); the `Sender`
below them sees only the two protocols of `newsletter.delivery.protocols`."""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from newsletter.config import Settings
from newsletter.content import EditionContent
from newsletter.delivery.compose import Messages, Variant
from newsletter.delivery.ledger import queries
from newsletter.delivery.ledger.rules import ClaimedDelivery, Job, RetryPolicy
from newsletter.delivery.ledger.sql import SqlLedger
from newsletter.delivery.ledger.writer import Committed
from newsletter.delivery.protocols import Connection, Ledger
from newsletter.delivery.report import EMPTY_EDITION, SendReport
from newsletter.delivery.smtp.mime import Envelope
from newsletter.delivery.smtp.pool import RateLimit, SenderPool
from newsletter.delivery.smtp.transport import (
    ConnectionLost,
    RecipientRefused,
    RelayUnreachable,
    SmtpTransport,
)
from newsletter.errors import (
    AwaitingApproval,
    DeliveryError,
    RelayDown,
    SenderConflict,
)
from newsletter.store.db import session_scope, store_error
from newsletter.store.models import Edition, EditionStatus, SubscriberStatus
from subscribers import normalize_address
from subscribers.outcomes import mark_bounced

_CLAIM = 200  # deliveries claimed per transaction
# How long a thread may hold the GIL while another waits (Python's default: 5 ms). See
# `Sender.deliver`.
_SWITCH_SECONDS = 0.0005
_POLL = 1.0  # seconds between looks at the ledger while waiting for retries or other senders
_DRY_BATCH = 500

Progress = Callable[[int, int], None]
Notice = Callable[[str], None]


@dataclass(frozen=True)
class BuiltEdition:
    """A built edition as delivery takes it: its row's id and state, and its content as plain
    records. Whoever builds editions makes these; delivery never builds one."""

    id: int
    status: EditionStatus
    content: EditionContent

    @property
    def day(self) -> date:
        return self.content.edition_date


def send(
    *,
    engine: Engine,
    settings: Settings,
    edition: BuiltEdition,
    progress: Progress | None = None,
    worker: bool = False,
    transport: Connection | None = None,
    enqueue: bool = True,
    notice: Notice | None = None,
) -> SendReport:
    """Deliver the edition to every active subscriber who has not had it; `progress(done,
    total)` is called as outcomes are recorded. Retries 4xx replies and lost connections with
    back-off within the run; what is still deferred at the end is in `report.left`.

    Without `worker`, the edition has one sender: a second one is refused while the first
    holds claims. With `worker` (PostgreSQL), any number share it. `transport` sends through
    that one open connection instead of `settings.delivery.connections` new ones. Without
    `enqueue`, only deliveries already in the ledger are sent: nobody new is added. `notice`
    hears of retries to reach the relay. With `edition.require_approval`, a draft is not sent
    (AwaitingApproval)."""
    require_send_settings(settings)
    require_sender_store(engine, worker=worker)
    day = edition.day
    report = SendReport(day)
    if settings.edition.require_approval and edition.status is EditionStatus.DRAFT:
        raise AwaitingApproval(
            f"the edition of {day} waits for approval: nothing sent (an editor approves it "
            f"at /desk or with `newsletter editions approve {day}`)"
        )
    messages = Messages(edition.content, settings)
    with session_scope(engine) as session:
        choices = queries.section_choices(session=session)
    # Everything a send needs is checked before the ledger or the edition changes: every
    # variant renders, and the relay answers. Until then the edition stays as it was (a draft
    # can be built again, nothing shows on /archive).
    messages.render_all(choices)
    _reach_relay(settings, day, transport, notice)
    with session_scope(engine) as session:
        row = session.get_one(Edition, edition.id)
        if enqueue:
            report.queued = queries.enqueue_deliveries(session=session, edition_id=edition.id)
        if row.status is not EditionStatus.SENT:
            row.status = EditionStatus.SENDING
        queries.wake_deferred(session=session, edition_id=edition.id, now=datetime.now(UTC))
        total = queries.unfinished_deliveries(session=session, edition_id=edition.id)
    d = settings.delivery
    ledger = SqlLedger(
        engine,
        edition_id=edition.id,
        lease=timedelta(seconds=d.lease_seconds),
        policy=RetryPolicy(max_attempts=d.max_attempts, backoff_seconds=d.backoff_seconds),
        report=report,
        exclusive=not worker,
    )
    ledger.release_dead()  # a sender of this host killed earlier: its claims are due now
    connections: Sequence[Connection] = (
        [transport]
        if transport is not None
        else [
            SmtpTransport(settings.smtp, max_messages=d.messages_per_connection)
            for _ in range(d.connections)
        ]
    )
    sender = Sender(
        ledger,
        connections,
        messages=messages,
        rate=RateLimit(per_second=d.rate_per_second, per_hour=d.rate_per_hour),
        lease_seconds=d.lease_seconds,
        close_connections=transport is None,
        bounced=lambda causes: _take_off_list(engine, causes),
    )
    try:
        sender.deliver(report, progress=progress, total=total)
    except DBAPIError as exc:
        raise store_error(exc, engine.url) from exc
    report.left = _finish(engine, edition.id)
    return report


def require_send_settings(settings: Settings) -> None:
    """What every message needs: checked first, so that a send or run missing one changes
    nothing (no draft built, no edition marked as being sent)."""
    settings.require_secret_key()
    settings.require_base_url()
    settings.require_from()


def require_sender_store(engine: Engine, *, worker: bool) -> None:
    """Several senders of one edition need PostgreSQL's row locks."""
    if worker and engine.dialect.name != "postgresql":
        raise SenderConflict(
            "--worker needs PostgreSQL: on SQLite one `newsletter send` sends an edition"
        )


def _reach_relay(
    settings: Settings, day: date, transport: Connection | None, notice: Notice | None
) -> None:
    """Open one connection to the relay, trying `delivery.max_attempts` times with the same
    back-off as a deferred recipient (a relay restarting comes back within seconds). Still
    unreachable: RelayDown (exit 4), with nothing changed."""
    d = settings.delivery
    probe = transport or SmtpTransport(settings.smtp)
    try:
        for attempt in range(1, d.max_attempts + 1):
            try:
                probe.open()
                return
            except RelayUnreachable as exc:
                if attempt == d.max_attempts:
                    raise RelayDown(
                        f"{exc} ({d.max_attempts} tries): nothing was sent and the edition of "
                        f"{day.isoformat()} is unchanged; run again later "
                        f"(`newsletter run --date {day.isoformat()}`)"
                    ) from exc
                wait = d.backoff_seconds * 2 ** (attempt - 1)
                if notice is not None:
                    notice(f"{exc}: trying again in {wait:g} s")
                time.sleep(wait)
    finally:
        if transport is None:
            probe.close()


def dry_run(*, engine: Engine, settings: Settings, edition: BuiltEdition) -> int:
    """Compose the message of every subscriber a send would reach now, as it would be sent;
    send and record nothing. Returns how many were composed."""
    composed = after = 0
    messages = Messages(edition.content, settings)
    with session_scope(engine) as session:
        while batch := queries.recipients_awaiting(
            session=session, edition_id=edition.id, after_id=after, limit=_DRY_BATCH
        ):
            for subscriber in batch:
                variant = messages.variant(
                    lang=subscriber.lang,
                    sections=subscriber.sections,
                    other_languages=subscriber.other_languages,
                )
                if messages.is_empty(variant):
                    continue
                messages.envelope(
                    variant=variant,
                    to_address=subscriber.email,
                    to_name=subscriber.name,
                    unsubscribe=messages.unsubscribe_url(subscriber.link_key),
                    preferences=messages.preferences_url(subscriber.link_key),
                    message_id=messages.message_id(
                        subscriber_id=subscriber.id, key=subscriber.link_key
                    ),
                )
                composed += 1
            after = batch[-1].id
            session.expunge_all()  # what was read is not kept: memory stays flat
    return composed


def send_test(
    *, settings: Settings, content: EditionContent, to: str, lang: str, transport: Connection
) -> str:
    """One copy to one address, made as subscribers' copies are and recorded nowhere: for
    editors checking an edition. Its links are signed like a subscriber's, and their pages
    say they belong to a test copy and change nothing."""
    settings.require_secret_key()
    address = normalize_address(to)
    messages = Messages(content, settings)
    envelope = messages.envelope(
        variant=messages.variant(lang=lang),
        to_address=address,
        to_name=None,
        unsubscribe=messages.unsubscribe_url(None),
        preferences=messages.preferences_url(None),
        message_id=messages.new_message_id(),
    )
    try:
        transport.deliver(envelope)
    except (RecipientRefused, ConnectionLost) as exc:
        raise DeliveryError(f"the test copy to {address} was not accepted: {exc}") from exc
    return address


def _take_off_list(engine: Engine, causes: dict[int, str]) -> int:
    """Addresses the relay said are gone, applied by the subscribers package in a transaction
    of their own (rare)."""
    with session_scope(engine) as session:
        return mark_bounced(session=session, causes=causes)


def _finish(engine: Engine, edition_id: int) -> int:
    """The edition is sent once nothing is pending, claimed or deferred; returns what is left."""
    with session_scope(engine) as session:
        left = queries.unfinished_deliveries(session=session, edition_id=edition_id)
        edition = session.get_one(Edition, edition_id)
        # Not a draft: `build` may have made it one again meanwhile (nothing was sent).
        if left == 0 and edition.status is EditionStatus.SENDING:
            edition.status = EditionStatus.SENT
        return left


@dataclass
class _Backlog:
    """What this sender holds: claimed jobs waiting for a connection (`ready`), and how many
    claims are not yet on record (`held`, which includes those being sent)."""

    ready: deque[Job] = field(default_factory=deque)
    held: int = 0

    def wants_more(self) -> bool:
        return len(self.ready) < _CLAIM // 2


@dataclass
class _Claiming:
    """When to claim next: at once while there is work, every half poll once none is left.
    The first claim of an exclusive sender that finds nothing checks for another sender."""

    next_at: float = field(default_factory=time.monotonic)
    first: bool = True

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def found_nothing(self, now: float) -> None:
        self.next_at = now + _POLL / 2


@dataclass
class _Renewal:
    """A live sender's leases are renewed three times per lease, so they never run out."""

    every: float
    last: float = field(default_factory=time.monotonic)

    def due(self, now: float) -> bool:
        if now - self.last > self.every:
            self.last = now
            return True
        return False


@dataclass
class _Meter:
    """Progress as outcomes are recorded; the callback hears only changes."""

    report: SendReport
    total: int
    show: Progress | None
    shown: int = 0

    def update(self) -> None:
        r = self.report
        done = r.sent + r.failed + r.skipped
        if self.show is not None and done != self.shown:
            self.shown = done
            self.show(done, self.total)


class Sender:
    """One process's part in sending one edition: claim, compose, hand over to the
    connections, wait for retries and for other senders, until nothing is left for this run.
    Knows the ledger and the connections only by their protocols."""

    def __init__(
        self,
        ledger: Ledger,
        connections: Sequence[Connection],
        *,
        messages: Messages,
        rate: RateLimit,
        lease_seconds: float,
        close_connections: bool,
        bounced: Callable[[dict[int, str]], int],
    ) -> None:
        self.ledger = ledger
        self.connections = connections
        self.messages = messages
        self.rate = rate
        self.lease_seconds = lease_seconds
        self.close_connections = close_connections
        self.bounced = bounced
        self._variants: dict[tuple[str, tuple[str, ...], bool], Variant] = {}

    def deliver(self, report: SendReport, *, progress: Progress | None, total: int) -> None:
        """Send until nothing is left for this run. Meanwhile the interpreter switches threads
        every half millisecond instead of every 5: each connection wakes from a socket read
        several times per message, and a thread running Python (composing, the writer's
        statement) would otherwise keep it waiting longer than the relay takes to answer."""
        backlog = _Backlog()
        switch = sys.getswitchinterval()
        sys.setswitchinterval(_SWITCH_SECONDS)
        try:
            with (
                self.ledger,
                SenderPool(
                    connections=self.connections,
                    rate=self.rate,
                    compose=self._compose,
                    record=self.ledger.record,
                    close_connections=self.close_connections,
                ) as pool,
            ):
                self._feed(pool, backlog, report, _Meter(report, total, progress))
        finally:
            sys.setswitchinterval(switch)
            self.ledger.release_own()
            # What was recorded after the loop stopped: its bounces still count.
            self._recorded(backlog, report, self.ledger.committed())
        if (error := self.ledger.failure()) is not None:
            raise error
        if pool.fatal is not None:
            raise pool.fatal

    def _feed(
        self, pool: SenderPool[Job], backlog: _Backlog, report: SendReport, meter: _Meter
    ) -> None:
        ledger = self.ledger
        claiming = _Claiming()
        renewal = _Renewal(self.lease_seconds / 3)
        while pool.fatal is None and ledger.failure() is None:
            self._recorded(backlog, report, ledger.committed())
            meter.update()
            now = time.monotonic()
            if renewal.due(now):
                ledger.renew()
            if backlog.wants_more() and claiming.due(now):
                claimed = self._claim(backlog)
                if not claimed:
                    if claiming.first and self.ledger.exclusive:
                        self._refuse_if_busy()
                    claiming.found_nothing(now)
                claiming.first = False
            if backlog.ready:
                if pool.submit(backlog.ready[0], timeout=0.2):
                    backlog.ready.popleft()
                continue
            if backlog.held > 0:
                self._recorded(backlog, report, ledger.committed(timeout=0.2))
                continue
            wake = ledger.release_dead()
            if wake is None:
                return
            delay = (wake - datetime.now(UTC)).total_seconds()
            time.sleep(min(max(delay, 0.1), _POLL))
            claiming.next_at = time.monotonic()

    def _recorded(self, backlog: _Backlog, report: SendReport, done: list[Committed]) -> None:
        """Count what the ledger recorded, and hand the addresses found gone to the
        subscribers package."""
        backlog.held -= sum(c.deliveries for c in done)
        gone = dict(cause for c in done for cause in c.gone)
        if gone:
            report.bounced += self.bounced(gone)

    def _claim(self, backlog: _Backlog) -> int:
        claims = self.ledger.claim(_CLAIM)
        for claim in claims:
            job = Job(
                claim,
                self.messages.message_id(subscriber_id=claim.subscriber_id, key=claim.link_key),
            )
            if claim.subscriber_status is not SubscriberStatus.ACTIVE:
                self.ledger.record(job, None, "left the list after the edition was queued")
            elif self.messages.is_empty(self._variant(claim)):
                self.ledger.record(job, None, EMPTY_EDITION)
            else:
                backlog.ready.append(job)
        backlog.held += len(claims)
        return len(claims)

    def _compose(self, job: Job) -> Envelope:
        claim = job.claim
        return self.messages.envelope(
            variant=self._variant(claim),
            to_address=claim.email,
            to_name=claim.name,
            unsubscribe=self.messages.unsubscribe_url(claim.link_key),
            preferences=self.messages.preferences_url(claim.link_key),
            message_id=job.message_id,
        )

    def _variant(self, claim: ClaimedDelivery) -> Variant:
        key = (claim.lang, claim.sections, claim.other_languages)
        variant = self._variants.get(key)
        if variant is None:  # a few per edition: most readers choose no sections
            variant = self._variants[key] = self.messages.variant(
                lang=claim.lang, sections=claim.sections, other_languages=claim.other_languages
            )
        return variant

    def _refuse_if_busy(self) -> None:
        holder = self.ledger.live_holder()
        if holder is not None:
            owner, until = holder
            raise SenderConflict(
                f"the edition is being sent by {owner.rsplit(':', 1)[0]} (its claims run until "
                f"{until:%H:%M:%S} UTC): one sender per edition; on PostgreSQL, share it with "
                "`newsletter send --worker`"
            )
