"""Ranking a day: which articles lead, which threads are most discussed. Deterministic and made
only of what the store knows, so `newsletter build --explain` can show why each item sits where
it does.

An article's score is the sum of four signals, so each one's share of it can be shown:
- discussion: the site's threads replying to it that were active that day, and their posts
  that day (log-scaled: the fifth thread adds less than the first);
- coverage: how many other articles of the day, in its language, tell the same story;
- section: the weight `edition.section_weights` gives its best-weighted tag;
- recency: how late in the day it was published (0 at 00:00 to 1 at 24:00).

Editors pin, exclude and move items at the desk: `EditorsChoice` is where that goes in;
pinned articles lead in the given order, excluded ones are left out, the rest keep their score
order, and then each moved article shifts by its number of places among its own language's
articles (what a reader of that language sees), so a move still means "one higher than the
ranking puts it" after a rebuild has added the day's later articles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from newsletter.select.stories import StoryText, stories

SIGNALS = ("discussion", "coverage", "section", "recency")


@dataclass(frozen=True)
class Candidate:
    """An article of the day, as ranking sees it."""

    key: str
    title: str
    lead: str
    lang: str
    published_at: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThreadActivity:
    """A thread active on the day. `posts_today` is None when the store holds none of its posts
    (the site's export lists only a count), `growth` None when no earlier export counted it."""

    key: str
    title: str
    last_activity_at: datetime
    reply_to: str | None = None
    posts_today: int | None = None
    growth: int | None = None

    @property
    def activity(self) -> int | None:
        """Its posts that day where they are known, else the growth of its comment count since
        the previous export; None when neither is known."""
        return self.posts_today if self.posts_today is not None else self.growth


@dataclass(frozen=True)
class EditorsChoice:
    pinned: tuple[str, ...] = ()
    excluded: frozenset[str] = frozenset()
    moves: Mapping[str, int] = field(default_factory=dict)  # key -> places down (< 0: up)


@dataclass(frozen=True)
class RankedArticle:
    candidate: Candidate
    score: float
    signals: Mapping[str, float]
    # The key of the higher-ranked article telling the same story; None when this one leads it.
    story: str | None = None
    replies: tuple[str, ...] = ()  # keys of the day's threads replying to it
    pinned: bool = False

    def share(self, signal: str) -> float:
        return self.signals[signal] / self.score if self.score else 0.0


@dataclass(frozen=True)
class Ranking:
    articles: tuple[RankedArticle, ...]
    threads: tuple[ThreadActivity, ...]  # most discussed first, no thread without activity
    excluded: tuple[str, ...] = field(default=())


def rank_threads(threads: Sequence[ThreadActivity]) -> tuple[ThreadActivity, ...]:
    """Most active first: by posts that day or count growth; threads with neither known come
    after those, in the site's own order (latest activity first). A thread known to have had
    no activity that day is left out."""
    active = [t for t in threads if t.activity != 0]
    return tuple(
        sorted(
            active,
            key=lambda t: (
                t.activity is None,
                -(t.activity or 0),
                -t.last_activity_at.timestamp(),
                t.key,
            ),
        )
    )


def rank_day(
    candidates: Sequence[Candidate],
    threads: Sequence[ThreadActivity],
    *,
    day_start: datetime,
    day_end: datetime,
    section_weights: Mapping[str, float],
    choice: EditorsChoice = EditorsChoice(),
) -> Ranking:
    kept = [c for c in candidates if c.key not in choice.excluded]
    ranked_threads = rank_threads(threads)
    replies: dict[str, list[ThreadActivity]] = {}
    for thread in ranked_threads:
        if thread.reply_to:
            replies.setdefault(title_key(thread.reply_to), []).append(thread)
    story_of = stories([StoryText(c.title, c.lead, c.lang) for c in kept])
    story_size = {s: story_of.count(s) for s in set(story_of)}
    length = (day_end - day_start).total_seconds()
    scored: list[RankedArticle] = []
    for candidate, story in zip(kept, story_of, strict=True):
        own = replies.get(title_key(candidate.title), [])
        posts = sum(t.activity or 0 for t in own)
        signals = {
            "discussion": math.log2(1 + len(own) + posts),
            "coverage": float(story_size[story] - 1),
            "section": max(
                (section_weights.get(tag.strip().casefold(), 0.0) for tag in candidate.tags),
                default=0.0,
            ),
            "recency": min(
                max((candidate.published_at - day_start).total_seconds(), 0) / length, 1
            ),
        }
        scored.append(
            RankedArticle(
                candidate,
                sum(signals.values()),
                signals,
                replies=tuple(t.key for t in own),
                pinned=candidate.key in choice.pinned,
            )
        )
    pins = {key: i for i, key in enumerate(choice.pinned)}
    order = sorted(
        range(len(scored)),
        key=lambda i: (
            pins.get(scored[i].candidate.key, len(pins)),
            -scored[i].score,
            -scored[i].candidate.published_at.timestamp(),
            scored[i].candidate.key,
        ),
    )
    order = _moved(order, [scored[i].candidate for i in order], choice.moves)
    # The first of a story in rank order leads it; the others fold under it.
    leader: dict[int, str] = {}
    articles = []
    for i in order:
        story = story_of[i]
        lead = leader.setdefault(story, scored[i].candidate.key)
        folded = lead if lead != scored[i].candidate.key else None
        articles.append(replace(scored[i], story=folded))
    excluded = tuple(c.key for c in candidates if c.key in choice.excluded)
    return Ranking(tuple(articles), ranked_threads, excluded)


def _moved(order: list[int], ranked: list[Candidate], moves: Mapping[str, int]) -> list[int]:
    """`order` with each moved article shifted within its language's places, in rank order of
    the moved articles; a move past either end stops there."""
    if not moves:
        return order
    result = list(order)
    for lang in dict.fromkeys(c.lang for c in ranked):
        places = [p for p, c in enumerate(ranked) if c.lang == lang]
        keys = [ranked[p].key for p in places]
        members = [result[p] for p in places]
        for key in [k for k in keys if moves.get(k)]:
            at = keys.index(key)
            to = min(max(at + moves[key], 0), len(keys) - 1)
            keys.insert(to, keys.pop(at))
            members.insert(to, members.pop(at))
        for p, member in zip(places, members, strict=True):
            result[p] = member
    return result


def title_key(title: str) -> str:
    """Titles compare as the site writes them in `Ответ на "…"`: spacing and case aside."""
    return " ".join(title.split()).casefold()
