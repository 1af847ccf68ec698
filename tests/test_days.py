"""Which local day an edition covers: the day a scheduled run sends (the last complete one in the
site's time zone, whatever the server's clock zone), and the strict YYYY-MM-DD form of a day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from newsletter import edition, pipeline
from newsletter.config import Settings
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import NothingToSend
from newsletter.select import FIRST_DAY, LAST_DAY, day_bounds, last_complete_day, parse_day
from newsletter.store.db import session_scope
from subscribers import add_subscriber
from tests.conftest import received

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 06:30 in Moscow, the documented schedule: all of yesterday is there to send.
        (datetime(2024, 12, 24, 3, 30, tzinfo=UTC), date(2024, 12, 23)),
        # 21:30 in Moscow: the day is not over, so the previous one is the last complete day.
        (datetime(2024, 12, 23, 18, 30, tzinfo=UTC), date(2024, 12, 22)),
        # 21:30 UTC, the old schedule on a UTC server: 00:30 of the 24th in Moscow.
        (datetime(2024, 12, 23, 21, 30, tzinfo=UTC), date(2024, 12, 23)),
        # The last second of the 23rd in Moscow, then its midnight.
        (datetime(2024, 12, 23, 20, 59, 59, tzinfo=UTC), date(2024, 12, 22)),
        (datetime(2024, 12, 23, 21, 0, tzinfo=UTC), date(2024, 12, 23)),
        # The same instant written in another zone picks the same day.
        (datetime(2024, 12, 24, 6, 30, tzinfo=MOSCOW), date(2024, 12, 23)),
        (datetime(2024, 12, 23, 13, 30, tzinfo=ZoneInfo("America/New_York")), date(2024, 12, 22)),
    ],
)
def test_the_last_complete_day_in_the_sites_zone(now: datetime, expected: date) -> None:
    assert last_complete_day(now=now, tz=MOSCOW) == expected


def test_the_last_complete_day_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 31 March 2024 had 23 hours in Berlin; 00:30 on 1 April (22:30 UTC) it is complete.
    assert last_complete_day(now=datetime(2024, 3, 31, 22, 30, tzinfo=UTC), tz=berlin) == date(
        2024, 3, 31
    )
    assert last_complete_day(now=datetime(2024, 3, 31, 21, 30, tzinfo=UTC), tz=berlin) == date(
        2024, 3, 30
    )


def test_a_clock_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        last_complete_day(now=datetime(2024, 12, 24, 6, 30), tz=MOSCOW)


@pytest.mark.parametrize(
    "text",
    [
        "20241223",
        "2024-W52-1",
        "2024W521",
        "2024-358",
        "2024-12-23T00:00",
        "2024-12-3",
        " 2024-12-23",
        "2024-12-23\n",
        "２０２４-１２-２３",
        "2024-13-01",
        "2024-02-30",
        "",
    ],
)
def test_only_yyyy_mm_dd_is_a_day(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day(text)


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01"])
def test_days_whose_bounds_cannot_be_computed_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="0001-01-02 to 9999-12-30"):
        parse_day(text)


def test_the_first_and_last_day_have_bounds_in_every_zone() -> None:
    assert parse_day("2024-12-23") == date(2024, 12, 23)
    for day in (FIRST_DAY, LAST_DAY):
        assert parse_day(day.isoformat()) == day
        for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Moscow"):
            start, end = day_bounds(day, ZoneInfo(zone))
            assert start.astimezone(UTC) < end.astimezone(UTC)


def _article(url: str, title: str, published_at: str) -> dict[str, object]:
    body = f"{title} was reported today by the ministry. The report says more about it."
    return {
        "type": "article",
        "url": url,
        "title": title,
        "body": body,
        "published_at": published_at,
        "lang": "en",
    }


@pytest.fixture
def evening_and_morning(engine: Engine, settings: Settings, tmp_path: Path) -> Engine:
    """Three articles around midnight in Moscow between the 23rd and the 24th of December."""
    lines = [
        _article("https://x.example/a", "Morning article", "2024-12-23T09:00:00+03:00"),
        # Published after an evening run at 21:30 in Moscow: only a morning run has it.
        _article("https://x.example/b", "Late article", "2024-12-23T23:50:00+03:00"),
        _article("https://x.example/c", "Next day article", "2024-12-24T00:10:00+03:00"),
    ]
    feed = tmp_path / "articles.jsonl"
    feed.write_text("\n".join(json.dumps(line) for line in lines), "utf-8")
    edition.ingest(engine=engine, settings=settings, paths=[feed])
    with session_scope(engine) as session:
        add_subscriber(session=session, email="reader@example.org", name=None, lang="en")
    return engine


def test_a_morning_run_sends_every_article_of_yesterday(
    evening_and_morning: Engine,
    settings: Settings,
    smtp_server: SavingSmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "UTC")  # the server's clock zone must not matter
    day = last_complete_day(now=datetime(2024, 12, 24, 3, 30, tzinfo=UTC), tz=settings.timezone)
    report = pipeline.run(engine=evening_and_morning, settings=settings, day=day)
    assert (report.edition_date, report.sent) == (date(2024, 12, 23), 1)
    (message,) = received(smtp_server)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Morning article" in text and "Late article" in text
    assert "Next day article" not in text


def test_a_late_evening_run_sends_the_day_before_and_says_when_it_had_nothing(
    evening_and_morning: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    day = last_complete_day(now=datetime(2024, 12, 23, 18, 30, tzinfo=UTC), tz=settings.timezone)
    with pytest.raises(NothingToSend) as raised:
        pipeline.run(engine=evening_and_morning, settings=settings, day=day)
    assert str(raised.value) == (
        "nothing to send for 2024-12-22: no articles or discussions were published that day "
        "(00:00 to 24:00 Europe/Moscow); no edition built"
    )
    assert received(smtp_server) == []
