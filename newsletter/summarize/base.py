"""The shared summarizer shape: filter candidates, let the algorithm rate them, take the best.

Modelled on sumy's `AbstractSummarizer`: an algorithm only supplies `rate`; choosing the top N
(with optional redundancy removal), keeping dependent sentences ("He added...") away from a
place where they point at nothing, and restoring document order happen here, once, for every
method.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.summarize.terms import content_terms
from newsletter.summarize.text import has_final_stop, is_boilerplate, is_dangling, word_count


@dataclass(frozen=True, kw_only=True)
class Summarizer(ABC):
    """Base class; settings are constructor fields, calling it summarizes split sentences.

    `min_words` drops fragments ("Read more", a lone caption). `max_words` drops "sentences" that
    are really a splitting failure (a list or a paragraph with no full stop): cutting one would
    break the verbatim promise, and a 60-word block swamps a digest entry, so it is skipped.
    A sentence that points back at the one before it ("He added...", "Он также...") is taken only
    after that one: alone it would point at nothing the reader sees. `redundancy` lowers a
    candidate's rating by that share of its highest word overlap (cosine of content stems) with
    a sentence already taken, so two sentences saying the same thing do not both fill a budget.
    """

    min_words: int = 4
    max_words: int = 60
    redundancy: float = 0.0

    def __call__(
        self,
        sentences: Sequence[str],
        count: int | None = None,
        *,
        max_words: int | None = None,
        title: str | None = None,
    ) -> tuple[str, ...]:
        """Up to `count` of the split `sentences` and `max_words` words in all (None: no such
        limit), in document order; () when none qualifies or none fits."""
        candidates = [sentence for sentence in sentences if self.is_candidate(sentence)]
        if (count is not None and count < 1) or not candidates:
            return ()
        ratings = self.rate(candidates, title=title)
        return tuple(candidates[i] for i in self.choose(candidates, ratings, count, max_words))

    @abstractmethod
    def rate(self, candidates: Sequence[str], *, title: str | None) -> list[float]:
        """One non-negative rating per candidate, in the same order; higher is better."""

    def is_candidate(self, sentence: str) -> bool:
        """Whether the sentence may appear in a summary at all, whatever its rating."""
        words = word_count(sentence)
        return (
            self.min_words <= words <= self.max_words
            and has_final_stop(sentence)
            and not is_boilerplate(sentence)
        )

    def choose(
        self,
        candidates: Sequence[str],
        ratings: Sequence[float],
        count: int | None,
        max_words: int | None = None,
    ) -> list[int]:
        """Indexes of up to `count` candidates of at most `max_words` words in all, in document
        order, taken greedily (None: no such limit).

        Each step takes the best adjusted rating; ties go to the earlier sentence, so the result
        never depends on anything but the input. A dangling candidate waits until the candidate
        just before it is taken (the first candidate has nothing before it to point at, so it
        may dangle). Adjustments only ever lower a rating, so each step looks at
        candidates from the highest rating down and stops at the first whose rating before
        adjustment cannot beat the best found: overlaps are worked out only for those looked at.
        A candidate longer than the words left is passed over, and the choice ends when none fits.
        """
        limit = len(candidates) if count is None else min(count, len(candidates))
        words_left = math.inf if max_words is None else max_words
        lengths = [word_count(s) for s in candidates]
        dangling = [i > 0 and is_dangling(sentence) for i, sentence in enumerate(candidates)]
        bags = [content_terms(s) for s in candidates] if self.redundancy > 0 else []
        order = sorted(range(len(candidates)), key=lambda i: (-ratings[i], i))
        # Each candidate's highest overlap with the first `counted[i]` sentences taken.
        overlap = [0.0] * len(candidates)
        counted = [0] * len(candidates)
        taken: list[int] = []
        chosen: set[int] = set()
        while len(taken) < limit:
            best, best_rating = -1, -math.inf
            for i in order:
                if ratings[i] < best_rating:
                    break
                if i in chosen or lengths[i] > words_left or (dangling[i] and i - 1 not in chosen):
                    continue
                if bags:
                    for j in taken[counted[i] :]:
                        overlap[i] = max(overlap[i], _cosine(bags[i], bags[j]))
                    counted[i] = len(taken)
                rating = ratings[i] * (1.0 - self.redundancy * overlap[i])
                if rating > best_rating or (rating == best_rating and i < best):
                    best, best_rating = i, rating
            if best < 0:
                break
            taken.append(best)
            chosen.add(best)
            words_left -= lengths[best]
        return sorted(taken)


def _cosine(first: frozenset[str], second: frozenset[str]) -> float:
    if not first or not second:
        return 0.0
    return len(first & second) / math.sqrt(len(first) * len(second))
