"""Centroid: sentences that share the most vocabulary with the rest of the article.

Cheap, language-independent apart from stemming and stop words, and in the same family as the
frequency methods (Luhn, TextRank) that do well on news with long extractive references.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

from newsletter.summarize.base import Summarizer
from newsletter.summarize.terms import content_terms


@dataclass(frozen=True, kw_only=True)
class CentroidSummarizer(Summarizer):
    """Centrality plus a lead prior and a title-overlap bonus; redundant sentences yield.

    The centroid counts, for each content stem, how many candidate sentences use it. A sentence
    scores the sum, over its distinct stems, of how many *other* sentences share each one: words
    it alone uses say nothing about the article's topic. That sum is divided by the stem count
    raised to `length_exponent` (0: none, 0.5: cosine-like, 1: a mean), then by the article's
    highest such score, so settings mean the same in short and long articles.
    `lead_weight` adds `lead_weight / (1 + position)`: news puts the gist first.
    `title_weight` adds that weight times the share of the title's stems the sentence contains.
    The defaults were tuned on the dev sets of `bench/summaries.py` (see the README's figures).
    """

    length_exponent: float = 0.1
    lead_weight: float = 0.1
    title_weight: float = 0.1
    redundancy: float = 0.3

    def rate(self, candidates: Sequence[str], *, title: str | None) -> list[float]:
        bags = [frozenset(content_terms(sentence)) for sentence in candidates]
        shared = Counter(chain.from_iterable(bags))
        # Integer sums, so the result does not depend on set iteration order.
        centrality = [
            (sum(map(shared.__getitem__, bag)) - len(bag)) / len(bag) ** self.length_exponent
            if bag
            else 0.0
            for bag in bags
        ]
        top = max(centrality) or 1.0
        title_terms = frozenset(content_terms(title)) if title else frozenset()
        ratings: list[float] = []
        for position, (bag, central) in enumerate(zip(bags, centrality, strict=True)):
            overlap = len(bag & title_terms) / len(title_terms) if title_terms else 0.0
            ratings.append(
                central / top + self.lead_weight / (1 + position) + self.title_weight * overlap
            )
        return ratings
