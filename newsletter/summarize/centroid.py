"""Centroid: sentences that share the most vocabulary with the rest of the article.

Cheap, language-independent apart from stemming and stop words, and in the same family as the
frequency methods (Luhn, TextRank) that do well on news with long extractive references.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

from newsletter.summarize.base import Summarizer
from newsletter.summarize.terms import content_terms
from newsletter.summarize.text import word_count


@dataclass(frozen=True, kw_only=True)
class CentroidSummarizer(Summarizer):
    """Centrality plus a title-overlap bonus and a preference for full-length sentences.

    The centroid counts, for each content stem, how many candidate sentences use it. A sentence
    scores the sum, over its distinct stems, of how many *other* sentences share each one: words
    it alone uses say nothing about the article's topic. That sum is divided by the stem count
    raised to `length_exponent` (0: none, 0.5: cosine-like, 1: a mean), then by the article's
    highest such score, so settings mean the same in short and long articles.
    `title_weight` adds that weight times the share of the title's stems the sentence contains.
    `length_weight` adds that weight times the sentence's words over `length_cap`, capped at 1:
    a short sentence carries little of the story, but past `length_cap` words length earns
    nothing more, so the summary does not grow by picking the longest sentences.
    `lead_weight` adds `lead_weight * exp(-position / lead_decay)` (position among candidates,
    0 first): news puts the story first, but not only in its first sentence, so the preference
    fades over the first several sentences instead of ending after one. Under a word budget,
    where sentence counts no longer decide length, a modest prior keeps the lede (journalists'
    highlights restate it) without giving up the central sentences long extracts are made of.
    The defaults were chosen on the dev sets with `bench/summaries.py` (see the README's figures).
    """

    length_exponent: float = 0.1
    title_weight: float = 0.1
    length_weight: float = 0.5
    length_cap: int = 30
    lead_weight: float = 0.3
    lead_decay: float = 6.0
    redundancy: float = 0.0

    def rate(self, candidates: Sequence[str], *, title: str | None) -> list[float]:
        bags = [content_terms(sentence) for sentence in candidates]
        shared = Counter(chain.from_iterable(bags))
        # Integer sums, so the result does not depend on set iteration order.
        centrality = [
            (sum(map(shared.__getitem__, bag)) - len(bag)) / len(bag) ** self.length_exponent
            if bag
            else 0.0
            for bag in bags
        ]
        top = max(centrality) or 1.0
        title_terms = content_terms(title) if title else frozenset()
        ratings: list[float] = []
        for position, (sentence, bag, central) in enumerate(
            zip(candidates, bags, centrality, strict=True)
        ):
            overlap = len(bag & title_terms) / len(title_terms) if title_terms else 0.0
            length = min(word_count(sentence), self.length_cap) / self.length_cap
            ratings.append(
                central / top
                + self.title_weight * overlap
                + self.length_weight * length
                + self.lead_weight * math.exp(-position / self.lead_decay)
            )
        return ratings
