"""`kill -9` at random moments of a real `newsletter send` process, then send again: everyone gets
the edition, and nobody twice except at most one message per connection and kill (the bound the
README states), each duplicate with the same Message-ID."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from newsletter import pipeline
from newsletter.store.db import session_scope
from newsletter.store.models import Delivery, DeliveryStatus
from tests.smtp_faults import DAY, FaultySmtpServer, cli_env, make_edition, sender_store

SUBSCRIBERS = 2500
CONNECTIONS = 3
KILLS = 3


@pytest.fixture
def server() -> Iterator[FaultySmtpServer]:
    with FaultySmtpServer() as smtp:
        yield smtp


def _sent(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(
            session.scalar(select(func.count()).where(Delivery.status == DeliveryStatus.SENT)) or 0
        )


@pytest.mark.parametrize("trial", range(3))
def test_killed_sends_resume_and_duplicate_at_most_the_messages_in_flight(
    trial: int, server: FaultySmtpServer, tmp_path: Path
) -> None:
    rng = random.Random(trial)
    engine, settings = sender_store(f"sqlite:///{tmp_path / 'kill.sqlite3'}")
    emails = [f"reader{n:05d}@example.org" for n in range(SUBSCRIBERS)]
    make_edition(engine, settings, tmp_path, emails)
    command = [sys.executable, "-m", "newsletter", "send", "--date", DAY.isoformat()]
    env = cli_env(settings, server, connections=str(CONNECTIONS))

    for kill in range(KILLS):
        before = server.accepted
        sender = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Let it get going, then kill it at a random point of its sending.
        target = before + rng.randrange(50, 500)
        deadline = time.monotonic() + 60
        while server.accepted < target and sender.poll() is None:
            assert time.monotonic() < deadline, "the sender made no progress"
            time.sleep(rng.uniform(0.001, 0.02))
        if kill == 0:
            # Another process reads the progress while this one sends.
            status = pipeline.progress_of(engine=engine, settings=settings, day=DAY).progress
            assert sum(status.counts.values()) == SUBSCRIBERS
            assert any(f":{sender.pid}:" in owner for owner in status.senders)
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        assert sender.returncode == -signal.SIGKILL, "killed before it finished"
        assert _sent(engine) < SUBSCRIBERS

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    received = server.received
    assert sorted(received) == emails, "everyone got the edition"
    duplicates = {email: ids for email, ids in received.items() if len(ids) > 1}
    assert sum(len(ids) - 1 for ids in duplicates.values()) <= CONNECTIONS * KILLS
    for ids in duplicates.values():
        assert len(set(ids)) == 1, "a copy sent again carries the same Message-ID"
    assert _sent(engine) == SUBSCRIBERS
    engine.dispose()
