"""The shared summarizer shape: filter candidates, let the algorithm rate them, take the best.

Modelled on sumy's `AbstractSummarizer`: an algorithm only supplies `rate`; choosing the top N,
keeping the summary from opening on a dangling sentence and restoring document order happen here,
once, for every method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.summarize.text import is_boilerplate, is_dangling, word_count


@dataclass(frozen=True, kw_only=True)
class Summarizer(ABC):
    """Base class; settings are constructor fields, calling it summarizes split sentences.

    `min_words` drops fragments ("Read more", a lone caption). `max_words` drops "sentences" that
    are really a splitting failure (a list or a paragraph with no full stop): cutting one would
    break the verbatim promise, and a 60-word block swamps a digest entry, so it is skipped.
    `dangling_penalty` multiplies the rating of a sentence that would open the summary while
    pointing back at one left out ("He added..."), so a self-contained sentence rated at least
    that fraction as high opens it instead.
    """

    min_words: int = 4
    max_words: int = 60
    dangling_penalty: float = 0.7

    def __call__(
        self, sentences: Sequence[str], count: int, *, title: str | None = None
    ) -> tuple[str, ...]:
        """Up to `count` of the split `sentences`, in document order; () when none qualifies."""
        candidates = [sentence for sentence in sentences if self.is_candidate(sentence)]
        if count < 1 or not candidates:
            return ()
        ratings = self.rate(candidates, title=title)
        return tuple(candidates[i] for i in self._choose(candidates, ratings, count))

    @abstractmethod
    def rate(self, candidates: Sequence[str], *, title: str | None) -> list[float]:
        """One non-negative rating per candidate, in the same order; higher is better."""

    def is_candidate(self, sentence: str) -> bool:
        """Whether the sentence may appear in a summary at all, whatever its rating."""
        words = word_count(sentence)
        return self.min_words <= words <= self.max_words and not is_boilerplate(sentence)

    def _choose(self, candidates: Sequence[str], ratings: Sequence[float], count: int) -> list[int]:
        """Indexes of the best `count` candidates in document order; ties go to the earlier.

        The first candidate may dangle (it has nothing before it to point at). Any other that
        would open the summary is penalised once and the choice made again; each sentence is
        penalised at most once, so this ends.
        """
        adjusted = list(ratings)
        penalised: set[int] = set()
        while True:
            ranked = sorted(range(len(candidates)), key=lambda i: (-adjusted[i], i))
            chosen = sorted(ranked[:count])
            opener = chosen[0]
            if opener == 0 or opener in penalised or not is_dangling(candidates[opener]):
                return chosen
            adjusted[opener] *= self.dangling_penalty
            penalised.add(opener)
