"""Content terms: lower-cased, stop words dropped, stemmed by the word's own script.

A Russian article quotes English names and an English one Russian ones, so each word goes to the
stemmer of its alphabet rather than to the article's language. snowballstemmer hands out
PyStemmer's C build of the same Snowball stemmers when that is installed (a dependency, for
speed: stemming is most of a cold run's rating time); the stems are identical.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from newsletter.summarize.stopwords import STOP_WORDS

_WORD = re.compile(r"[^\W\d_]+")
_ENGLISH = snowballstemmer.stemmer("english")
_RUSSIAN = snowballstemmer.stemmer("russian")


class _TermCache(dict[str, str]):
    """Word -> its stem, or "" for a word that is no content term, filled on first sight.

    A dict with `__missing__` rather than `lru_cache`: the lookup runs for every word of every
    article, and a plain subscript costs a fraction of the decorator's call. It is emptied when
    full, so a long-running process does not grow without bound.
    """

    limit = 100_000

    def __missing__(self, word: str) -> str:
        if len(word) < 2 or word in STOP_WORDS:
            term = ""
        else:
            stemmer = _RUSSIAN if "а" <= word[0] <= "я" else _ENGLISH
            term = stemmer.stemWord(word)
        if len(self) >= self.limit:
            self.clear()
        self[word] = term
        return term


_TERMS = _TermCache()


@lru_cache(maxsize=8192)
def content_terms(text: str) -> frozenset[str]:
    """The distinct stems of the topic-bearing words of `text`: every method compares sentences
    by the stems they share.

    Cached: rating and redundancy removal both ask for the same sentences' terms, and get the
    same set rather than building it twice.
    """
    words = _WORD.findall(text.lower().replace("ё", "е"))
    return frozenset(filter(None, map(_TERMS.__getitem__, words)))


def clear_cache() -> None:
    """Forget every cached term, as in a fresh process: for timings that must
    start cold."""
    content_terms.cache_clear()
    _TERMS.clear()
