"""One reader's edition made from the day's ranked content: their language, their sections, and
the other language's headlines only if they asked for them.

Pure functions over plain records, so the sender, the previews and the archive page all apply
the same rules: the top stories, "Also today", threads replying to an article shown under it,
same-story articles folded under the first, and what gives way when a copy is too big.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from newsletter.content import ArticleItem, EditionContent, ThreadItem

MAX_THREADS = 10  # "Most discussed" at most


def wants(chosen: tuple[str, ...], item_tags: tuple[str, ...]) -> bool:
    """Whether an item with `item_tags` belongs in the edition of someone who chose `chosen`.

    No choice means everything. An item without tags belongs to no section the reader could
    have left out, so it is kept. Tags compare case-insensitively."""
    if not chosen or not item_tags:
        return True
    wanted = {tag.strip().lower() for tag in chosen}
    return any(tag.strip().lower() in wanted for tag in item_tags)


@dataclass(frozen=True)
class Story:
    """An article as the reader sees it, with the day's other reports of the same event
    (`also`, shown as headlines under it) and the thread replying to it, if any."""

    article: ArticleItem
    also: tuple[ArticleItem, ...] = ()
    discussion: ThreadItem | None = None


@dataclass(frozen=True)
class ReaderEdition:
    """`top` get a blurb (the first also its image); `headlines` ("Also today") and
    `other_language` are one line each. `left_out` headlines of the reader's language and
    `other_left_out` of the other did not fit the size limit and are reached through the archive
    page; `folded` top stories were made headlines for the same reason."""

    edition_date: date
    lang: str
    top: tuple[Story, ...]
    headlines: tuple[Story, ...]
    other_language: tuple[Story, ...]
    threads: tuple[ThreadItem, ...]
    left_out: int = 0
    other_left_out: int = 0
    folded: int = 0

    @property
    def empty(self) -> bool:
        return not (self.top or self.headlines or self.other_language or self.threads)

    @property
    def stories(self) -> int:
        """Stories in the reader's language, those left to the archive page included."""
        return len(self.top) + len(self.headlines) + self.left_out


def reader_edition(
    content: EditionContent,
    *,
    lang: str,
    sections: tuple[str, ...] = (),
    other_languages: bool = False,
    top_stories: int = 5,
) -> ReaderEdition:
    articles = [a for a in content.articles if wants(sections, a.tags)]
    own = _stories([a for a in articles if a.lang == lang], content.threads)
    other = (
        _stories([a for a in articles if a.lang != lang], content.threads)
        if other_languages
        else []
    )
    attached = {id(s.discussion) for s in (*own, *other) if s.discussion is not None}
    threads = tuple(t for t in content.threads if id(t) not in attached)[:MAX_THREADS]
    return ReaderEdition(
        edition_date=content.edition_date,
        lang=lang,
        top=tuple(own[:top_stories]),
        headlines=tuple(own[top_stories:]),
        other_language=tuple(other),
        threads=threads,
    )


def _stories(articles: list[ArticleItem], threads: tuple[ThreadItem, ...]) -> list[Story]:
    """Articles in rank order, each folded under the first of its story that the reader gets
    (an article whose leader is not in their sections leads its story itself)."""
    present = {a.url for a in articles}
    shown = {a.url for a in articles if a.story is None or a.story not in present}
    also: dict[str | None, list[ArticleItem]] = {}
    for article in articles:
        if article.url not in shown:
            also.setdefault(article.story, []).append(article)
    discussions: dict[str, ThreadItem] = {}
    for thread in threads:  # most discussed first: an article shows its busiest reply
        if thread.reply_to_url is not None:
            discussions.setdefault(thread.reply_to_url, thread)
    return [
        Story(a, tuple(also.get(a.url, ())), discussions.get(a.url or ""))
        for a in articles
        if a.url in shown
    ]


def fold(edition: ReaderEdition, *, top: int, headlines: int) -> ReaderEdition:
    """The edition with only its first `top` top stories (the rest become the first headlines)
    and its first `headlines` one-line headlines, own language first; what is cut is counted
    in `left_out`, to be reached through the archive page."""
    moved = edition.top[top:]
    own = (*moved, *edition.headlines)
    kept_own = own[:headlines]
    kept_other = edition.other_language[: max(headlines - len(own), 0)]
    return replace(
        edition,
        top=edition.top[:top],
        headlines=kept_own,
        other_language=kept_other,
        left_out=edition.left_out + len(own) - len(kept_own),
        other_left_out=edition.other_left_out + len(edition.other_language) - len(kept_other),
        folded=edition.folded + len(moved),
    )
