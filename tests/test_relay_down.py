"""A relay that restarts or is unreachable (issue 11, item 9): connections refused are deferred
and retried with back-off like a 4xx, never the end of the run; a relay that stays down leaves
the recipients for a later run (exit 4, see test_bad_day.py). A real aiosmtpd server on
127.0.0.1, stopped and started again on the same port."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from newsletter import pipeline
from newsletter.config import DeliverySettings, SmtpSettings
from newsletter.delivery.smtp.sink import free_port
from newsletter.store.db import session_scope
from newsletter.store.models import Edition, EditionStatus
from tests.smtp_faults import DAY, Faults, FaultySmtpServer, make_edition, sender_store

EMAILS = [f"reader{n}@example.org" for n in range(12)]


def test_a_relay_down_at_first_is_waited_for_and_then_everyone_is_sent(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine, settings = sender_store(sqlite_url)
    port = free_port()
    settings = replace(
        settings,
        smtp=SmtpSettings(host="127.0.0.1", port=port),
        delivery=DeliverySettings(backoff_seconds=0.2, max_attempts=8),
    )
    make_edition(engine, settings, tmp_path, EMAILS)
    notices: list[str] = []
    server = FaultySmtpServer(port=port)

    def relay_comes_up(notice: str) -> None:
        notices.append(notice)
        if len(notices) == 1:
            server.__enter__()  # the relay is back before the second try

    try:
        report = pipeline.send(engine=engine, settings=settings, day=DAY, notice=relay_comes_up)
        assert sorted(server.received) == sorted(EMAILS)
    finally:
        server.__exit__(None, None, None)
    assert len(notices) == 1 and f"127.0.0.1:{port}: cannot connect" in notices[0]
    assert (report.sent, report.left) == (len(EMAILS), 0)


def test_a_relay_restarting_mid_run_defers_and_retries_instead_of_failing(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine, settings = sender_store(sqlite_url)
    # Every RCPT takes a while, so the relay goes down with messages in flight and queued.
    first = FaultySmtpServer(Faults(slow=set(EMAILS), delay=0.05))
    settings = replace(
        settings,
        smtp=SmtpSettings(host=first.host, port=first.port),
        delivery=DeliverySettings(connections=2, backoff_seconds=0.3, max_attempts=8),
    )
    make_edition(engine, settings, tmp_path, EMAILS)
    second = FaultySmtpServer(port=first.port)
    restarted = threading.Event()

    def restart(done: int, total: int) -> None:
        if done >= 2 and not restarted.is_set():
            restarted.set()
            first.__exit__(None, None, None)  # down: connections reset, then refused
            threading.Timer(1.0, second.__enter__).start()

    first.__enter__()
    try:
        report = pipeline.send(engine=engine, settings=settings, day=DAY, progress=restart)
    finally:
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
    assert restarted.is_set()
    got = set(first.received) | set(second.received)
    assert got == set(EMAILS)
    assert report.left == 0 and report.sent == len(EMAILS)
    assert report.deferred >= 1  # some were deferred while it was down, then sent
    with session_scope(engine) as session:
        assert session.scalar(select(Edition.status)) is EditionStatus.SENT
