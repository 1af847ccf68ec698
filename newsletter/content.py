"""Plain records passed between pipeline stages; no stage sees another stage's internals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


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
    """Everything read from one input file; stored in one transaction or not at all."""

    source: str
    articles: tuple[ArticleRecord, ...] = ()
    threads: tuple[ThreadRecord, ...] = ()


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
