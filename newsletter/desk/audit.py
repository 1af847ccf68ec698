"""The audit log: every editor action on an edition, who, what, when, before and after. Test
copies are recorded here and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.store.models import EditorAction


def record(
    *,
    session: Session,
    editor: str,
    day: date | None,
    action: str,
    item_url: str | None = None,
    before: str | None = None,
    after: str | None = None,
) -> None:
    session.add(
        EditorAction(
            editor=editor,
            edition_date=day,
            action=action,
            item_url=item_url,
            before=before,
            after=after,
        )
    )


def history(*, session: Session, day: date) -> Sequence[EditorAction]:
    """The actions on one day's edition, oldest first."""
    return session.scalars(
        select(EditorAction).where(EditorAction.edition_date == day).order_by(EditorAction.id)
    ).all()
