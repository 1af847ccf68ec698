"""The edition a subscriber receives honours their preferences: the sections they chose, and a
preferences link of their own in both parts."""

from __future__ import annotations

import re
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine, select

import newsletter
from newsletter import edition, pipeline
from newsletter.config import Settings
from newsletter.delivery.smtp import SmtpTransport
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import session_scope
from newsletter.store.models import Delivery, DeliveryStatus, Subscriber
from subscribers import add_subscriber
from subscribers.consent import update_preferences
from subscribers.tokens import PREFERENCES, Link, read_token
from tests.conftest import received

DAY = date(2024, 12, 23)
SAMPLES = Path(newsletter.__file__).parent / "sample_content"
# The articles' own links: their titles may also appear in a thread replying to them.
ARMOUR = "https://vpk-news.example/articles/mbt-upgrade-remote-turret"
RADAR = "https://vpk-news.example/articles/vigil-x-radar-counter-drone"
OFFERED = ("navy", "uav", "air defence", "industry", "exports", "aviation", "armour", "space")


def _stock(engine: Engine, settings: Settings, *, threads: bool) -> dict[str, int]:
    paths = [SAMPLES / "articles.jsonl"] + ([SAMPLES / "threads.jsonl"] if threads else [])
    edition.ingest(engine=engine, settings=settings, paths=paths)
    ids = {}
    with session_scope(engine) as session:
        for email, sections in (
            ("all@example.org", ()),
            ("armour@example.org", ("armour",)),
            ("space@example.org", ("space",)),
        ):
            subscriber = add_subscriber(session=session, email=email, lang="en")
            session.flush()
            update_preferences(
                session=session,
                subscriber_id=subscriber.id,
                lang="en",
                sections=sections,
                offered=OFFERED,
            )
            ids[email] = subscriber.id
    edition.build(engine=engine, settings=settings, day=DAY)
    with SmtpTransport(settings.smtp) as transport:
        pipeline.send(engine=engine, settings=settings, day=DAY, transport=transport)
    return ids


def _by_recipient(server: SavingSmtpServer) -> dict[str, EmailMessage]:
    return {m["To"].addresses[0].addr_spec: m for m in received(server)}


def _parts(message: EmailMessage) -> tuple[str, str]:
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


def test_chosen_sections_filter_the_articles(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    _stock(engine, settings, threads=True)
    got = _by_recipient(smtp_server)
    # Threads carry no tags, so even "space" (no article today) gets the discussions.
    assert sorted(got) == ["all@example.org", "armour@example.org", "space@example.org"]
    everything, _ = _parts(got["all@example.org"])
    assert ARMOUR in everything and RADAR in everything
    armour_html, armour_text = _parts(got["armour@example.org"])
    assert ARMOUR in armour_html and ARMOUR in armour_text
    assert RADAR not in armour_html and RADAR not in armour_text
    space_html, _ = _parts(got["space@example.org"])
    assert ARMOUR not in space_html and RADAR not in space_html


def test_a_reader_whose_sections_hold_nothing_today_is_skipped(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    ids = _stock(engine, settings, threads=False)
    assert sorted(_by_recipient(smtp_server)) == ["all@example.org", "armour@example.org"]
    with session_scope(engine) as session:
        status = session.scalars(
            select(Delivery.status).where(Delivery.subscriber_id == ids["space@example.org"])
        ).one()
    assert status is DeliveryStatus.SKIPPED


def test_every_copy_links_to_its_readers_own_preferences(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    _stock(engine, settings, threads=True)
    with session_scope(engine) as session:
        keys = {e: k for e, k in session.execute(select(Subscriber.email, Subscriber.link_key))}
    for address, message in _by_recipient(smtp_server).items():
        for part in _parts(message):
            tokens = re.findall(r"https://news\.example\.org/preferences/([\w.\-]+)", part)
            assert tokens, f"no preferences link for {address}"
            for token in tokens:
                subscriber = read_token(
                    secret=settings.require_secret_key(), purpose=PREFERENCES, token=token
                )
                assert subscriber == Link(key=keys[address])
