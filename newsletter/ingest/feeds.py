"""RSS 2.0 and Atom feeds, read with feedparser; each entry becomes one article."""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax import SAXParseException

import feedparser

from newsletter.content import ArticleRecord, IngestBatch
from newsletter.errors import InputError
from newsletter.ingest import checks
from newsletter.ingest.common import (
    check_url,
    clean_title,
    collapse_spaces,
    decode_utf8,
    lang_from_tag,
)
from newsletter.ingest.html_text import html_to_text, plain_to_text

# feedparser flags these but still parses the document correctly: they are not errors.
_WARNINGS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_TITLE_IN_LABEL = 40
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_XML_DECLARATION = re.compile(rb"<\?xml[^>]*?>")
_DECLARED_ENCODING = re.compile(rb"""\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _label(index: int, entry: Any) -> str:
    """`entry 3 ('Title…')`: the position finds it in the file, the title tells the user which."""
    title = collapse_spaces(str(entry.get("title") or ""))
    if len(title) > _TITLE_IN_LABEL:
        title = title[: _TITLE_IN_LABEL - 1] + "…"
    return f"entry {index} ({title!r})" if title else f"entry {index}"


def _text(path: Path, where: str, detail: Any) -> str:
    """Content or summary as plain text; feedparser says whether it holds HTML or plain text."""
    value = checks.body_size(path, where, "body", str(detail.get("value") or ""))
    return html_to_text(value) if detail.get("type") in _HTML_TYPES else plain_to_text(value)


def _body(path: Path, where: str, entry: Any) -> str:
    if entry.get("content"):
        return _text(path, where, entry.content[0])
    if entry.get("summary_detail"):
        return _text(path, where, entry.summary_detail)
    return ""


def _published(entry: Any) -> datetime | None:
    parsed: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return None
    # feedparser normalises every date to UTC in a struct_time.
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def _language(entry: Any, feed: Any) -> str | None:
    """Atom puts `xml:lang` on the entry's parts; RSS has one `<language>` for the channel."""
    for detail in (*entry.get("content", ()), entry.get("title_detail") or {}):
        if detail.get("language"):
            return str(detail["language"])
    language = feed.get("language")
    return str(language) if language else None


def _image_url(entry: Any) -> str | None:
    """The first image among media:content, media:thumbnail and image enclosures."""
    candidates: list[str] = []
    for media in entry.get("media_content", ()):
        kind = str(media.get("type") or media.get("medium") or "image")
        if kind.startswith("image"):
            candidates.append(str(media.get("url") or ""))
    candidates += (str(thumb.get("url") or "") for thumb in entry.get("media_thumbnail", ()))
    candidates += (
        str(link.get("href") or "")
        for link in entry.get("enclosures", ())
        if str(link.get("type") or "").startswith("image/")
    )
    return next((url for url in candidates if url.startswith(("http://", "https://"))), None)


def _tags(entry: Any) -> tuple[str, ...]:
    terms = (collapse_spaces(str(tag.get("term") or "")) for tag in entry.get("tags", ()))
    return tuple(dict.fromkeys(term for term in terms if term))


def _article(path: Path, where: str, entry: Any, feed: Any, lang: str | None) -> ArticleRecord:
    link = entry.get("link")
    if not link:
        raise InputError(path, where, "entry has no link")
    title = entry.get("title")
    if not title:
        raise InputError(path, where, "entry has no title")
    title_is_html = (entry.get("title_detail") or {}).get("type") in _HTML_TYPES
    body = _body(path, where, entry)
    if not body:
        raise InputError(path, where, "entry has neither content nor summary text")
    published_at = _published(entry)
    if published_at is None:
        raise InputError(path, where, "entry has no published or updated date")
    return ArticleRecord(
        url=check_url(path, where, "link", str(link).strip()),
        title=clean_title(path, where, str(title), escaped=title_is_html),
        body=body,
        published_at=published_at,
        lang=lang or lang_from_tag(_language(entry, feed)),
        author=collapse_spaces(str(entry.get("author") or "")) or None,
        image_url=_image_url(entry),
        tags=_tags(entry),
    )


def _declared(path: Path, data: bytes) -> bytes:
    """The document with an XML declaration, checked to be UTF-8 unless it declares otherwise.

    feedparser would silently fall back to windows-1252 on bad UTF-8 and garble every title; and
    when a declaration is missing it adds one on a line of its own, shifting its error line
    numbers by one.
    """
    if data.startswith(_UTF16_BOMS):
        return data
    declaration = _XML_DECLARATION.match(data.removeprefix(_UTF8_BOM))
    if declaration is None:
        return b'<?xml version="1.0" encoding="utf-8"?>' + decode_utf8(path, data).encode("utf-8")
    encoding = _DECLARED_ENCODING.search(declaration.group())
    if encoding is None or encoding.group(1).lower() in (b"utf-8", b"utf8"):
        decode_utf8(path, data)
    return data


def read_feed(path: Path, data: bytes, *, lang: str | None) -> IngestBatch:
    """All entries or none; `lang` overrides the language the feed declares."""
    parsed = feedparser.parse(_declared(path, data))
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(problem, _WARNINGS):
        if isinstance(problem, SAXParseException):
            where, message = f"line {problem.getLineNumber()}", problem.getMessage()
        else:
            where, message = "feed", str(problem)
        raise InputError(path, where, f"not a well-formed feed: {message}")
    if not parsed.get("version"):
        raise InputError(path, "feed", "not an RSS or Atom feed")
    articles: list[ArticleRecord] = []
    notes: list[str] = []
    url_entries: dict[str, str] = {}
    for index, entry in enumerate(parsed.entries, start=1):
        where = _label(index, entry)
        article = checks.article(
            path, where, _article(path, where, entry, parsed.feed, lang), notes
        )
        if article.url in url_entries:
            first = url_entries[article.url]
            raise InputError(path, where, f"duplicate link {article.url!r} (also {first})")
        url_entries[article.url] = where
        articles.append(article)
    return IngestBatch(source=str(path), articles=tuple(articles), notes=tuple(notes))
