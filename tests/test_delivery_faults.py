"""Sending against a relay that refuses, defers, drops connections and answers slowly: the ledger
and what the server accepted must match exactly."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from newsletter import pipeline
from newsletter.config import DeliverySettings, Settings, SmtpSettings
from newsletter.delivery.smtp.pool import RateLimit
from newsletter.errors import SenderConflict
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import (
    Delivery,
    DeliveryStatus,
    Edition,
    EditionStatus,
    Subscriber,
    SubscriberStatus,
)
from tests.smtp_faults import DAY, Faults, FaultySmtpServer, make_edition

NORMAL = [f"r{n:02d}@example.org" for n in range(40)]
BUSY_ONCE, BUSY_ALWAYS = "busy-once@example.org", "busy-always@example.org"
GONE, REJECTED = "gone@example.org", "rejected@example.org"
DROP_ONCE, SLOW = "drop-once@example.org", "slow@example.org"
EVERYONE = [*NORMAL, BUSY_ONCE, BUSY_ALWAYS, GONE, REJECTED, DROP_ONCE, SLOW]


@pytest.fixture
def server() -> Iterator[FaultySmtpServer]:
    faults = Faults(
        rcpt={
            BUSY_ONCE: "451 4.3.0 Try again later",
            BUSY_ALWAYS: "452 4.2.2 Mailbox over quota, try later",
            GONE: "550 5.1.1 <gone@example.org>: No such user",
        },
        data={REJECTED: "554 5.7.1 Message rejected as spam"},
        times={BUSY_ONCE: 1},
        drop={DROP_ONCE},
        slow={SLOW},
    )
    with FaultySmtpServer(faults) as smtp:
        yield smtp


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'faults.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _settings(engine: Engine, server: FaultySmtpServer, **delivery: int | float) -> Settings:
    return Settings(
        database_url=str(engine.url),
        from_address="VPK News <digest@vpk-news.example>",
        base_url="https://news.example.org",
        secret_key=secrets.token_hex(32),
        smtp=SmtpSettings(host=server.host, port=server.port),
        delivery=replace(
            DeliverySettings(connections=3, max_attempts=3, backoff_seconds=0.05),
            **delivery,  # type: ignore[arg-type]
        ),
    )


def _ledger(engine: Engine) -> dict[str, Delivery]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Subscriber.email, Delivery).join(
                Subscriber, Subscriber.id == Delivery.subscriber_id
            )
        )
        return {email: delivery for email, delivery in rows}


def test_the_ledger_matches_what_the_relay_accepted(
    engine: Engine, server: FaultySmtpServer, tmp_path: Path
) -> None:
    settings = _settings(engine, server)
    make_edition(engine, settings, tmp_path, EVERYONE)

    report = pipeline.send(engine=engine, settings=settings, day=DAY)

    delivered = {*NORMAL, BUSY_ONCE, DROP_ONCE, SLOW}
    received = server.received
    assert set(received) == delivered
    assert all(len(ids) == 1 for ids in received.values()), "nobody gets two copies"
    ledger = _ledger(engine)
    assert {e for e, d in ledger.items() if d.status is DeliveryStatus.SENT} == delivered
    for email in delivered:
        assert ledger[email].message_id is not None
        assert ledger[email].message_id.encode() == received[email][0]
    assert ledger[BUSY_ONCE].attempts == 2 and ledger[DROP_ONCE].attempts == 2
    assert (ledger[GONE].status, ledger[GONE].reply_code) == (DeliveryStatus.FAILED, 550)
    assert (ledger[REJECTED].status, ledger[REJECTED].reply_code) == (DeliveryStatus.FAILED, 554)
    # Deferred three times in this run, then left for the next run (no retry time).
    always = ledger[BUSY_ALWAYS]
    assert (always.status, always.attempts, always.reply_code) == (DeliveryStatus.DEFERRED, 3, 452)
    assert always.next_attempt_at is None and server.refused(BUSY_ALWAYS) == 3
    assert (report.sent, report.failed, report.left, report.bounced) == (43, 2, 1, 1)
    assert report.deferred == 1 + 1 + 3  # busy once, dropped once, busy three times
    with session_scope(engine) as session:
        states = {e: s for e, s in session.execute(select(Subscriber.email, Subscriber.status))}
        assert states[GONE] is SubscriberStatus.BOUNCED, "550 5.1.1: no such user"
        assert states[REJECTED] is SubscriberStatus.ACTIVE, "a refused message is no bounce"
        assert session.scalars(select(Edition.status)).one() is EditionStatus.SENDING

    # The relay accepts again: the next run sends exactly what was left.
    server.faults.rcpt.pop(BUSY_ALWAYS)
    again = pipeline.send(engine=engine, settings=settings, day=DAY)
    assert (again.sent, again.failed, again.left, again.queued) == (1, 0, 0, 0)
    assert server.received[BUSY_ALWAYS] and len(server.received) == len(delivered) + 1
    assert all(len(ids) == 1 for ids in server.received.values())
    with session_scope(engine) as session:
        assert session.scalars(select(Edition.status)).one() is EditionStatus.SENT
        # A bounced subscriber is not queued for later editions: enqueue takes active ones.
        assert session.scalar(select(Subscriber.status).where(Subscriber.email == GONE)) is (
            SubscriberStatus.BOUNCED
        )


def test_connections_are_reused_up_to_the_set_number_of_messages(
    engine: Engine, server: FaultySmtpServer, tmp_path: Path
) -> None:
    settings = _settings(engine, server, connections=2, messages_per_connection=5)
    make_edition(engine, settings, tmp_path, NORMAL)
    report = pipeline.send(engine=engine, settings=settings, day=DAY)
    assert report.sent == 40 and report.left == 0
    # 40 messages, at most 5 per session: at least 8 sessions, and not one per message.
    assert 8 <= server.sessions <= 10


def test_a_second_sender_is_refused_while_the_first_holds_claims(
    engine: Engine, server: FaultySmtpServer, tmp_path: Path
) -> None:
    settings = _settings(engine, server)
    make_edition(engine, settings, tmp_path, NORMAL[:5])
    pipeline.dry_run(engine=engine, settings=settings, day=DAY)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    with session_scope(engine) as session:
        edition_id = session.scalars(select(Edition.id)).one()
        for subscriber_id in session.scalars(select(Subscriber.id)):
            session.add(Delivery(edition_id=edition_id, subscriber_id=subscriber_id))
        session.flush()
        first = session.scalars(select(Delivery.id).order_by(Delivery.id)).first()
        # Another machine's sender (no pid to check here) holds one delivery.
        session.execute(
            update(Delivery)
            .where(Delivery.id == first)
            .values(
                status=DeliveryStatus.SENDING, lease_owner="elsewhere:77:abcd", lease_until=soon
            )
        )
    with pytest.raises(SenderConflict, match=r"being sent by elsewhere:77.*--worker"):
        pipeline.send(engine=engine, settings=settings, day=DAY)
    assert server.received == {}
    with pytest.raises(SenderConflict, match="--worker needs PostgreSQL"):
        pipeline.send(engine=engine, settings=settings, day=DAY, worker=True)

    # Its lease runs out: the next sender takes over everything, that delivery included.
    with session_scope(engine) as session:
        session.execute(update(Delivery).values(lease_until=datetime.now(UTC) - timedelta(1)))
    assert pipeline.send(engine=engine, settings=settings, day=DAY).sent == 5
    assert sorted(server.received) == sorted(NORMAL[:5])


def test_a_dead_sender_of_this_host_is_taken_over_at_once(
    engine: Engine, server: FaultySmtpServer, tmp_path: Path
) -> None:
    import socket
    import subprocess
    import sys

    settings = _settings(engine, server)
    make_edition(engine, settings, tmp_path, NORMAL[:3])
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    owner = f"{socket.gethostname()[:60]}:{gone.stdout.strip()}:dead"
    with session_scope(engine) as session:
        edition_id = session.scalars(select(Edition.id)).one()
        for subscriber_id in session.scalars(select(Subscriber.id)):
            session.add(
                Delivery(
                    edition_id=edition_id,
                    subscriber_id=subscriber_id,
                    status=DeliveryStatus.SENDING,
                    lease_owner=owner,
                    lease_until=datetime.now(UTC) + timedelta(hours=1),
                )
            )
    assert pipeline.send(engine=engine, settings=settings, day=DAY).sent == 3


def test_status_counts_states_rates_and_reply_codes(
    engine: Engine, server: FaultySmtpServer, tmp_path: Path
) -> None:
    settings = _settings(engine, server)
    make_edition(engine, settings, tmp_path, EVERYONE)
    pipeline.send(engine=engine, settings=settings, day=DAY)
    status = pipeline.progress_of(engine=engine, settings=settings, day=DAY)
    counts = status.progress.counts
    assert (counts[DeliveryStatus.SENT], counts[DeliveryStatus.FAILED]) == (43, 2)
    assert counts[DeliveryStatus.DEFERRED] == 1
    assert status.progress.sent_last_minute == 43
    codes = {(s, code): n for s, code, n, _ in status.progress.errors}
    assert codes == {
        (DeliveryStatus.FAILED, 550): 1,
        (DeliveryStatus.FAILED, 554): 1,
        (DeliveryStatus.DEFERRED, 452): 1,
    }
    assert status.status is EditionStatus.SENDING and status.progress.senders == {}


def test_the_rate_limit_spaces_messages_out() -> None:
    """A fake clock: what matters is how long the limiter makes senders wait."""
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limit = RateLimit(per_second=10, per_hour=0, clock=lambda: now[0], sleep=sleep)
    for _ in range(30):
        limit.acquire()
    # A burst of one second's worth, then one every tenth of a second.
    assert now[0] == pytest.approx(2.0)
    hourly = RateLimit(per_second=0, per_hour=3600, clock=lambda: now[0], sleep=sleep)
    start = now[0]
    for _ in range(120):
        hourly.acquire()
    assert now[0] - start == pytest.approx(60.0)  # a minute's burst (60), then one a second
