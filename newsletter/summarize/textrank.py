"""TextRank (Mihalcea and Tarau, 2004): PageRank over a graph of sentences joined by shared words.

The classic graph method, kept as a named alternative to the default and as a check on it: it
ranks by centrality alone, with no idea of where in the article a sentence stands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.summarize.base import Summarizer
from newsletter.summarize.terms import content_terms


@dataclass(frozen=True, kw_only=True)
class TextRankSummarizer(Summarizer):
    """PageRank with `damping`, run until no score moves by more than `tolerance`.

    Edge weight as in the paper: the number of shared content stems over the sum of the logs of
    the two sentences' stem counts. `max_iterations` bounds the loop on a graph that converges
    slowly; the scores are then already close enough to rank.
    """

    damping: float = 0.85
    tolerance: float = 1e-6
    max_iterations: int = 100

    def rate(self, candidates: Sequence[str], *, title: str | None) -> list[float]:
        bags = [content_terms(sentence) for sentence in candidates]
        size = len(bags)
        weights = [[0.0] * size for _ in range(size)]
        for i in range(size):
            for j in range(i + 1, size):
                shared = len(bags[i] & bags[j])
                if shared:
                    scale = math.log(len(bags[i]) + 1) + math.log(len(bags[j]) + 1)
                    weights[i][j] = weights[j][i] = shared / scale
        out_totals = [sum(row) for row in weights]
        scores = [1.0 / size] * size
        for _ in range(self.max_iterations):
            # A sentence sharing no word with any other spreads its score evenly, as in PageRank,
            # so the scores keep summing to one.
            isolated = sum(
                score for score, total in zip(scores, out_totals, strict=True) if not total
            )
            base = (1 - self.damping) / size + self.damping * isolated / size
            updated = [
                base
                + self.damping
                * sum(
                    weights[j][i] * scores[j] / out_totals[j] for j in range(size) if weights[j][i]
                )
                for i in range(size)
            ]
            converged = (
                max(abs(a - b) for a, b in zip(updated, scores, strict=True)) < self.tolerance
            )
            scores = updated
            if converged:
                break
        return scores
