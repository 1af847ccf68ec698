"""Lead: the first sentences, the baseline news summaries are measured against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.summarize.base import Summarizer


@dataclass(frozen=True, kw_only=True)
class LeadSummarizer(Summarizer):
    """Rates each candidate by how early it comes; boilerplate is skipped like everywhere."""

    def rate(self, candidates: Sequence[str], *, title: str | None) -> list[float]:
        return [1.0 / (1 + position) for position in range(len(candidates))]
