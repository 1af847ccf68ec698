"""Centroid: sentences that share the most vocabulary with the rest of the article.

Cheap, language-independent apart from stemming and stop words, and in the same family as the
frequency methods (Luhn, TextRank) that do well on news with long extractive references.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.summarize.base import Summarizer
from newsletter.summarize.terms import content_terms


@dataclass(frozen=True, kw_only=True)
class CentroidSummarizer(Summarizer):
    """Cosine-like centrality, plus a lead prior and a title-overlap bonus.

    The centroid counts, for each content stem, how many candidate sentences use it. A sentence
    scores the sum, over its distinct stems, of how many *other* sentences share each one:
    words it alone uses say nothing about the article's topic. Dividing by the square root of
    its stem count (as a cosine does) keeps long sentences from winning by length alone.
    `lead_weight` adds `lead_weight / (1 + position)`: news puts the gist first.
    `title_weight` adds that weight times the share of the title's stems the sentence contains.
    """

    lead_weight: float = 0.1
    title_weight: float = 0.1

    def rate(self, candidates: Sequence[str], *, title: str | None) -> list[float]:
        bags = [frozenset(content_terms(sentence)) for sentence in candidates]
        shared = Counter(term for bag in bags for term in bag)
        # Integer sums, so the result does not depend on set iteration order.
        norm = math.sqrt(sum(n * n for n in shared.values())) or 1.0
        title_terms = frozenset(content_terms(title)) if title else frozenset()
        ratings: list[float] = []
        for position, bag in enumerate(bags):
            centrality = (
                sum(shared[term] - 1 for term in bag) / (math.sqrt(len(bag)) * norm) if bag else 0.0
            )
            overlap = len(bag & title_terms) / len(title_terms) if title_terms else 0.0
            ratings.append(
                centrality + self.lead_weight / (1 + position) + self.title_weight * overlap
            )
        return ratings
