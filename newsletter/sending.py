"""Sending an edition through the delivery ledger: one row per edition and subscriber, so that
running again sends only what is left and nobody gets an edition twice.

A sender claims deliveries in batches (marked `sending`, with a lease), hands them to N SMTP
connections, and records each outcome; a connection does not let the relay accept its next
message until the previous one is recorded as sent. So a sender killed at any moment leaves
at most one accepted-but-unrecorded message per connection: after `kill -9`, at most
`delivery.connections` subscribers get the edition twice (with the same Message-ID), and its
claims are taken over once its lease runs out (at once on the same host, where a dead pid shows).
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from newsletter.config import Settings
from newsletter.deliver import SmtpTransport
from newsletter.deliver.mime import Envelope
from newsletter.deliver.pool import Connection, RateLimit, SenderPool
from newsletter.deliver.transport import ConnectionLost, RecipientRefused, RelayUnreachable
from newsletter.edition import build, content_of, missing_edition, require_edition
from newsletter.errors import (
    AwaitingApproval,
    BuildRace,
    DeliveryError,
    NewsletterError,
    RelayDown,
    SenderConflict,
)
from newsletter.ledger import (
    EMPTY_EDITION,
    Job,
    Recorder,
    SendReport,
    dead_owners,
    new_owner,
)
from newsletter.messages import Messages, Variant
from newsletter.store import queries
from newsletter.store.db import session_scope, store_error
from newsletter.store.models import Edition, EditionStatus, SubscriberStatus
from subscribers import normalize_address

__all__ = [
    "EditionProgress",
    "SendReport",
    "dry_run",
    "progress_of",
    "resume_earlier",
    "run",
    "send",
    "send_test",
]

_CLAIM = 200  # deliveries claimed per transaction
_POLL = 1.0  # seconds between looks at the ledger while waiting for retries or other senders
_DRY_BATCH = 500

Progress = Callable[[int, int], None]
Notice = Callable[[str], None]


def send(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    progress: Progress | None = None,
    worker: bool = False,
    transport: SmtpTransport | None = None,
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
    if worker and engine.dialect.name != "postgresql":
        raise SenderConflict(
            "--worker needs PostgreSQL: on SQLite one `newsletter send` sends an edition"
        )
    report = SendReport(day)
    with session_scope(engine) as session:
        edition = require_edition(session=session, day=day)
        if settings.edition.require_approval and edition.status is EditionStatus.DRAFT:
            raise AwaitingApproval(
                f"the edition of {day} waits for approval: nothing sent (an editor approves it "
                f"at /desk or with `newsletter editions approve {day}`)"
            )
        messages = Messages(content_of(edition, settings), settings)
        edition_id = edition.id
        choices = queries.section_choices(session=session)
    # Everything a send needs is checked before the ledger or the edition changes: every
    # variant renders, and the relay answers. Until then the edition stays as it was (a draft
    # can be built again, nothing shows on /archive).
    messages.render_all(choices)
    _reach_relay(settings, day, transport, notice)
    with session_scope(engine) as session:
        edition = session.get_one(Edition, edition_id)
        if enqueue:
            report.queued = queries.enqueue_deliveries(session=session, edition_id=edition_id)
        if edition.status is not EditionStatus.SENT:
            edition.status = EditionStatus.SENDING
        queries.wake_deferred(session=session, edition_id=edition_id, now=datetime.now(UTC))
        total = queries.unfinished_deliveries(session=session, edition_id=edition_id)
    _release_dead(engine, edition_id, owner="")
    _Run(engine, settings, edition_id, messages, report, exclusive=not worker).deliver(
        transport=transport, progress=progress, total=total
    )
    report.left = _finish(engine, edition_id)
    return report


def require_send_settings(settings: Settings) -> None:
    """What every message needs: checked first, so that a send or run missing one changes
    nothing (no draft built, no edition marked as being sent)."""
    settings.require_secret_key()
    settings.require_base_url()
    settings.require_from()


def _reach_relay(
    settings: Settings, day: date, transport: SmtpTransport | None, notice: Notice | None
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


def run(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    progress: Progress | None = None,
    transport: SmtpTransport | None = None,
    notice: Notice | None = None,
) -> SendReport:
    """What cron calls: build the day's edition unless it exists, then send what is left.
    The settings a send needs are checked before anything is built."""
    require_send_settings(settings)
    with session_scope(engine) as session:
        exists = queries.get_edition(session=session, edition_date=day) is not None
    if not exists:
        with suppress(BuildRace):  # another run built it meanwhile: send that one
            build(engine=engine, settings=settings, day=day)
    return send(
        engine=engine,
        settings=settings,
        day=day,
        progress=progress,
        transport=transport,
        notice=notice,
    )


def resume_earlier(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    progress: Progress | None = None,
    notice: Notice | None = None,
) -> tuple[list[SendReport], list[NewsletterError]]:
    """Finish the editions before `day` that are still being sent (the relay deferred some of
    their recipients through a whole run): a daily cron job then skips nobody. Only those
    recipients: someone who joined since gets today's edition, not a backlog of old ones.

    An earlier edition that fails is returned with its error, and the others go on: one bad
    day must never hold up the days after it."""
    with session_scope(engine) as session:
        days = queries.editions_left_sending(session=session, before=day)
    reports: list[SendReport] = []
    failures: list[NewsletterError] = []
    for earlier in days:
        try:
            reports.append(
                send(
                    engine=engine,
                    settings=settings,
                    day=earlier,
                    progress=progress,
                    enqueue=False,
                    notice=notice,
                )
            )
        except NewsletterError as exc:
            failures.append(exc)
    return reports, failures


def dry_run(*, engine: Engine, settings: Settings, day: date) -> int:
    """Compose the message of every subscriber a send would reach now, as it would be sent;
    send and record nothing. Returns how many were composed."""
    composed = after = 0
    with session_scope(engine) as session:
        edition = require_edition(session=session, day=day)
        messages = Messages(content_of(edition, settings), settings)
        edition_id = edition.id
        while batch := queries.recipients_awaiting(
            session=session, edition_id=edition_id, after_id=after, limit=_DRY_BATCH
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
    *, engine: Engine, settings: Settings, day: date, to: str, lang: str, transport: SmtpTransport
) -> str:
    """One copy to one address, made as subscribers' copies are and recorded nowhere: for
    editors checking an edition. Its links are signed like a subscriber's, and their pages
    say they belong to a test copy and change nothing."""
    settings.require_secret_key()
    address = normalize_address(to)
    with session_scope(engine) as session:
        content = content_of(require_edition(session=session, day=day), settings)
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


@dataclass(frozen=True)
class EditionProgress:
    edition_date: date
    status: EditionStatus
    progress: queries.SendingProgress


def progress_of(*, engine: Engine, settings: Settings, day: date) -> EditionProgress:
    """How the sending of an edition stands: what `newsletter status` shows. Reads only, so it
    runs beside senders. Without an edition, the error says whether the day had nothing."""
    with session_scope(engine) as session:
        edition = queries.get_edition(session=session, edition_date=day)
        if edition is None:
            raise missing_edition(session=session, settings=settings, day=day)
        return EditionProgress(
            day,
            edition.status,
            queries.sending_progress(
                session=session,
                edition_id=edition.id,
                now=datetime.now(UTC),
                skipped_reason=EMPTY_EDITION,
            ),
        )


class _Run:
    """One process's part in sending one edition."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        edition_id: int,
        messages: Messages,
        report: SendReport,
        *,
        exclusive: bool,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.edition_id = edition_id
        self.messages = messages
        self.report = report
        self.exclusive = exclusive
        self.owner = new_owner()
        self.lease = timedelta(seconds=settings.delivery.lease_seconds)

    def deliver(
        self, *, transport: SmtpTransport | None, progress: Progress | None, total: int
    ) -> None:
        d = self.settings.delivery
        connections: list[Connection] = (
            [transport]
            if transport is not None
            else [
                SmtpTransport(self.settings.smtp, max_messages=d.messages_per_connection)
                for _ in range(d.connections)
            ]
        )
        recorder = Recorder(self.engine, delivery=d, report=self.report)
        try:
            with (
                recorder,
                SenderPool(
                    connections=connections,
                    rate=RateLimit(per_second=d.rate_per_second, per_hour=d.rate_per_hour),
                    compose=self._compose,
                    record=recorder.record,
                    close_connections=transport is None,
                ) as pool,
            ):
                self._feed(pool, recorder, progress, total)
        finally:
            with session_scope(self.engine) as session:
                queries.release_claims(
                    session=session,
                    edition_id=self.edition_id,
                    owners=[self.owner],
                    now=datetime.now(UTC),
                )
        if isinstance(recorder.error, DBAPIError):
            raise store_error(recorder.error, self.engine.url) from recorder.error
        if recorder.error is not None:
            raise recorder.error
        if pool.fatal is not None:
            raise pool.fatal

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

    def _variant(self, claim: queries.ClaimedDelivery) -> Variant:
        return self.messages.variant(
            lang=claim.lang, sections=claim.sections, other_languages=claim.other_languages
        )

    def _feed(
        self,
        pool: SenderPool[Job],
        recorder: Recorder,
        progress: Progress | None,
        total: int,
    ) -> None:
        """Claim, hand over, renew leases, wait for retries and for other senders, until
        nothing of the edition is left for this run."""
        held = 0  # claimed by this process and not yet recorded
        ready: deque[Job] = deque()
        next_claim = renewed = time.monotonic()
        first = True
        shown = 0
        while pool.fatal is None and recorder.error is None:
            held -= _drain(recorder.finished)
            r = self.report
            if progress is not None and r.sent + r.failed + r.skipped != shown:
                shown = r.sent + r.failed + r.skipped
                progress(shown, total)
            now = time.monotonic()
            if now - renewed > self.lease.total_seconds() / 3:
                self._renew()
                renewed = now
            if len(ready) < _CLAIM // 2 and now >= next_claim:
                claimed = self._claim(recorder, ready)
                held += claimed
                if not claimed:
                    if first and self.exclusive:
                        self._refuse_if_busy()
                    next_claim = now + _POLL / 2
                first = False
            if ready:
                if pool.submit(ready[0], timeout=0.2):
                    ready.popleft()
                continue
            if held > 0:
                held -= _drain(recorder.finished, timeout=0.2)
                continue
            wake = _release_dead(self.engine, self.edition_id, owner=self.owner)
            if wake is None:
                return
            delay = (wake - datetime.now(UTC)).total_seconds()
            time.sleep(min(max(delay, 0.1), _POLL))
            next_claim = time.monotonic()

    def _claim(self, recorder: Recorder, ready: deque[Job]) -> int:
        now = datetime.now(UTC)
        with session_scope(self.engine) as session:
            claims = queries.claim_deliveries(
                session=session,
                edition_id=self.edition_id,
                owner=self.owner,
                limit=_CLAIM,
                now=now,
                lease_until=now + self.lease,
                exclusive=self.exclusive,
            )
        for claim in claims:
            job = Job(
                claim,
                self.messages.message_id(subscriber_id=claim.subscriber_id, key=claim.link_key),
            )
            if claim.subscriber_status is not SubscriberStatus.ACTIVE:
                recorder.record(job, None, "left the list after the edition was queued")
            elif self.messages.is_empty(self._variant(claim)):
                recorder.record(job, None, EMPTY_EDITION)
            else:
                ready.append(job)
        return len(claims)

    def _renew(self) -> None:
        with session_scope(self.engine) as session:
            queries.renew_leases(
                session=session,
                edition_id=self.edition_id,
                owner=self.owner,
                until=datetime.now(UTC) + self.lease,
            )

    def _refuse_if_busy(self) -> None:
        with session_scope(self.engine) as session:
            holders = queries.lease_holders(session=session, edition_id=self.edition_id)
        now = datetime.now(UTC)
        live = {o: until for o, until in holders.items() if o != self.owner and until >= now}
        if live:
            owner, until = next(iter(live.items()))
            raise SenderConflict(
                f"the edition is being sent by {owner.rsplit(':', 1)[0]} (its claims run until "
                f"{until:%H:%M:%S} UTC): one sender per edition; on PostgreSQL, share it with "
                "`newsletter send --worker`"
            )


