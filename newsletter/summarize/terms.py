"""Content terms: lower-cased, stop words dropped, stemmed by the word's own script.

A Russian article quotes English names and an English one Russian ones, so each word goes to the
stemmer of its alphabet rather than to the article's language.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from newsletter.summarize.stopwords import STOP_WORDS

_WORD = re.compile(r"[^\W\d_]+")
_ENGLISH = snowballstemmer.stemmer("english")
_RUSSIAN = snowballstemmer.stemmer("russian")


def content_terms(text: str) -> list[str]:
    """Stems of the topic-bearing words of `text`, in order, repeats kept."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower().replace("ё", "е")):
        if len(word) > 1 and word not in STOP_WORDS:
            terms.append(_stem(word))
    return terms


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stemmer = _RUSSIAN if "а" <= word[0] <= "я" else _ENGLISH
    stem: str = stemmer.stemWord(word)
    return stem
