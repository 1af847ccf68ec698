"""Extractive summaries of English and Russian articles: whole sentences, verbatim, in order.

`summarize` cleans the text (`clean_text`: tags dropped, entities unescaped), splits it into
sentences, skips boilerplate and fragments, and lets the chosen method pick sentences within a
budget of words (`max_words`, counted as `len(text.split())`) and/or of sentences. Every
returned sentence is a substring of `clean_text(text)`, and so of `text` itself when `text` has
no markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from newsletter.errors import NewsletterError
from newsletter.summarize.base import Summarizer
from newsletter.summarize.centroid import CentroidSummarizer
from newsletter.summarize.lead import LeadSummarizer
from newsletter.summarize.text import clean_text, split_sentences
from newsletter.summarize.textrank import TextRankSummarizer
from newsletter.summarize.thread import summarize_thread

__all__ = [
    "DEFAULT_LEAD_WEIGHT",
    "DEFAULT_WORDS",
    "METHODS",
    "Summarizer",
    "clean_text",
    "split_sentences",
    "summarize",
    "summarize_thread",
]

# The edition's blurb budget and the default method's lede preference, chosen on the dev sets
# (`bench/summaries.py`); the settings `summary.words` and `summary.lead_weight` start from these.
DEFAULT_WORDS = 55
DEFAULT_LEAD_WEIGHT = CentroidSummarizer.lead_weight

METHODS: Mapping[str, type[Summarizer]] = MappingProxyType(
    {
        "default": CentroidSummarizer,
        "centroid": CentroidSummarizer,
        "lead": LeadSummarizer,
        "textrank": TextRankSummarizer,
    }
)


def summarize(
    text: str,
    *,
    lang: str,
    max_words: int | None = None,
    max_sentences: int | None = None,
    method: str = "default",
    title: str | None = None,
    lead_weight: float | None = None,
) -> tuple[str, ...]:
    """Whole sentences of `text` chosen by `method`, verbatim, in document order, together at
    most `max_words` words and `max_sentences` sentences (None: no such limit; with neither
    given, `DEFAULT_WORDS` words).

    Returns () for an empty body, and when no sentence fits the budget: a cut sentence is never
    returned. `lead_weight` replaces the default method's lede preference (None: its own).
    Raises `NewsletterError` for an unknown method or an unsupported language.
    """
    try:
        kind = METHODS[method]
    except KeyError:
        raise NewsletterError(
            f"unknown summarization method {method!r}; choose one of {', '.join(sorted(METHODS))}"
        ) from None
    summarizer = (
        CentroidSummarizer(lead_weight=lead_weight)
        if lead_weight is not None and kind is CentroidSummarizer
        else kind()
    )
    if max_words is None and max_sentences is None:
        max_words = DEFAULT_WORDS
    sentences = split_sentences(clean_text(text), lang)
    return summarizer(
        sentences, max_sentences, max_words=max_words, title=clean_text(title) if title else None
    )
