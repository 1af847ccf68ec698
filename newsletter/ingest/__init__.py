"""Read one input file into an `IngestBatch`; storing it is another stage's job.

Three formats: JSON Lines exports, RSS/Atom feeds and the site's exported page. A single bad
record rejects the whole file, and the error names the file and the line or entry.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from newsletter.content import IngestBatch
from newsletter.errors import InputError
from newsletter.ingest.common import decode_utf8
from newsletter.ingest.feeds import read_feed
from newsletter.ingest.jsonl import read_jsonl
from newsletter.ingest.sitepage import read_page
from newsletter.languages import LANGUAGES

__all__ = ["read_file"]

_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_FEED_SUFFIXES = (".xml", ".rss", ".atom")
# Feeds and pages are parsed whole; JSON Lines are read a line at a time and have no limit.
MAX_FILE_BYTES = 16_000_000


def _is_feed(path: Path, data: bytes) -> bool:
    if path.suffix.lower() in _FEED_SUFFIXES:
        return True
    return data.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def read_file(
    path: Path,
    *,
    tz: ZoneInfo,
    published_at: datetime | None = None,
    lang: str | None = None,
    url: str | None = None,
) -> IngestBatch:
    """Detect the format and read every record, or raise `InputError` and read nothing.

    `lang` overrides the language of feeds and pages; `published_at` (naive means in `tz`) and
    `url` are what an exported page lacks. JSON Lines records carry all of these themselves.
    """
    if lang is not None and lang not in LANGUAGES:
        raise InputError(path, "lang", f"must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    try:
        if path.suffix.lower() in _JSONL_SUFFIXES:
            batch = read_jsonl(path)
            if not batch.articles and not batch.threads:
                raise InputError(path, "file", "the file is empty")
            return batch
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(
                path,
                "file",
                f"{size:,} bytes: feeds and pages are read whole, so at most "
                f"{MAX_FILE_BYTES:,} bytes are accepted",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "file", f"cannot read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise InputError(path, "file", "the file is empty")
    if _is_feed(path, data):
        return read_feed(path, data, lang=lang)
    return read_page(
        path, decode_utf8(path, data), tz=tz, published_at=published_at, lang=lang, url=url
    )
