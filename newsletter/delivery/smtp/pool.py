"""N SMTP connections sending side by side, each in its own thread, under one rate limit.

The pool knows nothing of the ledger: it takes jobs, composes and sends each, and reports every
attempt through `record`, which returns a function that waits until the attempt is durably
recorded. A connection waits for that before ending its next message (the final "."), so at most
one accepted message per connection is ever unrecorded: the bound on duplicates after a kill."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from newsletter.delivery.ledger.rules import LOST, REFUSED, SENT, UNTRIED, Attempt
from newsletter.delivery.protocols import Connection, Wait
from newsletter.delivery.smtp.mime import Envelope
from newsletter.delivery.smtp.transport import ConnectionLost, RecipientRefused

J = TypeVar("J")


_WHOLE = 1 - 1e-9  # a token, give or take the rounding of the clock arithmetic


class RateLimit:
    """Token buckets: `per_second` with a burst of one second, `per_hour` with a burst of one
    minute (so no hour sees much more than the limit); 0 turns a limit off. Thread-safe."""

    def __init__(
        self,
        *,
        per_second: int,
        per_hour: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._buckets = [
            [float(capacity), float(capacity), rate]  # tokens, capacity, tokens per second
            for capacity, rate in (
                (per_second, float(per_second)),
                (max(1, per_hour // 60), per_hour / 3600),
            )
            if rate > 0
        ]
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                elapsed, self._last = now - self._last, now
                for bucket in self._buckets:
                    bucket[0] = min(bucket[1], bucket[0] + elapsed * bucket[2])
                if all(bucket[0] >= _WHOLE for bucket in self._buckets):
                    for bucket in self._buckets:
                        bucket[0] -= 1
                    return
                wait = max((1 - b[0]) / b[2] for b in self._buckets if b[0] < _WHOLE)
            self._sleep(wait)


class SenderPool(Generic[J]):
    """`with SenderPool(...) as pool: pool.submit(job)`; leaving the block sends what was
    submitted and closes the connections. After a fatal error (`pool.fatal`), jobs still queued
    are reported as untried."""

    def __init__(
        self,
        *,
        connections: Sequence[Connection],
        rate: RateLimit,
        compose: Callable[[J], Envelope],
        record: Callable[[J, Attempt], Wait],
        close_connections: bool = True,
    ) -> None:
        self._jobs: queue.Queue[J | None] = queue.Queue(maxsize=4 * len(connections))
        self._rate = rate
        self._compose = compose
        self._record = record
        self._close = close_connections
        self._stopping = threading.Event()
        self.fatal: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._work, args=(c,), name=f"smtp-{n}", daemon=True)
            for n, c in enumerate(connections)
        ]

    def __enter__(self) -> SenderPool[J]:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            self._stopping.set()
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def submit(self, job: J, *, timeout: float) -> bool:
        """Queue a job for the next free connection; False if none was free within `timeout`."""
        try:
            self._jobs.put(job, timeout=timeout)
        except queue.Full:
            return False
        return True

    def _work(self, connection: Connection) -> None:
        previous: Wait | None = None
        try:
            while (job := self._jobs.get()) is not None:
                if self._stopping.is_set():
                    self._record(job, Attempt(UNTRIED))
                    continue
                try:
                    wait = self._attempt(connection, job, previous)
                except BaseException as exc:  # the relay or the composer failed for good
                    self.fatal = self.fatal or exc
                    self._stopping.set()
                    self._record(job, Attempt(UNTRIED))
                    continue
                previous = wait or previous
            if previous is not None:
                try:
                    previous()  # the last message on record before the connection closes
                except BaseException as exc:  # recording failed: the engine reports it once
                    self.fatal = self.fatal or exc
        finally:
            if self._close:
                connection.close()

    def _attempt(self, connection: Connection, job: J, previous: Wait | None) -> Wait | None:
        """Send one job; returns the wait of its record if it was sent."""
        envelope = self._compose(job)
        self._rate.acquire()
        try:
            connection.deliver(envelope, before_end=previous)
        except RecipientRefused as refused:
            self._record(job, Attempt(REFUSED, refused.code, refused.reply))
            return None
        except ConnectionLost as lost:
            self._record(job, Attempt(LOST, None, str(lost)))
            return None
        return self._record(job, Attempt(SENT, 250))