def _drain(finished: queue.Queue[int], timeout: float | None = None) -> int:
    """Sum what the recorder has reported; waits up to `timeout` for the first report."""
    total = 0
    try:
        total += finished.get(timeout=timeout) if timeout else finished.get_nowait()
        while True:
            total += finished.get_nowait()
    except queue.Empty:
        return total


def _release_dead(engine: Engine, edition_id: int, *, owner: str) -> datetime | None:
    """Free the claims of dead senders of this host; then when something next becomes due
    (None: nothing is left for this run)."""
    with session_scope(engine) as session:
        holders = queries.lease_holders(session=session, edition_id=edition_id)
        dead = dead_owners([o for o in holders if o != owner])
        now = datetime.now(UTC)
        if dead:
            queries.release_claims(session=session, edition_id=edition_id, owners=dead, now=now)
            return now
        return queries.next_wakeup(session=session, edition_id=edition_id, owner=owner)


def _finish(engine: Engine, edition_id: int) -> int:
    """The edition is sent once nothing is pending, claimed or deferred; returns what is left."""
    with session_scope(engine) as session:
        left = queries.unfinished_deliveries(session=session, edition_id=edition_id)
        edition = session.get_one(Edition, edition_id)
        # Not a draft: `build` may have made it one again meanwhile (nothing was sent).
        if left == 0 and edition.status is EditionStatus.SENDING:
            edition.status = EditionStatus.SENT
        return left
