"""Picking by date: an edition covers one local day of the site's time zone, [00:00, 24:00)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Days whose bounds exist in every zone: a day's start or end, moved to UTC by up to 14 hours,
# must stay within the years 1 to 9999 that Python's datetime holds.
FIRST_DAY = date.min + timedelta(days=1)
LAST_DAY = date.max - timedelta(days=1)
_YYYY_MM_DD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The aware start and end of `day` in `tz`; 23 or 25 hours long on a DST change."""
    return (
        datetime.combine(day, time(), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(), tzinfo=tz),
    )


def parse_day(text: str) -> date:
    """A day written YYYY-MM-DD and nothing else, between FIRST_DAY and LAST_DAY.

    `date.fromisoformat` also reads `20241223` and `2024-W52-1`: the README promises one form,
    and an archive address must have one spelling. Raises ValueError saying what is wrong."""
    if not _YYYY_MM_DD.fullmatch(text):
        raise ValueError(f"{text!r} is not a day as YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a day as YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{text!r} is out of range: a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def last_complete_day(*, now: datetime, tz: ZoneInfo) -> date:
    """The latest day of `tz` that has ended by `now`: yesterday there.

    What a scheduled run sends, so that a run in the morning has every article of the day
    before, whatever zone the server's clock is in. `now` must carry its zone."""
    if now.utcoffset() is None:
        raise ValueError("`now` must be an aware datetime (with a time zone)")
    return now.astimezone(tz).date() - timedelta(days=1)
