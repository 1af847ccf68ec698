"""The orchestrator on SQLite and PostgreSQL, delivering to a real SMTP server."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

import newsletter
from newsletter import edition, pipeline
from newsletter.config import Settings
from newsletter.delivery import SendReport
from newsletter.delivery.smtp import SmtpTransport
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import EditionStateError, NothingToSend
from newsletter.store.db import session_scope
from newsletter.store.models import Delivery, DeliveryStatus, Edition, EditionStatus, Subscriber
from subscribers import add_subscriber
from tests.conftest import received

DAY = date(2024, 12, 23)
SAMPLES = Path(newsletter.__file__).parent / "sample_content"


@pytest.fixture
def stocked(engine: Engine, settings: Settings) -> Engine:
    edition.ingest(
        engine=engine,
        settings=settings,
        paths=[SAMPLES / "articles.jsonl", SAMPLES / "threads.jsonl"],
    )
    with session_scope(engine) as session:
        add_subscriber(session=session, email="one@example.org", name="One", lang="en")
        add_subscriber(session=session, email="two@example.org", name="Два", lang="ru")
    return engine


def _send(engine: Engine, settings: Settings) -> SendReport:
    with SmtpTransport(settings.smtp) as transport:
        return pipeline.send(engine=engine, settings=settings, day=DAY, transport=transport)


def test_an_empty_day_builds_nothing(stocked: Engine, settings: Settings) -> None:
    with pytest.raises(
        NothingToSend, match="nothing to send for 2030-01-01: no articles or discussions"
    ):
        edition.build(engine=stocked, settings=settings, day=date(2030, 1, 1))
    with session_scope(stocked) as session:
        assert session.scalars(select(Edition)).all() == []


def test_build_picks_the_local_day_and_rebuilds_only_unsent_editions(
    stocked: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    first = edition.build(engine=stocked, settings=settings, day=DAY)
    assert (first.articles, first.threads, first.rebuilt) == (7, 5, False)
    assert [(s.lang, s.fitting) for s in first.sizes] == [
        ("en", "nothing folded"),
        ("ru", "nothing folded"),
    ]
    assert all(0 < s.size < 100_000 for s in first.sizes)
    again = edition.build(engine=stocked, settings=settings, day=DAY)
    assert again.rebuilt
    _send(stocked, settings)
    with pytest.raises(EditionStateError, match="2024-12-23 has been sent to 2 reader"):
        edition.build(engine=stocked, settings=settings, day=DAY)


def test_send_twice_delivers_once(
    stocked: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    edition.build(engine=stocked, settings=settings, day=DAY)
    first = _send(stocked, settings)
    second = _send(stocked, settings)
    assert (first.sent, second.sent, second.queued) == (2, 0, 0)
    assert sorted(m["To"].addresses[0].addr_spec for m in received(smtp_server)) == [
        "one@example.org",
        "two@example.org",
    ]
    with session_scope(stocked) as session:
        assert session.scalars(select(Edition.status)).one() is EditionStatus.SENT


def test_a_new_subscriber_gets_a_sent_edition_once(
    stocked: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    edition.build(engine=stocked, settings=settings, day=DAY)
    _send(stocked, settings)
    with session_scope(stocked) as session:
        add_subscriber(session=session, email="late@example.org")
    assert _send(stocked, settings).sent == 1
    assert _send(stocked, settings).sent == 0
    assert len(received(smtp_server)) == 3


def test_a_run_killed_mid_message_resends_only_that_one_with_its_message_id(
    stocked: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    edition.build(engine=stocked, settings=settings, day=DAY)
    _send(stocked, settings)
    # What a kill between "sending" and "sent" leaves behind: one row in flight.
    with session_scope(stocked) as session:
        delivery = session.scalars(select(Delivery).order_by(Delivery.id)).first()
        assert delivery is not None
        delivery.status = DeliveryStatus.SENDING
        in_flight_id = delivery.message_id
    report = _send(stocked, settings)
    assert report.sent == 1
    messages = received(smtp_server)
    assert len(messages) == 3
    assert messages[-1]["Message-ID"] == in_flight_id


def test_unsubscribed_after_queueing_is_skipped(
    stocked: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    edition.build(engine=stocked, settings=settings, day=DAY)
    with session_scope(stocked) as session:
        edition_id = session.scalars(select(Edition.id)).one()
        for subscriber in session.scalars(select(Subscriber)):
            session.add(Delivery(edition_id=edition_id, subscriber_id=subscriber.id))
        session.execute(
            update(Subscriber)
            .where(Subscriber.email == "two@example.org")
            .values(status="unsubscribed")
        )
    report = _send(stocked, settings)
    assert (report.sent, report.skipped) == (1, 1)
    assert [m["To"].addresses[0].addr_spec for m in received(smtp_server)] == ["one@example.org"]


def test_each_reader_gets_their_language_and_own_unsubscribe_link(
    stocked: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    edition.build(engine=stocked, settings=settings, day=DAY)
    _send(stocked, settings)
    by_address = {m["To"].addresses[0].addr_spec: m for m in received(smtp_server)}
    # The top headline in the reader's language and a tail; no site name, no date.
    assert by_address["one@example.org"]["Subject"] == (
        "Vigil-X radar enters service as counter-drone sensor for air bases — and 3 more stories"
    )
    assert by_address["two@example.org"]["Subject"] == (
        "На верфи «Балтийский мыс» заложили неатомную подводную лодку нового проекта"
        " — и ещё 2 новости"
    )
    links = set()
    for message in by_address.values():
        link = message["List-Unsubscribe"].strip().strip("<>")
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        assert link.startswith("https://news.example.org/unsubscribe/")
        assert link in text and link in html
        assert "__NEWSLETTER_UNSUBSCRIBE_URL__" not in text + html
        links.add(link)
    assert len(links) == 2


def test_preview_writes_every_part(stocked: Engine, settings: Settings, tmp_path: Path) -> None:
    edition.build(engine=stocked, settings=settings, day=DAY)
    result = pipeline.preview(engine=stocked, settings=settings, day=DAY, out_dir=tmp_path / "p")
    assert sorted(p.name for p in result.written) == sorted(
        f"edition-2024-12-23.{lang}.{ext}"
        for lang in ("en", "ru")
        for ext in ("html", "txt", "eml")
    )
    assert re.search(
        r"<html[^>]*lang=\"ru\"", (tmp_path / "p/edition-2024-12-23.ru.html").read_text()
    )


def test_a_dry_run_composes_what_a_send_would_send_and_records_nothing(
    stocked: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    edition.build(engine=stocked, settings=settings, day=DAY)
    assert pipeline.dry_run(engine=stocked, settings=settings, day=DAY) == 2
    with session_scope(stocked) as session:
        assert session.scalars(select(Delivery)).all() == []
    assert received(smtp_server) == []
    _send(stocked, settings)
    assert pipeline.dry_run(engine=stocked, settings=settings, day=DAY) == 0


def test_progress_reports_every_recipient(
    stocked: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    edition.build(engine=stocked, settings=settings, day=DAY)
    seen: list[tuple[int, int]] = []
    with SmtpTransport(settings.smtp) as transport:
        pipeline.send(
            engine=stocked,
            settings=settings,
            day=DAY,
            transport=transport,
            progress=lambda done, total: seen.append((done, total)),
        )
    # Outcomes are recorded in batches: each call says how many are done so far, of two.
    assert seen[-1] == (2, 2)
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})
    assert {total for _, total in seen} == {2}


def test_preview_needs_a_built_edition(stocked: Engine, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(EditionStateError, match="no edition for 2024-12-23: run `newsletter build"):
        pipeline.preview(engine=stocked, settings=settings, day=DAY, out_dir=tmp_path)
