"""What a send tells its caller: counts by outcome, refusals by reply code, what is left."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

# The reason recorded on a delivery skipped because the reader's edition held nothing that
# day; `newsletter status` counts these apart from readers who left the list.
EMPTY_EDITION = "empty edition: nothing of the day in their language and sections"


@dataclass
class SendReport:
    edition_date: date
    queued: int = 0
    sent: int = 0
    deferred: int = 0  # retries scheduled in this run
    failed: int = 0
    skipped: int = 0
    skipped_empty: int = 0  # of `skipped`: their edition would have held nothing
    bounced: int = 0  # subscribers marked bounced by a "no such user" reply
    left: int = 0  # deliveries of the edition still to go when this run ended
    by_code: Counter[int | None] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
