"""The site's exported page: one article, then a footer with the forum's discussion list.

The export carries no URL, no date and no year, so the caller supplies them; keys derive from
titles so that re-exporting the same page (with newer times and counts) updates, never adds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from newsletter.content import ArticleRecord, IngestBatch, ThreadRecord
from newsletter.errors import InputError
from newsletter.ingest import checks
from newsletter.ingest.common import check_url, collapse_spaces, split_lines, stable_key
from newsletter.languages import detect_language

PAGE_KEY = "urn:newsletter:page:"
DISCUSSION_KEY = "urn:newsletter:discussion:"
NO_DATE = "an exported page carries no date: pass --published-at ISO-DATETIME"

# The first footer line, in either language (compared after `_fold`).
_RIGHTS = (
    "the rights to this material belong to",
    "the material is placed by the copyright holder",
    "права на данный материал принадлежат",
    "материал размещен правообладателем",
)
_IMAGE_SOURCE = ("image source:", "источник изображения:")
_DISCUSSION = ("discussion", "обсуждение")
_BULLET = "•"
_WHEN = re.compile(r"(\d{1,2})\.(\d{1,2}) (\d{1,2}):(\d{2})")
_REPLY = re.compile(r"Ответ на\s+(?:\"(.+)\"|«(.+)»|“(.+)”)")
_SENTENCE_END = tuple(".!?:;…")
_MAX_AUTHOR_WORDS = 5


def _fold(line: str) -> str:
    """Case- and ё-insensitive form for matching the export's fixed phrases."""
    return collapse_spaces(line).casefold().replace("ё", "\N{CYRILLIC SMALL LETTER IE}")


def _bullet(line: str) -> str | None:
    """The text after a `  • ` bullet, or None for an ordinary line."""
    stripped = line.strip()
    return stripped[len(_BULLET) :].strip() if stripped.startswith(_BULLET) else None


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank lines separate paragraphs; lines within one are soft-wrapped."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return paragraphs


def _is_name(paragraph: str) -> bool:
    """The signature is a short line that is not a sentence."""
    words = paragraph.split()
    return len(words) <= _MAX_AUTHOR_WORDS and not paragraph.endswith(_SENTENCE_END)


def _article(
    path: Path, lines: list[str], published_at: datetime, lang: str | None, url: str | None
) -> ArticleRecord:
    paragraphs = _paragraphs(lines)
    if not paragraphs:
        raise InputError(path, "page", "no title before the rights line")
    title, *body = paragraphs
    # "Image source: belvpo.com" names a site, not an image: nothing to show.
    if body and _fold(body[0]).startswith(_IMAGE_SOURCE):
        body.pop(0)
    author = body.pop() if len(body) > 1 and _is_name(body[-1]) else None
    if not body:
        raise InputError(path, "page", "no article text between the title and the rights line")
    text = "\n\n".join(body)
    return ArticleRecord(
        url=check_url(path, "page", "url", url) if url else stable_key(PAGE_KEY, title),
        title=title,
        body=text,
        published_at=published_at,
        lang=lang or detect_language(text),
        author=author,
    )


def _last_activity(
    path: Path, where: str, when: str, tz: ZoneInfo, published: datetime
) -> datetime:
    """`DD.MM HH:MM` in `tz`, in the year that puts it at most a day after publication."""
    match = _WHEN.fullmatch(when)
    if match is None:
        raise InputError(path, where, f"expected '• DD.MM HH:MM', got {when!r}")
    day, month, hour, minute = map(int, match.groups())
    local = published.astimezone(tz)
    try:
        moment = datetime(local.year, month, day, hour, minute, tzinfo=tz)
        # Lists show the last days only, so a December entry on a January page is last year's.
        if moment > local + timedelta(days=1):
            moment = moment.replace(year=local.year - 1)
    except ValueError:
        raise InputError(path, where, f"invalid date {when!r}") from None
    return moment


def _threads(
    path: Path,
    numbered: list[tuple[int, str]],
    tz: ZoneInfo,
    published: datetime,
    notes: list[str],
) -> tuple[ThreadRecord, ...]:
    """Repeated (`• DD.MM HH:MM`, `• COUNT`, title) triples; a repeated title keeps its latest."""
    threads: dict[str, ThreadRecord] = {}
    lines = iter([(number, line) for number, line in numbered if line.strip()])
    for date_no, date_line in lines:
        count_no, count_line = next(lines, (date_no, ""))
        title_no, title_line = next(lines, (count_no, ""))
        when = _bullet(date_line)
        if when is None:
            raise InputError(
                path, f"line {date_no}", f"expected '• DD.MM HH:MM', got {date_line!r}"
            )
        last_activity_at = _last_activity(path, f"line {date_no}", when, tz, published)
        count = _bullet(count_line)
        if count is None:
            raise InputError(
                path, f"line {date_no}", "date line is not followed by a '• COUNT' line"
            )
        if not count.isdecimal():
            raise InputError(
                path, f"line {count_no}", f"comment count is not an integer: {count!r}"
            )
        if not title_line:
            raise InputError(path, f"line {count_no}", "count line is not followed by a title line")
        if _bullet(title_line) is not None:
            raise InputError(path, f"line {title_no}", f"expected a title, got {title_line!r}")
        title = collapse_spaces(title_line)
        reply = _REPLY.fullmatch(title)
        thread = checks.thread(
            path,
            f"line {title_no}",
            ThreadRecord(
                key=stable_key(DISCUSSION_KEY, title),
                title=title,
                last_activity_at=last_activity_at,
                comments=int(count),
                reply_to=next(g for g in reply.groups() if g).strip() if reply else None,
            ),
            notes,
        )
        earlier = threads.get(thread.key)
        if earlier is None or thread.last_activity_at > earlier.last_activity_at:
            threads[thread.key] = thread
    return tuple(threads.values())


def read_page(
    path: Path,
    text: str,
    *,
    tz: ZoneInfo,
    published_at: datetime | None,
    lang: str | None,
    url: str | None,
) -> IngestBatch:
    """One article and the discussion list; `published_at` dates the article and the list."""
    if published_at is None:
        raise InputError(path, "page", NO_DATE)
    published = checks.moment(
        path,
        "page",
        "--published-at",
        published_at if published_at.tzinfo else published_at.replace(tzinfo=tz),
    )
    numbered = list(enumerate(split_lines(text), start=1))
    folded = [_fold(line) for _, line in numbered]
    footer = next((i for i, line in enumerate(folded) if line.startswith(_RIGHTS)), None)
    if footer is None:
        raise InputError(path, "page", "no rights line ('The rights to this material belong to')")
    notes: list[str] = []
    article = checks.article(
        path,
        "page",
        _article(path, [line for _, line in numbered[:footer]], published, lang, url),
        notes,
    )
    header = next(
        (
            i
            for i, line in enumerate(folded)
            if i > footer and line.startswith(_BULLET) and line[1:].strip() in _DISCUSSION
        ),
        None,
    )
    threads = () if header is None else _threads(path, numbered[header + 1 :], tz, published, notes)
    return IngestBatch(source=str(path), articles=(article,), threads=threads, notes=tuple(notes))
