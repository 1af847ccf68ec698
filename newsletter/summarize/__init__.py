"""Extractive summaries of English and Russian articles: whole sentences, verbatim, in order.

`summarize` cleans the text (`clean_text`: tags dropped, entities unescaped), splits it into
sentences, skips boilerplate and fragments, and lets the chosen method pick up to
`max_sentences`. Every returned sentence is a substring of `clean_text(text)`, and so of `text`
itself when `text` has no markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from newsletter.errors import NewsletterError
from newsletter.summarize.base import Summarizer
from newsletter.summarize.centroid import CentroidSummarizer
from newsletter.summarize.lead import LeadSummarizer
from newsletter.summarize.text import clean_text, guess_language, split_sentences
from newsletter.summarize.textrank import TextRankSummarizer
from newsletter.summarize.thread import summarize_thread

__all__ = [
    "METHODS",
    "Summarizer",
    "clean_text",
    "guess_language",
    "split_sentences",
    "summarize",
    "summarize_thread",
]

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
    max_sentences: int = 3,
    method: str = "default",
    title: str | None = None,
) -> tuple[str, ...]:
    """Up to `max_sentences` sentences of `text` chosen by `method`, in document order.

    Returns () for an empty body, and for one whose only "sentence" is too long to be a real
    one (see `Summarizer.max_words`): a cut sentence is never returned.
    Raises `NewsletterError` for an unknown method or an unsupported language.
    """
    try:
        summarizer = METHODS[method]()
    except KeyError:
        raise NewsletterError(
            f"unknown summarization method {method!r}; choose one of {', '.join(sorted(METHODS))}"
        ) from None
    sentences = split_sentences(clean_text(text), lang)
    return summarizer(sentences, max_sentences, title=clean_text(title) if title else None)
