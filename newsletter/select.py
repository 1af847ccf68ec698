"""Picking by date: an edition covers one local day of the site's time zone, [00:00, 24:00)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The aware start and end of `day` in `tz`; 23 or 25 hours long on a DST change."""
    return (
        datetime.combine(day, time(), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(), tzinfo=tz),
    )
