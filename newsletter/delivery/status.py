"""How the sending of an edition stands: what `newsletter status` and the desk show. Reads
only, so it runs beside senders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from newsletter.delivery.ledger import queries
from newsletter.delivery.report import EMPTY_EDITION
from newsletter.store.models import Edition, EditionStatus


@dataclass(frozen=True)
class EditionProgress:
    edition_date: date
    status: EditionStatus
    progress: queries.SendingProgress


def progress_of(*, session: Session, edition: Edition) -> EditionProgress:
    """Deliveries by state, the rate, errors by reply code, the senders and their leases."""
    return EditionProgress(
        edition.edition_date,
        edition.status,
        queries.sending_progress(
            session=session,
            edition_id=edition.id,
            now=datetime.now(UTC),
            skipped_reason=EMPTY_EDITION,
        ),
    )
