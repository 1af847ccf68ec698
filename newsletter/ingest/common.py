"""Checks and keys shared by the format readers, so every format rejects the same bad values."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from newsletter.errors import InputError
from newsletter.languages import DEFAULT_LANGUAGE, language_of_tag

# An opening, closing or self-closing tag: `<b>`, `</p>`, `<script src=x>`, `<br/>`.
# "a < b" and "<3" are not tags, so ordinary titles pass.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


def collapse_spaces(text: str) -> str:
    return " ".join(text.split())


def has_markup(text: str) -> bool:
    return _TAG.search(text) is not None


def single_line(path: Path, where: str, field: str, value: str) -> str:
    """Reject a newline: in a title, url or author it means two records were run together."""
    if "\n" in value or "\r" in value:
        raise InputError(path, where, f"{field} contains a line break: {value!r}")
    return value


def clean_title(path: Path, where: str, raw: str, *, escaped: bool) -> str:
    """Unescape `escaped` titles, refuse markup (it would leak into subject lines), trim spaces."""
    title = collapse_spaces(html.unescape(raw) if escaped else raw)
    if not title:
        raise InputError(path, where, "title is empty")
    if has_markup(title):
        raise InputError(path, where, f"title contains HTML markup: {title!r}")
    return title


def check_url(path: Path, where: str, field: str, value: str) -> str:
    """Only absolute http(s) addresses can become links in an email."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise InputError(path, where, f"{field} is not an absolute http(s) URL: {value!r}")
    return value


def stable_key(prefix: str, title: str) -> str:
    """A key derived from the title alone, so re-ingesting an export updates instead of adding."""
    normalised = collapse_spaces(unicodedata.normalize("NFKC", title).casefold())
    return prefix + hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


def lang_from_tag(tag: str | None) -> str:
    """Map a feed's language tag (`ru`, `ru-RU`, `en-us`) onto the newsletter's languages; a
    feed without one, or in another language, is taken for the default."""
    return (language_of_tag(tag) if tag else None) or DEFAULT_LANGUAGE


def decode_utf8(path: Path, data: bytes) -> str:
    """Decode strictly: a wrong encoding would otherwise surface as garbled text in the email."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, f"line {line}", f"not valid UTF-8 ({exc.reason})") from None


def split_lines(text: str) -> list[str]:
    """Split on CR/LF only: `str.splitlines` also splits on U+2028 and friends, which JSON
    strings and page text may contain, and that would shift every line number after them."""
    return re.split(r"\r\n|\r|\n", text)
