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


@dataclass(frozen=True)
class PostExcerpt:
    """Sentences of one forum post, quoted in a thread's extract under the author's name."""

    author: str
    text: str


@dataclass(frozen=True)
class ThreadItem:
    """A discussion thread as it appears in an edition; `last_activity_at` is in local time."""

    title: str
    url: str | None
    comments: int
    last_activity_at: datetime
    reply_to: str | None = None
    extract: tuple[PostExcerpt, ...] = ()


@dataclass(frozen=True)
class EditionContent:
    """What an edition says, independent of the reader's language and address."""

    edition_date: date
    headline: str
    articles: tuple[ArticleItem, ...]
    threads: tuple[ThreadItem, ...] = field(default=())
