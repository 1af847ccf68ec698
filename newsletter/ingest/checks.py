"""What every record must satisfy before it may be stored, whatever format it came in: lengths
the store can hold on both databases, dates it can convert, counts that fit, and text that can
be shown.

Text that cannot be shown (`newsletter.content.UNSHOWABLE`) is refused in short fields and
cleaned in bodies. A title, author, tag or URL goes into subject lines, headers and keys (an
exported page's key is made from its title), so changing it silently would change what the
item is; it is short, and the exporter can fix it. A body is long prose that is summarised, not
quoted whole; a stray form feed or vertical tab from a copy-paste is common there, and refusing
the whole file for it would lose the day's other articles. So a body's unshowable characters are
replaced (`showable`) and a warning names the file, the record and how many.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from newsletter.content import (
    MAX_AUTHOR,
    MAX_BODY_CHARS,
    MAX_COUNT,
    MAX_POSTS,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    MAX_URL,
    MAX_YEAR,
    MIN_YEAR,
    UNSHOWABLE,
    ArticleRecord,
    PostRecord,
    ThreadRecord,
    first_unshowable,
    showable,
)
from newsletter.errors import InputError


def body_size(path: Path, where: str, field: str, raw: str) -> str:
    """Refuse an oversized body before any work is done on it (HTML parsing, summaries)."""
    if len(raw) > MAX_BODY_CHARS:
        raise InputError(
            path,
            where,
            f"{field} is {len(raw):,} characters long; at most {MAX_BODY_CHARS:,} are accepted",
        )
    return raw


def moment(path: Path, where: str, field: str, value: datetime) -> datetime:
    """An aware date-time the store can keep: it must convert to UTC within sensible years."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise InputError(
            path,
            where,
            f"{field} {value.isoformat()!r} is not between the years {MIN_YEAR} and {MAX_YEAR}",
        )
    return value


def count(path: Path, where: str, field: str, value: int) -> int:
    if not 0 <= value <= MAX_COUNT:
        raise InputError(path, where, f"{field} must be between 0 and {MAX_COUNT}, got {value}")
    return value


def article(path: Path, where: str, record: ArticleRecord, notes: list[str]) -> ArticleRecord:
    """The record as it may be stored, or InputError naming the file, record and field."""
    _short(path, where, "url", record.url, MAX_URL)
    _short(path, where, "title", record.title, MAX_TITLE)
    _short(path, where, "author", record.author, MAX_AUTHOR)
    _short(path, where, "image_url", record.image_url, MAX_URL)
    _tags(path, where, record.tags)
    moment(path, where, "published_at", record.published_at)
    return replace(record, body=_body(path, where, "body", record.body, notes))


def thread(path: Path, where: str, record: ThreadRecord, notes: list[str]) -> ThreadRecord:
    _short(path, where, "url", record.key, MAX_URL)
    _short(path, where, "url", record.url, MAX_URL)
    _short(path, where, "title", record.title, MAX_TITLE)
    _short(path, where, "reply_to", record.reply_to, MAX_TITLE)
    moment(path, where, "last_activity_at", record.last_activity_at)
    count(path, where, "comments", record.comments)
    if len(record.posts) > MAX_POSTS:
        raise InputError(path, where, f"{len(record.posts)} posts; at most {MAX_POSTS} are kept")
    posts = tuple(
        _post(path, where, f"posts[{index}]: ", post, notes)
        for index, post in enumerate(record.posts)
    )
    return replace(record, posts=posts)


def _post(path: Path, where: str, prefix: str, post: PostRecord, notes: list[str]) -> PostRecord:
    _short(path, where, prefix + "author", post.author, MAX_AUTHOR)
    moment(path, where, prefix + "posted_at", post.posted_at)
    return replace(post, body=_body(path, where, prefix + "body", post.body, notes))


def _short(path: Path, where: str, field: str, value: str | None, limit: int) -> None:
    if value is None:
        return
    if len(value) > limit:
        raise InputError(
            path, where, f"{field} is {len(value):,} characters long; at most {limit:,} fit"
        )
    bad = first_unshowable(value)
    if bad is not None:
        raise InputError(
            path, where, f"{field} holds {bad}, a character that cannot be shown: fix the source"
        )


def _tags(path: Path, where: str, tags: tuple[str, ...]) -> None:
    if len(tags) > MAX_TAGS:
        raise InputError(path, where, f"{len(tags)} tags; at most {MAX_TAGS} are accepted")
    for tag in tags:
        _short(path, where, "tag", tag, MAX_TAG)


def _body(path: Path, where: str, field: str, body: str, notes: list[str]) -> str:
    body_size(path, where, field, body)
    replaced = len(UNSHOWABLE.findall(body))
    if not replaced:
        return body
    notes.append(
        f"{path}: {where}: {field}: {replaced} character(s) that cannot be shown were replaced"
    )
    return showable(body)
