"""Plain records passed between pipeline stages; no stage sees another stage's internals."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

# What a stored record may hold: the same limits on SQLite (which checks no lengths) as on
# PostgreSQL (whose VARCHAR(n) refuses more), checked at ingest where the record can be named.
# The store's columns are declared with these.
MAX_URL = 2048
MAX_TITLE = 1000
MAX_AUTHOR = 300
MAX_TAG = 100
MAX_TAGS = 50
# Bodies are TEXT, unbounded in the store; a day's article is some 10,000 characters, so a
# million is an export gone wrong, and refusing it keeps ingest's memory bounded.
MAX_BODY_CHARS = 1_000_000
MAX_POSTS = 1000
# Counts go into a 32-bit INTEGER column on both databases.
MAX_COUNT = 2**31 - 1
# Dates an article or post may carry: a year-1 date cannot even be converted to UTC.
MIN_YEAR, MAX_YEAR = 1900, 9998

# Characters that cannot be shown: C0 controls but tab, line feed and carriage return (XML and
# so MJML refuse them), the noncharacters U+FFFE and U+FFFF, and lone surrogates (no UTF-8 form).
UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def first_unshowable(text: str) -> str | None:
    """`U+0001` for the first character of `text` that cannot be shown, None if all can."""
    found = UNSHOWABLE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def showable(text: str) -> str:
    """`text` with every character that cannot be shown replaced: controls by a space (a
    vertical tab or form feed separated words), the rest by U+FFFD, the replacement character."""
    return UNSHOWABLE.sub(_replacement, text)


def _replacement(found: re.Match[str]) -> str:
    return " " if found.group() < "\x20" else "\ufffd"


@dataclass(frozen=True)
class ArticleRecord:
    """An article as ingested; `published_at` is always timezone-aware."""

    url: str
    title: str
    body: str
    published_at: datetime
    lang: str
    author: str | None = None
    image_url: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostRecord:
    author: str
    body: str
    posted_at: datetime


@dataclass(frozen=True)
class ThreadRecord:
    """A forum thread. `key` identifies it across re-ingests; `url` may be absent (site exports)."""

    key: str
    title: str
    last_activity_at: datetime
    comments: int
    url: str | None = None
    reply_to: str | None = None
    posts: tuple[PostRecord, ...] = ()


@dataclass(frozen=True)
class IngestBatch:
    """Everything read from one input file; stored in one transaction or not at all. `notes`
    are warnings about what was cleaned on the way, each naming the file and the record."""

    source: str
    articles: tuple[ArticleRecord, ...] = ()
    threads: tuple[ThreadRecord, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArticleItem:
    """An article as it appears in an edition."""

    title: str
    url: str | None
    summary: tuple[str, ...]
    lang: str
    published_at: datetime
    author: str | None = None
    image_url: str | None = None
    tags: tuple[str, ...] = ()
    # The URL of the higher-ranked article of the day telling the same story: this one is then
    # shown under it as "Also: headline", with no blurb of its own.
    story: str | None = None


@dataclass(frozen=True)
class PostExcerpt:
    """Sentences of one forum post, quoted in a thread's extract under the author's name."""

    author: str
    text: str


@dataclass(frozen=True)
class ThreadItem:
    """A discussion thread as it appears in an edition; `last_activity_at` is in local time.

    `activity` is its posts that day (or the growth of its comment count since the previous
    export), None when unknown. `reply_to_url` links it to the edition's article it replies
    to, under which it is shown. `extracts` holds a quoted extract per reader language, made of
    that language's posts when the thread has some; `extract` is the one for any other."""

    title: str
    url: str | None
    comments: int
    last_activity_at: datetime
    reply_to: str | None = None
    extract: tuple[PostExcerpt, ...] = ()
    activity: int | None = None
    reply_to_url: str | None = None
    extracts: tuple[tuple[str, tuple[PostExcerpt, ...]], ...] = ()

    def extract_for(self, lang: str) -> tuple[PostExcerpt, ...]:
        return dict(self.extracts).get(lang, self.extract)


@dataclass(frozen=True)
class EditionContent:
    """What an edition says in both languages, independent of the reader: the day's articles
    and threads, each in rank order (best first). `subjects` are editors' subject lines by
    language (lang, subject), replacing the built one; `note` is an editor's note in plain
    text, shown at the top of both parts."""

    edition_date: date
    articles: tuple[ArticleItem, ...]
    threads: tuple[ThreadItem, ...] = field(default=())
    subjects: tuple[tuple[str, str], ...] = ()
    note: str | None = None
