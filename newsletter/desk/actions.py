"""What an editor does to an edition: each step checks the edition's state, stores the choice
apart from the built items, records who did what in the audit log, and rebuilds the draft so
the preview shows the change at once. The web desk and the `editions` commands call these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.delivery.smtp import SmtpTransport
from newsletter.desk import audit
from newsletter.edition import build, require_edition
from newsletter.edition.choices import chosen_blurb, edition_choice, item_override
from newsletter.errors import DeliveryError, EditionStateError, NewsletterError
from newsletter.languages import LANGUAGES
from newsletter.pipeline import send_test
from newsletter.store.db import session_scope
from newsletter.store.models import (
    Article,
    Edition,
    EditionChoice,
    EditionStatus,
    ItemKind,
    ItemOverride,
)
from subscribers import InvalidAddress, normalize_address

ITEM_ACTIONS = ("pin", "unpin", "exclude", "include", "up", "down", "sentences")
MAX_NOTE = 2000
MAX_SUBJECT = 150


class DeskError(NewsletterError):
    """An editor's request that cannot be carried out; the message says why in plain words."""


def _draft(session: Session, day: date) -> Edition:
    edition = require_edition(session=session, day=day)
    if edition.status is EditionStatus.APPROVED:
        raise EditionStateError(
            f"the edition of {day} is approved: withdraw the approval to change it"
        )
    if edition.status is not EditionStatus.DRAFT:
        raise EditionStateError(f"the edition of {day} is {edition.status.value}: it is final")
    return edition


def change_item(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    url: str,
    editor: str,
    action: str,
    sentences: tuple[str, ...] = (),
) -> None:
    """Pin, unpin, exclude, include, move up or down one place, or choose the blurb's
    sentences (`sentences`, the article's own; none: the summarizer's again)."""
    if action not in ITEM_ACTIONS:
        raise DeskError(f"unknown action {action!r}")
    with session_scope(engine) as session:
        edition = _draft(session, day)
        override = item_override(session=session, day=day, url=url)
        built = [i for i in edition.items if i.kind is ItemKind.ARTICLE]
        item = next((i for i in built if i.url == url), None)
        if item is None and action not in ("include", "unpin"):
            raise DeskError(f"the edition of {day} has no article {url}")
        before: str | None
        after: str | None
        if action in ("pin", "unpin"):
            before = "pinned" if override.pin is not None else "not pinned"
            if action == "pin" and override.pin is None:
                override.pin = _next_pin(session, day)
            elif action == "unpin":
                override.pin = None
            after = "pinned" if override.pin is not None else "not pinned"
        elif action in ("exclude", "include"):
            before = "left out" if override.excluded else "in the edition"
            override.excluded = action == "exclude"
            after = "left out" if override.excluded else "in the edition"
        elif action in ("up", "down"):
            assert item is not None
            same = [i.url for i in built if i.details.get("lang") == item.details.get("lang")]
            place = same.index(url)
            to = min(max(place + (-1 if action == "up" else 1), 0), len(same) - 1)
            before, after = f"place {place + 1}", f"place {to + 1}"
            override.move += to - place
        else:
            assert item is not None
            own = _own_sentences(session, item.article_id, sentences)
            if sentences and not own:
                raise DeskError("the chosen sentences are not the article's own")
            before = " ".join(item.summary)
            override.sentences = list(own) or None
            after = " ".join(own) if own else "(the summarizer's choice)"
        audit.record(
            session=session,
            editor=editor,
            day=day,
            action=action,
            item_url=url,
            before=before,
            after=after,
        )
    build(engine=engine, settings=settings, day=day)


def _own_sentences(
    session: Session, article_id: int | None, chosen: tuple[str, ...]
) -> tuple[str, ...]:
    """The chosen sentences that are the article's own, in its order: a blurb stays extractive
    whatever a form sends."""
    article = session.get(Article, article_id) if article_id is not None else None
    return chosen_blurb(article.body, article.lang, chosen) if article and chosen else ()


def _next_pin(session: Session, day: date) -> int:
    """Pinned last: below the pins made before."""
    highest = session.scalar(
        select(func.max(ItemOverride.pin)).where(ItemOverride.edition_date == day)
    )
    return 0 if highest is None else highest + 1


