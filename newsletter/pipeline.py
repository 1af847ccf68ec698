"""The day's job, whole: what cron's `newsletter run` does, and the day-based commands over an
edition (send, dry run, test copy, status, preview). It sits above the edition builder and the
delivery engine, which do not know each other: here a day becomes a built edition, and a built
edition becomes plain records for delivery.

    run(day) = finish earlier editions still being sent (`resume_earlier`)
             + build the day's edition unless it exists (`newsletter.edition.build`)
             + send what is left of it (`newsletter.delivery.send`)
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import Engine

from newsletter import delivery
from newsletter.config import Settings
from newsletter.delivery import BuiltEdition, EditionProgress, SendReport
from newsletter.delivery.compose import Messages
from newsletter.delivery.engine import Notice, Progress
from newsletter.delivery.ledger.queries import editions_left_sending
from newsletter.delivery.protocols import Connection
from newsletter.edition import (
    LanguageSize,
    build,
    content_of,
    load_content,
    missing_edition,
    require_edition,
)
from newsletter.errors import BuildRace, NewsletterError
from newsletter.languages import LANGUAGES
from newsletter.render import personalize
from newsletter.store import queries
from newsletter.store.db import session_scope
from subscribers import normalize_address

__all__ = [
    "PreviewResult",
    "dry_run",
    "load",
    "preview",
    "progress_of",
    "resume_earlier",
    "run",
    "send",
    "send_test",
]


def load(*, engine: Engine, settings: Settings, day: date) -> BuiltEdition:
    """The built edition of `day` as delivery takes it; EditionStateError if there is none."""
    with session_scope(engine) as session:
        edition = require_edition(session=session, day=day)
        return BuiltEdition(edition.id, edition.status, content_of(edition, settings))


def send(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    progress: Progress | None = None,
    worker: bool = False,
    transport: Connection | None = None,
    enqueue: bool = True,
    notice: Notice | None = None,
) -> SendReport:
    """Send the built edition of `day` (see `newsletter.delivery.send`). The settings and the
    store a send needs are checked before the edition is looked for."""
    delivery.require_send_settings(settings)
    delivery.require_sender_store(engine, worker=worker)
    return delivery.send(
        engine=engine,
        settings=settings,
        edition=load(engine=engine, settings=settings, day=day),
        progress=progress,
        worker=worker,
        transport=transport,
        enqueue=enqueue,
        notice=notice,
    )


def run(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    progress: Progress | None = None,
    transport: Connection | None = None,
    notice: Notice | None = None,
) -> SendReport:
    """What cron calls: build the day's edition unless it exists, then send what is left.
    The settings a send needs are checked before anything is built."""
    delivery.require_send_settings(settings)
    with session_scope(engine) as session:
        exists = queries.get_edition(session=session, edition_date=day) is not None
    if not exists:
        with suppress(BuildRace):  # another run built it meanwhile: send that one
            build(engine=engine, settings=settings, day=day)
    return send(
        engine=engine,
        settings=settings,
        day=day,
        progress=progress,
        transport=transport,
        notice=notice,
    )


def resume_earlier(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    progress: Progress | None = None,
    notice: Notice | None = None,
) -> tuple[list[SendReport], list[NewsletterError]]:
    """Finish the editions before `day` that are still being sent (the relay deferred some of
    their recipients through a whole run): a daily cron job then skips nobody. Only those
    recipients: someone who joined since gets today's edition, not a backlog of old ones.

    An earlier edition that fails is returned with its error, and the others go on: one bad
    day must never hold up the days after it."""
    with session_scope(engine) as session:
        days = editions_left_sending(session=session, before=day)
    reports: list[SendReport] = []
    failures: list[NewsletterError] = []
    for earlier in days:
        try:
            reports.append(
                send(
                    engine=engine,
                    settings=settings,
                    day=earlier,
                    progress=progress,
                    enqueue=False,
                    notice=notice,
                )
            )
        except NewsletterError as exc:
            failures.append(exc)
    return reports, failures


def dry_run(*, engine: Engine, settings: Settings, day: date) -> int:
    """Compose every message a send of `day` would make now; send and record nothing."""
    return delivery.dry_run(
        engine=engine, settings=settings, edition=load(engine=engine, settings=settings, day=day)
    )


def send_test(
    *, engine: Engine, settings: Settings, day: date, to: str, lang: str, transport: Connection
) -> str:
    """One test copy of `day`'s edition to `to` (see `newsletter.delivery.send_test`)."""
    settings.require_secret_key()
    address = normalize_address(to)  # a mistyped address is said before a missing edition
    return delivery.send_test(
        settings=settings,
        content=load_content(engine=engine, settings=settings, day=day),
        to=address,
        lang=lang,
        transport=transport,
    )


def progress_of(*, engine: Engine, settings: Settings, day: date) -> EditionProgress:
    """How the sending of `day`'s edition stands. Without an edition, the error says whether
    the day had nothing."""
    with session_scope(engine) as session:
        edition = queries.get_edition(session=session, edition_date=day)
        if edition is None:
            raise missing_edition(session=session, settings=settings, day=day)
        return delivery.progress_of(session=session, edition=edition)


@dataclass(frozen=True)
class PreviewResult:
    written: list[Path]
    sizes: tuple[LanguageSize, ...]


def preview(
    *, engine: Engine, settings: Settings, day: date, out_dir: Path, screenshots: bool = False
) -> PreviewResult:
    """Write the edition as each language's .html, .txt and .eml, as a subscriber with no
    sections chosen would get it; with `screenshots`, also how Chromium shows each .html on a
    desktop and on a phone, in light and dark mode.

    Its links are a test copy's (`send --to`): signed, so they need the secret key, and their
    pages say they belong to a test copy and change nothing. Without the key it writes nothing:
    any other link would lead to an error page, and differ in length from a reader's."""
    messages = Messages(load_content(engine=engine, settings=settings, day=day), settings)
    unsubscribe = messages.unsubscribe_url(None)
    preferences = messages.preferences_url(None)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    pages: list[tuple[str, Path]] = []
    sizes: list[LanguageSize] = []
    for lang in LANGUAGES:
        rendered = messages.rendered(lang)
        sizes.append(LanguageSize(lang, rendered.size, rendered.fitting()))
        html, text = personalize(rendered, unsubscribe_url=unsubscribe, preferences_url=preferences)
        message = messages.message(
            lang=lang,
            to_address=parseaddr(settings.require_from())[1],
            to_name=None,
            unsubscribe=unsubscribe,
            preferences=preferences,
        )
        stem = out_dir / f"edition-{day.isoformat()}.{lang}"
        for suffix, data in ((".html", html), (".txt", text)):
            path = stem.with_name(f"{stem.name}{suffix}")
            path.write_text(data, "utf-8")
            written.append(path)
        eml = stem.with_name(f"{stem.name}.eml")
        eml.write_bytes(message.as_bytes())
        written.append(eml)
        pages.append((html, stem))
    if screenshots:
        # Imported here: Playwright is an optional extra, needed only for this.
        from newsletter.render.screenshots import take_screenshots

        written.extend(take_screenshots(pages))
    return PreviewResult(written, tuple(sizes))
