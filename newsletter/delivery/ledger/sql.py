"""The ledger in the SQL store: claims with a lease, their renewal and release, and the writer
thread. One instance is one sender (`owner`) working on one edition."""

from __future__ import annotations

import os
import queue
import secrets
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType

from sqlalchemy import Engine

from newsletter.delivery.ledger import queries
from newsletter.delivery.ledger.rules import Attempt, ClaimedDelivery, Job, RetryPolicy
from newsletter.delivery.ledger.writer import Committed, Writer
from newsletter.delivery.protocols import Wait
from newsletter.delivery.report import SendReport
from newsletter.store.db import session_scope


class SqlLedger:
    """Implements `protocols.Ledger`. `exclusive` claims nothing while another owner holds a
    live lease (SQLite, or PostgreSQL without --worker)."""

    def __init__(
        self,
        engine: Engine,
        *,
        edition_id: int,
        lease: timedelta,
        policy: RetryPolicy,
        report: SendReport,
        exclusive: bool,
        owner: str | None = None,
    ) -> None:
        self.owner = new_owner() if owner is None else owner
        self._engine = engine
        self._edition_id = edition_id
        self._lease = lease
        self.exclusive = exclusive
        self._writer = Writer(engine, policy=policy, report=report)

    def __enter__(self) -> SqlLedger:
        self._writer.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._writer.__exit__(exc_type, exc, tb)

    def claim(self, limit: int) -> Sequence[ClaimedDelivery]:
        now = datetime.now(UTC)
        with session_scope(self._engine) as session:
            return queries.claim_deliveries(
                session=session,
                edition_id=self._edition_id,
                owner=self.owner,
                limit=limit,
                now=now,
                lease_until=now + self._lease,
                exclusive=self.exclusive,
            )

    def record(self, job: Job, attempt: Attempt | None, reason: str | None = None) -> Wait:
        return self._writer.record(job, attempt, reason)

    def committed(self, timeout: float | None = None) -> list[Committed]:
        done: list[Committed] = []
        try:
            first = self._writer.committed.get(timeout=timeout) if timeout else None
            if first is not None:
                done.append(first)
            while True:
                done.append(self._writer.committed.get_nowait())
        except queue.Empty:
            return done

    def failure(self) -> BaseException | None:
        return self._writer.error

    def renew(self) -> None:
        with session_scope(self._engine) as session:
            queries.renew_leases(
                session=session,
                edition_id=self._edition_id,
                owner=self.owner,
                until=datetime.now(UTC) + self._lease,
            )

    def live_holder(self) -> tuple[str, datetime] | None:
        with session_scope(self._engine) as session:
            holders = queries.lease_holders(session=session, edition_id=self._edition_id)
        now = datetime.now(UTC)
        live = [(o, until) for o, until in holders.items() if o != self.owner and until >= now]
        return live[0] if live else None

    def release_dead(self) -> datetime | None:
        with session_scope(self._engine) as session:
            holders = queries.lease_holders(session=session, edition_id=self._edition_id)
            dead = dead_owners([o for o in holders if o != self.owner])
            now = datetime.now(UTC)
            if dead:
                queries.release_claims(
                    session=session, edition_id=self._edition_id, owners=dead, now=now
                )
                return now
            return queries.next_wakeup(
                session=session, edition_id=self._edition_id, owner=self.owner
            )

    def release_own(self) -> None:
        with session_scope(self._engine) as session:
            queries.release_claims(
                session=session,
                edition_id=self._edition_id,
                owners=[self.owner],
                now=datetime.now(UTC),
            )


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
