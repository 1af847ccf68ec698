"""JSON Lines exports: one article or thread object per line, validated field by field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from newsletter.content import (
    MAX_BODY_CHARS,
    ArticleRecord,
    IngestBatch,
    PostRecord,
    ThreadRecord,
)
from newsletter.errors import InputError
from newsletter.ingest import checks
from newsletter.ingest.common import (
    check_url,
    clean_title,
    collapse_spaces,
    single_line,
    split_lines,
)
from newsletter.ingest.html_text import html_to_text
from newsletter.languages import LANGUAGES

# The longest line read: a body at its limit, even written all in \uXXXX escapes, plus the
# other fields. A longer line is refused before it is parsed, so memory stays bounded.
MAX_LINE_BYTES = 6 * MAX_BODY_CHARS + 1_000_000


class _Fields:
    """Typed access to one JSON object; every failure names the file, the line and the field."""

    def __init__(self, path: Path, where: str, data: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.where = where
        self.data = data
        self.prefix = prefix

    def fail(self, reason: str) -> InputError:
        return InputError(self.path, self.where, self.prefix + reason)

    def get(self, name: str, kind: type, kind_name: str, *, required: bool) -> Any:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(f"missing field {name!r}")
            return None
        # bool is an int subclass, but `"comments": true` is a mistake, not a count.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(f"field {name!r} must be {kind_name}, got {type(value).__name__}")
        return value

    def text(self, name: str) -> str:
        value: str = self.get(name, str, "a string", required=True)
        return value

    def optional_text(self, name: str) -> str | None:
        value: str | None = self.get(name, str, "a string", required=False)
        return value

    def title(self) -> str:
        raw = single_line(self.path, self.where, "title", self.text("title"))
        return clean_title(self.path, self.where, raw, escaped=True)

    def body(self) -> str:
        raw = checks.body_size(self.path, self.where, self.prefix + "body", self.text("body"))
        body = html_to_text(raw)
        if not body:
            raise self.fail("field 'body' has no text")
        return body

    def url(self, name: str) -> str:
        value = single_line(self.path, self.where, self.prefix + name, self.text(name))
        return check_url(self.path, self.where, self.prefix + name, value)

    def optional_url(self, name: str) -> str | None:
        return self.url(name) if self.data.get(name) is not None else None

    def author(self) -> str | None:
        value = self.optional_text("author")
        if value is None:
            return None
        return collapse_spaces(single_line(self.path, self.where, self.prefix + "author", value))

    def moment(self, name: str) -> datetime:
        value = self.text(name)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(f"field {name!r} is not an ISO 8601 datetime: {value!r}") from None
        if moment.tzinfo is None:
            # A naive time is ambiguous by hours; the exporter must say which zone it meant.
            raise self.fail(f"field {name!r} has no UTC offset: {value!r}")
        return checks.moment(self.path, self.where, f"field {self.prefix}{name!r}", moment)

    def count(self, name: str) -> int:
        value: int = self.get(name, int, "an integer", required=True)
        return checks.count(self.path, self.where, f"field {name!r}", value)

    def objects(self, name: str) -> list[dict[str, Any]]:
        items: list[Any] = self.get(name, list, "a list", required=False) or []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(f"{name}[{index}] must be an object")
        return items

    def tags(self) -> tuple[str, ...]:
        items: list[Any] = self.get("tags", list, "a list", required=False) or []
        if not all(isinstance(item, str) for item in items):
            raise self.fail("field 'tags' must be a list of strings")
        return tuple(dict.fromkeys(tag for tag in map(collapse_spaces, items) if tag))


def _article(fields: _Fields, url: str) -> ArticleRecord:
    lang = fields.text("lang")
    if lang not in LANGUAGES:
        raise fields.fail(f"field 'lang' must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return ArticleRecord(
        url=url,
        title=fields.title(),
        body=fields.body(),
        published_at=fields.moment("published_at"),
        lang=lang,
        author=fields.author(),
        image_url=fields.optional_url("image_url"),
        tags=fields.tags(),
    )


def _post(fields: _Fields) -> PostRecord:
    author = fields.author()
    if not author:
        raise fields.fail("missing field 'author'")
    return PostRecord(author=author, body=fields.body(), posted_at=fields.moment("posted_at"))


def _thread(fields: _Fields, url: str) -> ThreadRecord:
    reply_to = fields.optional_text("reply_to")
    posts = tuple(
        _post(_Fields(fields.path, fields.where, item, prefix=f"posts[{index}]: "))
        for index, item in enumerate(fields.objects("posts"))
    )
    return ThreadRecord(
        key=url,
        url=url,
        title=fields.title(),
        last_activity_at=fields.moment("last_activity_at"),
        comments=fields.count("comments"),
        reply_to=collapse_spaces(reply_to) if reply_to else None,
        posts=posts,
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(number, text) of each line, read one at a time so a huge line is refused unread."""
    number = 0
    with path.open("rb") as source:
        while chunk := source.readline(MAX_LINE_BYTES + 1):
            if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                raise InputError(
                    path,
                    f"line {number + 1}",
                    f"longer than {MAX_LINE_BYTES:,} bytes: not read (an article body may hold "
                    f"{MAX_BODY_CHARS:,} characters)",
                )
            try:
                text = chunk.decode("utf-8-sig" if number == 0 else "utf-8")
            except UnicodeDecodeError as exc:
                line = number + 1 + chunk[: exc.start].count(b"\r")
                raise InputError(path, f"line {line}", f"not valid UTF-8 ({exc.reason})") from None
            pieces = split_lines(text.removesuffix("\n").removesuffix("\r"))
            for piece in pieces:
                number += 1
                yield number, piece


def _parse(path: Path, where: str, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(path, where, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise InputError(path, where, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise InputError(path, where, f"invalid JSON: {exc}") from None


def read_jsonl(path: Path) -> IngestBatch:
    """Read every line or none: one bad record rejects the file, so a half-import can't happen."""
    articles: list[ArticleRecord] = []
    threads: list[ThreadRecord] = []
    notes: list[str] = []
    url_lines: dict[str, int] = {}
    for number, line in _lines(path):
        if not line.strip():
            continue
        where = f"line {number}"
        data = _parse(path, where, line)
        if not isinstance(data, dict):
            raise InputError(path, where, "expected a JSON object")
        fields = _Fields(path, where, data)
        kind = fields.text("type")
        if kind not in ("article", "thread"):
            raise fields.fail(f"unknown type {kind!r} (expected 'article' or 'thread')")
        url = fields.url("url")
        if url in url_lines:
            raise fields.fail(f"duplicate url {url!r} (first on line {url_lines[url]})")
        url_lines[url] = number
        if kind == "article":
            articles.append(checks.article(path, where, _article(fields, url), notes))
        else:
            threads.append(checks.thread(path, where, _thread(fields, url), notes))
    return IngestBatch(
        source=str(path), articles=tuple(articles), threads=tuple(threads), notes=tuple(notes)
    )
