"""Which parts of an edition a subscriber wants: pure functions the sending code applies."""

from __future__ import annotations

from dataclasses import replace

from newsletter.content import EditionContent


def wants(chosen: tuple[str, ...], item_tags: tuple[str, ...]) -> bool:
    """Whether an item with `item_tags` belongs in the edition of someone who chose `chosen`.

    No choice means everything. An item without tags belongs to no section the reader could
    have left out, so it is kept. Tags compare case-insensitively."""
    if not chosen or not item_tags:
        return True
    wanted = {tag.strip().lower() for tag in chosen}
    return any(tag.strip().lower() in wanted for tag in item_tags)


def content_for(content: EditionContent, chosen: tuple[str, ...]) -> EditionContent:
    """The edition with only the articles `wants` keeps (discussions have no tags and all stay),
    headed, as `build` heads an edition, by its first remaining item. May hold no articles and no
    threads: the sender should then skip the subscriber rather than mail an empty edition."""
    if not chosen:
        return content
    articles = tuple(a for a in content.articles if wants(chosen, a.tags))
    if articles == content.articles:
        return content
    first = articles[0].title if articles else None
    if first is None and content.threads:
        first = content.threads[0].title
    return replace(content, articles=articles, headline=first or content.headline)
