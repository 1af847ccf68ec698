"""Editors' choices as stored, and how the build reads them. Kept apart from the built items:
a rebuild replaces the items, these stay, and the ranking applies them again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.select.ranking import EditorsChoice
from newsletter.store.models import EditionChoice, ItemOverride
from newsletter.summarize import clean_text, split_sentences
from newsletter.summarize.text import is_boilerplate


@dataclass(frozen=True)
class StoredChoice:
    """Everything editors chose for one day: the ranking's part, each article's chosen blurb
    sentences by URL, a subject per language and the note."""

    ranking: EditorsChoice = field(default_factory=EditorsChoice)
    sentences: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    subjects: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None


def stored_choice(*, session: Session, day: date) -> StoredChoice:
    overrides = session.scalars(select(ItemOverride).where(ItemOverride.edition_date == day)).all()
    whole = edition_choice(session=session, day=day)
    pinned = sorted((o for o in overrides if o.pin is not None), key=lambda o: (o.pin, o.id))
    return StoredChoice(
        ranking=EditorsChoice(
            pinned=tuple(o.item_url for o in pinned),
            excluded=frozenset(o.item_url for o in overrides if o.excluded),
            moves={o.item_url: o.move for o in overrides if o.move},
        ),
        sentences={o.item_url: tuple(o.sentences) for o in overrides if o.sentences},
        subjects=dict(whole.subjects) if whole else {},
        note=whole.note if whole else None,
    )


def item_override(*, session: Session, day: date, url: str) -> ItemOverride:
    """The override row of one item, made (empty) on first use."""
    found = session.scalars(
        select(ItemOverride).where(ItemOverride.edition_date == day, ItemOverride.item_url == url)
    ).one_or_none()
    if found is None:
        found = ItemOverride(edition_date=day, item_url=url, excluded=False, move=0)
        session.add(found)
    return found


def edition_choice(*, session: Session, day: date) -> EditionChoice | None:
    return session.scalars(
        select(EditionChoice).where(EditionChoice.edition_date == day)
    ).one_or_none()


def article_sentences(body: str, lang: str) -> list[str]:
    """The sentences an editor may choose for an article's blurb: its own, in order, without
    image credits, bylines and the like."""
    return [s for s in split_sentences(clean_text(body), lang) if not is_boilerplate(s)]


def chosen_blurb(body: str, lang: str, chosen: tuple[str, ...]) -> tuple[str, ...]:
    """The chosen sentences that are still the article's own, in the article's order: a blurb
    stays extractive even when the article was edited after the choice. Empty when none is."""
    wanted = set(chosen)
    return tuple(s for s in article_sentences(body, lang) if s in wanted)