def change_edition(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    editor: str,
    subjects: Mapping[str, str],
    note: str,
) -> None:
    """Set the subject of each language (empty: the built one) and the note (empty: none)."""
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise DeskError(f"the note is longer than {MAX_NOTE} characters")
    chosen = {lang: " ".join(subjects.get(lang, "").split()) for lang in LANGUAGES}
    if any(len(subject) > MAX_SUBJECT for subject in chosen.values()):
        raise DeskError(f"a subject is longer than {MAX_SUBJECT} characters")
    with session_scope(engine) as session:
        _draft(session, day)
        whole = edition_choice(session=session, day=day)
        if whole is None:
            whole = EditionChoice(edition_date=day, subjects={}, note=None)
            session.add(whole)
        old_subjects, old_note = dict(whole.subjects or {}), whole.note or ""
        for lang in LANGUAGES:
            if chosen[lang] != old_subjects.get(lang, ""):
                audit.record(
                    session=session,
                    editor=editor,
                    day=day,
                    action=f"subject {lang}",
                    before=old_subjects.get(lang) or "(the built subject)",
                    after=chosen[lang] or "(the built subject)",
                )
        if note != old_note:
            audit.record(
                session=session,
                editor=editor,
                day=day,
                action="note",
                before=old_note or "(none)",
                after=note or "(none)",
            )
        whole.subjects = {lang: subject for lang, subject in chosen.items() if subject}
        whole.note = note or None
    build(engine=engine, settings=settings, day=day)


def build_draft(*, engine: Engine, settings: Settings, day: date, editor: str) -> None:
    """Build (or rebuild, with the day's latest articles) the draft, editors' choices kept."""
    result = build(engine=engine, settings=settings, day=day)
    with session_scope(engine) as session:
        audit.record(
            session=session,
            editor=editor,
            day=day,
            action="rebuild" if result.rebuilt else "build",
            after=f"{result.articles} articles, {result.threads} discussions",
        )


def approve(*, engine: Engine, day: date, editor: str) -> None:
    """Approve a draft: `run` may send it (with edition.require_approval) and no rebuild or
    change touches it."""
    with session_scope(engine) as session:
        edition = require_edition(session=session, day=day)
        if edition.status is EditionStatus.APPROVED:
            raise EditionStateError(f"the edition of {day} is already approved")
        if edition.status is not EditionStatus.DRAFT:
            raise EditionStateError(f"the edition of {day} is {edition.status.value}")
        edition.status = EditionStatus.APPROVED
        audit.record(session=session, editor=editor, day=day, action="approve",
                     before="draft", after="approved")  # fmt: skip


def withdraw(*, engine: Engine, day: date, editor: str) -> None:
    """Take an approval back while nothing of the edition is sent."""
    with session_scope(engine) as session:
        edition = require_edition(session=session, day=day)
        if edition.status is not EditionStatus.APPROVED:
            raise EditionStateError(
                f"the edition of {day} is {edition.status.value}: only an approved edition "
                "that is not being sent can be withdrawn"
            )
        edition.status = EditionStatus.DRAFT
        audit.record(session=session, editor=editor, day=day, action="withdraw",
                     before="approved", after="draft")  # fmt: skip


@dataclass(frozen=True)
class TestCopy:
    lang: str
    address: str
    accepted: bool
    reply: str  # the relay's answer


def send_test_copies(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    to: str,
    langs: tuple[str, ...],
    editor: str,
    transport: SmtpTransport,
) -> list[TestCopy]:
    """The edition as it stands, one copy per language in `langs`, to any address, made by
    `newsletter.pipeline.send_test` (links that say they belong to a test copy). Recorded in the
    audit log only: no delivery, no subscriber. A refusal is an answer to show, not an error."""
    try:
        address = normalize_address(to)
    except InvalidAddress as exc:
        raise DeskError(f"{to!r} is not an email address: {exc.reason}") from None
    copies = []
    for lang in langs:
        try:
            send_test(
                engine=engine,
                settings=settings,
                day=day,
                to=address,
                lang=lang,
                transport=transport,
            )
            copies.append(TestCopy(lang, address, True, transport.last_reply))
        except DeliveryError as exc:
            copies.append(TestCopy(lang, address, False, str(exc)))
    with session_scope(engine) as session:
        for copy in copies:
            audit.record(
                session=session,
                editor=editor,
                day=day,
                action="test send",
                after=f"{copy.lang} copy to {copy.address}: {copy.reply}",
            )
    return copies
