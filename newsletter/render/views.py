"""Edition records turned into what the templates print: links checked, dates and counts worded
in the reader's language, articles grouped into sections, so both templates stay free of logic
and show the same facts."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit

from babel.dates import format_date, format_datetime

from newsletter.content import PostExcerpt, ThreadItem
from newsletter.render.labels import comment_count, section_name
from newsletter.render.shape import Story

MASTHEAD_DATE = "d MMMM y"
THREAD_TIME = "dd.MM HH:mm"
# A quoted post is a taste of the discussion, not the discussion: two lines on a phone.
EXCERPT_CHARS = 120
QUOTES = 1  # posts quoted per thread: a phone screen holds the list, not the discussion


@dataclass(frozen=True)
class LinkView:
    """A headline on one line: "Also: ..." under a story, or an article in "Also today"."""

    title: str
    lang: str
    link: str | None


@dataclass(frozen=True)
class StoryView:
    """A top story (`summary`, and `image_url` for the first one only) or a headline (neither).
    `comments` links to the thread replying to it; `also` are the day's other reports of it."""

    title: str
    lang: str
    link: str | None
    byline: str | None
    summary: str
    image_url: str | None
    comments: str | None
    comments_link: str | None
    also: tuple[LinkView, ...]


@dataclass(frozen=True)
class SectionView:
    """`name` is None when no headline of the group carries a tag: one list, no heading."""

    name: str | None
    stories: tuple[StoryView, ...]


@dataclass(frozen=True)
class ExcerptView:
    author: str
    text: str


@dataclass(frozen=True)
class ThreadView:
    title: str
    link: str | None
    reply_line: str | None
    time: str
    comments: str
    activity: str | None
    extract: tuple[ExcerptView, ...]


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


def story_view(
    story: Story,
    *,
    t: Mapping[str, str],
    lang: str,
    base_url: str,
    blurb: bool = False,
    image: bool = False,
) -> StoryView:
    """Articles keep their own language (`lang`, for the markup); only labels are translated."""
    item, thread = story.article, story.discussion
    return StoryView(
        title=item.title,
        lang=item.lang,
        link=web_link(item.url, base_url=base_url),
        byline=t["by_author"].format(author=item.author) if blurb and item.author else None,
        summary=" ".join(s.strip() for s in item.summary if s.strip()) if blurb else "",
        image_url=web_link(item.image_url, base_url=base_url) if image else None,
        comments=comment_count(thread.comments, lang=lang) if thread is not None else None,
        comments_link=web_link(thread.url, base_url=base_url) if thread is not None else None,
        also=tuple(
            LinkView(a.title, a.lang, web_link(a.url, base_url=base_url)) for a in story.also
        ),
    )


def sections(
    stories: Sequence[Story], *, t: Mapping[str, str], lang: str, base_url: str
) -> tuple[SectionView, ...]:
    """Headlines grouped by tag. Each goes under the one of its tags that most of the group
    shares (ties: the tag it lists first), so 25 headlines make a few sections rather than one
    per article; sections come in the order of their best-ranked headline. Untagged ones close
    the list under "More news"; a list without any tag has no headings at all."""
    tags = [
        tuple(dict.fromkeys(raw.strip().casefold() for raw in s.article.tags if raw.strip()))
        for s in stories
    ]
    shared = Counter(tag for article_tags in tags for tag in article_tags)
    groups: dict[str | None, list[StoryView]] = {}
    for story, article_tags in zip(stories, tags, strict=True):
        # max() keeps the first of equal counts: the article's own order breaks ties.
        key = max(article_tags, key=shared.__getitem__) if article_tags else None
        groups.setdefault(key, []).append(story_view(story, t=t, lang=lang, base_url=base_url))
    if list(groups) == [None]:
        return (SectionView(None, tuple(groups[None])),)
    named = [SectionView(section_name(k, lang=lang), tuple(v)) for k, v in groups.items() if k]
    if None in groups:
        named.append(SectionView(t["other_news"], tuple(groups[None])))
    return tuple(named)


def _excerpt(post: PostExcerpt) -> ExcerptView:
    text = " ".join(post.text.split())
    return ExcerptView(post.author.strip(), textwrap.shorten(text, EXCERPT_CHARS, placeholder="…"))


def thread_view(
    item: ThreadItem, *, t: Mapping[str, str], lang: str, base_url: str, quote: bool = True
) -> ThreadView:
    """The extract (with `quote`) quotes the reader's language where the thread has posts in
    it."""
    return ThreadView(
        title=item.title,
        link=web_link(item.url, base_url=base_url),
        # Site threads are often titled `Reply to "X"` already: say it once.
        reply_line=(
            t["reply_to"].format(title=item.reply_to)
            if item.reply_to and item.reply_to not in item.title
            else None
        ),
        # Already local time: Babel keeps an aware value in its own zone and a naive one as is.
        time=format_datetime(item.last_activity_at, THREAD_TIME, locale=lang),
        comments=comment_count(item.comments, lang=lang),
        activity=t["today"].format(n=item.activity) if item.activity else None,
        extract=(
            tuple(_excerpt(p) for p in item.extract_for(lang) if p.text.strip())[:QUOTES]
            if quote
            else ()
        ),
    )
