"""The writer thread: records attempts in the ledger in batches, one commit for many messages,
and tells each connection when its last message is on disk.

Waiting is one condition and one counter: every entry gets a number in arrival order, and a
wait returns once the counter of committed entries has passed its number. An event per
message cost each send a lock of its own and a wake-up on every commit."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from newsletter.delivery.bounces.replies import address_gone
from newsletter.delivery.ledger import queries
from newsletter.delivery.ledger.rules import (
    REFUSED,
    UNTRIED,
    Attempt,
    DeliveryOutcome,
    Job,
    RetryPolicy,
    after_attempt,
    skipped,
)
from newsletter.delivery.protocols import Wait
from newsletter.delivery.report import EMPTY_EDITION, SendReport
from newsletter.store.models import DeliveryStatus

_BATCH = 500  # outcomes per commit at most
_EXAMPLES = 20  # refusals listed in the report; the rest are counted by reply code


@dataclass
class Committed:
    """What one commit recorded, handed back to the sending loop: how many deliveries, and the
    subscribers whose address the relay said is gone (id, cause), for the subscribers package
    to take off the list."""

    deliveries: int
    gone: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Entry:
    number: int
    job: Job
    attempt: Attempt | None  # None: skipped, for `reason`
    reason: str | None = None


class Writer:
    """Writes attempts to the ledger from its own thread. `record` returns at once; the wait it
    returns blocks until that attempt is committed (and raises if recording failed)."""

    def __init__(self, engine: Engine, *, policy: RetryPolicy, report: SendReport) -> None:
        self._engine = engine
        self._policy = policy
        self.report = report
        self._entries: queue.Queue[_Entry | None] = queue.Queue()
        self._numbering = threading.Lock()
        self._next = 0
        self._committed = 0  # entries numbered below this are recorded (or failed)
        self._progress = threading.Condition()
        self.committed: queue.Queue[Committed] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ledger", daemon=True)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._entries.put(None)
        self._thread.join()

    def record(self, job: Job, attempt: Attempt | None, reason: str | None = None) -> Wait:
        """`attempt` None: the delivery is skipped, for `reason`."""
        with self._numbering:  # numbers follow queue order, so commits pass them in order
            number = self._next
            self._next += 1
            self._entries.put(_Entry(number, job, attempt, reason))

        def wait() -> None:
            with self._progress:
                self._progress.wait_for(lambda: self._committed > number)
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
        outcomes = [
            skipped(e.job, e.reason or "")
            if e.attempt is None
            else after_attempt(e.job, e.attempt, now=now, policy=self._policy)
            for e in batch
        ]
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
                self._count(batch, outcomes)
        except BaseException as exc:  # the database went away: stop the senders
            self.error = exc
            gone = []
        with self._progress:
            self._committed = batch[-1].number + 1
            self._progress.notify_all()
        self.committed.put(Committed(len(batch), gone))

    def _count(self, batch: list[_Entry], outcomes: list[DeliveryOutcome]) -> None:
        r = self.report
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
