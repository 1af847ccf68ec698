"""The delivery ledger while an edition is being sent: who holds which deliveries (claims with
a lease), and a recorder thread that writes outcomes in batches, one commit for many messages,
and tells each connection when its last message is on disk."""

from __future__ import annotations

import os
import queue
import secrets
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import sessionmaker

from newsletter.config import DeliverySettings
from newsletter.deliver.pool import LOST, REFUSED, SENT, UNTRIED, Attempt, Wait
from newsletter.deliver.replies import address_gone
from newsletter.store import queries
from newsletter.store.models import DeliveryStatus, SubscriberStatus
from subscribers.history import record_change

_BATCH = 500  # outcomes per commit at most
_EXAMPLES = 20  # refusals listed in the report; the rest are counted by reply code
# The reason recorded on a delivery skipped because the reader's edition held nothing that
# day; `newsletter status` counts these apart from readers who left the list.
EMPTY_EDITION = "empty edition: nothing of the day in their language and sections"


@dataclass
class SendReport:
    edition_date: date
    queued: int = 0
    sent: int = 0
    deferred: int = 0  # retries scheduled in this run
    failed: int = 0
    skipped: int = 0
    skipped_empty: int = 0  # of `skipped`: their edition would have held nothing
    bounced: int = 0  # subscribers marked bounced by a "no such user" reply
    left: int = 0  # deliveries of the edition still to go when this run ended
    by_code: Counter[int | None] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def new_owner() -> str:
    """This process's name on its claims: host and pid tell a dead local sender apart."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def dead_owners(owners: list[str]) -> list[str]:
    """The owners that were processes of this host which no longer exist: their claims need
    not wait for the lease to run out."""
    here = socket.gethostname()[:60]
    dead = []
    for owner in owners:
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if host != here or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.append(owner)
        except PermissionError:
            pass  # alive, someone else's
    return dead


@dataclass(frozen=True)
class Job:
    claim: queries.ClaimedDelivery
    message_id: str


@dataclass
class _Entry:
    job: Job
    attempt: Attempt | None  # None: skipped, for `reason`
    reason: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Recorder:
    """Writes attempts to the ledger from its own thread. `record` returns at once; the wait it
    returns blocks until that attempt is committed (and raises if recording failed)."""

    def __init__(self, engine: Engine, *, delivery: DeliverySettings, report: SendReport) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._delivery = delivery
        self.report = report
        self._entries: queue.Queue[_Entry | None] = queue.Queue()
        self.finished: queue.Queue[int] = queue.Queue()  # deliveries recorded, per commit
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ledger", daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._entries.put(None)
        self._thread.join()

    def record(self, job: Job, attempt: Attempt | None, reason: str | None = None) -> Wait:
        """`attempt` None: the delivery is skipped, for `reason`."""
        entry = _Entry(job, attempt, reason)
        self._entries.put(entry)

        def wait() -> None:
            entry.done.wait()
            if self.error is not None:
                raise self.error

        return wait

    def _run(self) -> None:
        # One connection of its own for the run: a commit per batch must cost little besides
        # the statement.
        connection: Connection | None = None
        try:
            connection = self._engine.connect()
            queries.relax_commits(connection=connection)
            connection.commit()
        except BaseException as exc:  # recorded: every wait raises it, the senders stop
            self.error = exc
        try:
            self._loop(connection)
        finally:
            if connection is not None:
                connection.close()

    def _loop(self, connection: Connection | None) -> None:
        stop = False
        while not stop:
            first = self._entries.get()
            batch: list[_Entry] = []
            if first is None:
                stop = True
            else:
                batch.append(first)
            while len(batch) < _BATCH:
                try:
                    entry = self._entries.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    stop = True
                else:
                    batch.append(entry)
            if batch:
                self._write(connection, batch)

    def _write(self, connection: Connection | None, batch: list[_Entry]) -> None:
        now = datetime.now(UTC)
        outcomes = [self._outcome(entry, now) for entry in batch]
        gone = [
            (e.job.claim.subscriber_id, f"bounce: {e.attempt.code} {e.attempt.reply}")
            for e in batch
            if e.attempt is not None
            and e.attempt.outcome == REFUSED
            and address_gone(e.attempt.code or 0, e.attempt.reply or "")
        ]
        try:
            if self.error is None and connection is not None:
                with connection.begin():
                    queries.record_outcomes(connection=connection, outcomes=outcomes)
                bounced = self._bounce(gone)
                self._count(batch, outcomes, bounced)
        except BaseException as exc:  # the database went away: stop the senders
            self.error = exc
        for entry in batch:
            entry.done.set()
        self.finished.put(len(batch))

    def _outcome(self, entry: _Entry, now: datetime) -> queries.DeliveryOutcome:
        claim, attempt = entry.job.claim, entry.attempt
        if attempt is None:
            return queries.DeliveryOutcome(
                claim.id, DeliveryStatus.SKIPPED, tried=False, error=entry.reason
            )
        if attempt.outcome == UNTRIED:
            status = DeliveryStatus.DEFERRED if claim.attempts else DeliveryStatus.PENDING
            next_at = now if claim.attempts else None
            return queries.DeliveryOutcome(claim.id, status, tried=False, next_attempt_at=next_at)
        if attempt.outcome == SENT:
            return queries.DeliveryOutcome(
                claim.id, DeliveryStatus.SENT, message_id=entry.job.message_id
            )
        code = attempt.code
        error = f"{code} {attempt.reply}" if attempt.outcome == REFUSED else attempt.reply
        if attempt.outcome == REFUSED and code is not None and code >= 500:
            return queries.DeliveryOutcome(
                claim.id, DeliveryStatus.FAILED, reply_code=code, error=error
            )
        assert attempt.outcome in (REFUSED, LOST)
        return queries.DeliveryOutcome(
            claim.id,
            DeliveryStatus.DEFERRED,
            reply_code=code,
            error=error,
            next_attempt_at=self._retry_at(claim.attempts + 1, now),
            message_id=entry.job.message_id,
        )

    def _retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """Back-off base * 2^(k-1) after the k-th try of this run; after `max_attempts` tries,
        None: the delivery waits for the next run."""
        tries = (attempts - 1) % self._delivery.max_attempts + 1
        if tries >= self._delivery.max_attempts:
            return None
        return now + timedelta(seconds=self._delivery.backoff_seconds * 2 ** (tries - 1))

    def _bounce(self, gone: list[tuple[int, str]]) -> int:
        """Take subscribers whose address is gone off the list (rare: its own transaction)."""
        if not gone:
            return 0
        causes = dict(gone)
        marked = 0
        with self._sessions.begin() as session:
            for subscriber in queries.subscribers_by_ids(session=session, ids=sorted(causes)):
                if subscriber.status not in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
                    continue  # left meanwhile: that stronger reason stays on record
                marked += record_change(
                    session=session,
                    subscriber=subscriber,
                    status=SubscriberStatus.BOUNCED,
                    cause=causes[subscriber.id],
                )
        return marked

    def _count(
        self, batch: list[_Entry], outcomes: list[queries.DeliveryOutcome], bounced: int
    ) -> None:
        r = self.report
        r.bounced += bounced
        for entry, outcome in zip(batch, outcomes, strict=True):
            if outcome.status is DeliveryStatus.SENT:
                r.sent += 1
            elif outcome.status is DeliveryStatus.SKIPPED:
                r.skipped += 1
                r.skipped_empty += entry.reason == EMPTY_EDITION
            elif outcome.status in (DeliveryStatus.FAILED, DeliveryStatus.DEFERRED) and (
                entry.attempt is not None and entry.attempt.outcome != UNTRIED
            ):
                if outcome.status is DeliveryStatus.FAILED:
                    r.failed += 1
                else:
                    r.deferred += 1
                r.by_code[outcome.reply_code] += 1
                if len(r.errors) < _EXAMPLES:
                    r.errors.append(f"{entry.job.claim.email}: {outcome.error}")
