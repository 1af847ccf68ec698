"""Workers sharing an edition on PostgreSQL: four `newsletter send --worker` processes, one of
them killed midway; the others finish its batch, and every subscriber gets exactly one copy
(except at most the killed worker's messages in flight, one per connection)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update

from newsletter.delivery.ledger import queries
from newsletter.store.db import session_scope
from newsletter.store.models import Delivery, DeliveryStatus, Edition, EditionStatus
from tests.smtp_faults import DAY, FaultySmtpServer, cli_env, make_edition, sender_store

SUBSCRIBERS = 20_000
WORKERS = 4
CONNECTIONS = 2


def test_four_workers_one_killed_deliver_every_copy_once(pg_url: str, tmp_path: Path) -> None:
    engine, settings = sender_store(pg_url)
    emails = [f"reader{n:05d}@example.org" for n in range(SUBSCRIBERS)]
    make_edition(engine, settings, tmp_path, emails)
    with FaultySmtpServer() as server:
        # A lease long enough that no live worker loses its claims on a loaded machine: the
        # killed one's are freed at once all the same, as it ran on this host.
        env = cli_env(settings, server, connections=str(CONNECTIONS), lease_seconds="60")
        command = [sys.executable, "-m", "newsletter", "send", "--worker", "--date", str(DAY)]
        workers = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(WORKERS)
        ]
        deadline = time.monotonic() + 300
        while server.accepted < SUBSCRIBERS // 3:
            assert time.monotonic() < deadline, "the workers made no progress"
            assert all(w.poll() is None for w in workers), "a worker ended early"
            time.sleep(0.05)
        victim = workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        with session_scope(engine) as session:
            its_batch = set(
                session.scalars(
                    select(Delivery.id).where(
                        Delivery.status == DeliveryStatus.SENDING,
                        Delivery.lease_owner.like(f"%:{victim.pid}:%"),
                    )
                )
            )
        assert its_batch, "the killed worker held a batch"
        for worker in workers[1:]:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, out.decode() + err.decode()
        received = server.received

    assert sorted(received) == emails, "everyone got the edition"
    extra = sum(len(ids) - 1 for ids in received.values())
    assert extra <= CONNECTIONS, "only the killed worker's messages in flight can come twice"
    assert all(len(set(ids)) == 1 for ids in received.values())
    with session_scope(engine) as session:
        states = session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        ).all()
        assert states == [(DeliveryStatus.SENT, SUBSCRIBERS)]
        finished = session.scalars(
            select(func.count()).where(
                Delivery.id.in_(its_batch), Delivery.status == DeliveryStatus.SENT
            )
        ).one()
        assert finished == len(its_batch), "the others finished the killed worker's batch"
        assert session.scalars(select(Edition.status)).one() is EditionStatus.SENT
    engine.dispose()


def test_statements_on_shared_deliveries_take_their_rows_in_id_order(pg_url: str) -> None:
    # Two workers holding the same rows (a lease ran out under load) must queue behind each
    # other, not deadlock: each multi-row update locks in id order.
    engine, _ = sender_store(pg_url)
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        queries.renew_leases(session=session, edition_id=1, owner="a:1:x", until=now)
        queries.release_claims(session=session, edition_id=1, owners=["b:2:y"], now=now)
    with engine.begin() as connection:
        queries.record_outcomes(
            connection=connection,
            outcomes=[queries.DeliveryOutcome(i, DeliveryStatus.SENT) for i in (30, 10, 20)],
        )
    updates = [(s, p) for s, p in seen if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 3
    for statement, _ in updates[:2]:
        assert "ORDER BY deliveries.id" in statement and "FOR UPDATE" in statement, statement
    assert [row["b_id"] for row in updates[2][1]] == [10, 20, 30]


def test_a_sender_does_not_stop_while_deliveries_are_pending(tmp_path: Path) -> None:
    # Another worker has just given a dead one's claims back: they are pending, nobody holds a
    # lease and nothing is deferred. A worker looking now must claim them, not end its run
    # with them "left for a later run".
    engine, settings = sender_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    make_edition(engine, settings, tmp_path, ["reader@example.org"])
    with session_scope(engine) as session:
        edition_id = session.scalars(select(Edition.id)).one()
        assert queries.enqueue_deliveries(session=session, edition_id=edition_id) == 1
        assert queries.next_wakeup(session=session, edition_id=edition_id, owner="a:1:x")
        session.execute(update(Delivery).values(status=DeliveryStatus.SENT))
        assert queries.next_wakeup(session=session, edition_id=edition_id, owner="a:1:x") is None
