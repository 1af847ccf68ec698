"""Edition records turned into what the templates print: links checked, dates and counts worded
in the reader's language, so both templates stay free of logic and show the same facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit

from babel.dates import format_date, format_datetime

from newsletter.content import ArticleItem, ThreadItem
from newsletter.render.labels import comment_count

MASTHEAD_DATE = "d MMMM y"
THREAD_TIME = "dd.MM HH:mm"


@dataclass(frozen=True)
class ArticleView:
    title: str
    lang: str
    link: str | None
    byline: str | None
    summary: str
    image_url: str | None


@dataclass(frozen=True)
class ThreadView:
    title: str
    link: str | None
    reply_line: str | None
    time: str
    comments: str


def web_link(url: str | None, *, base_url: str) -> str | None:
    """An absolute http(s) URL, or None: `urn:` keys, `javascript:` and the like get no link.
    Site-relative paths (forum exports) are resolved against the site."""
    if not url:
        return None
    absolute = urljoin(base_url, url.strip())
    parts = urlsplit(absolute)
    return absolute if parts.scheme in ("http", "https") and parts.netloc else None


def edition_date(day: date, *, lang: str) -> str:
    """`23 December 2024` / `23 декабря 2024` (Babel picks the genitive month for Russian)."""
    return format_date(day, MASTHEAD_DATE, locale=lang)


def article_view(item: ArticleItem, *, t: Mapping[str, str], base_url: str) -> ArticleView:
    """Articles keep their own language (`lang`, for the markup); only the byline is translated."""
    return ArticleView(
        title=item.title,
        lang=item.lang,
        link=web_link(item.url, base_url=base_url),
        byline=t["by_author"].format(author=item.author) if item.author else None,
        summary=" ".join(s.strip() for s in item.summary if s.strip()),
        image_url=web_link(item.image_url, base_url=base_url),
    )


def thread_view(item: ThreadItem, *, t: Mapping[str, str], lang: str, base_url: str) -> ThreadView:
    return ThreadView(
        title=item.title,
        link=web_link(item.url, base_url=base_url),
        reply_line=t["reply_to"].format(title=item.reply_to) if item.reply_to else None,
        # Already local time: Babel keeps an aware value in its own zone and a naive one as is.
        time=format_datetime(item.last_activity_at, THREAD_TIME, locale=lang),
        comments=comment_count(item.comments, lang=lang),
    )
