"""The shortcuts taken for speed must not change a single sentence or stem.

Splitting skips razdel for a segment in which razdel could find no sentence boundary, words are
counted by subtraction, and stems come from PyStemmer's C build of Snowball when it is
installed: each is only allowed because it gives exactly what the slow path gives.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import snowballstemmer
from razdel import sentenize
from snowballstemmer.english_stemmer import EnglishStemmer
from snowballstemmer.russian_stemmer import RussianStemmer

from newsletter import summarize as summarize_package
from newsletter.summarize import split_sentences
from newsletter.summarize.text import word_count

SAMPLES = Path(summarize_package.__file__).parent.parent / "sample_content" / "articles.jsonl"

# One paragraph each, no "Gen." or "2023 г." (the two places where we correct razdel), so
# razdel's own output is the expected split. Some have no boundary razdel could take (the
# shortcut applies), some have one in a less obvious place: a smiley, a quote or bracket after a
# full stop. (A semicolon is the third correction: tests/test_summarize_captions.py.) razdel
# never splits before a lower-case word, hence the capitals.
TEXTS = [
    "no punctuation at all",
    "One sentence ending here.",
    "A quote 'here' and (there) in [brackets] stays whole!",
    "Line breaks\ninside one paragraph\tand tabs",
    "He smiled :) Then he left",
    "She frowned :( Then she left",
    'He said "it is over." Then he left',
    "The deal (worth $2m.) was signed",
    "It rained… Then it stopped",
    "Wait?! Yes",
    "Итак: (см. выше) договор подписан",
    "  Leading and trailing spaces are dropped.  ",
]


@pytest.mark.parametrize("text", TEXTS)
def test_splitting_gives_razdels_sentences(text: str) -> None:
    lang = "ru" if re.search("[а-я]", text) else "en"
    assert split_sentences(text, lang) == [piece.text for piece in sentenize(text)]


def test_stems_are_the_same_from_the_c_and_the_python_stemmer() -> None:
    # PyStemmer is a dependency for speed; snowballstemmer hands out its stemmers when present.
    assert type(snowballstemmer.stemmer("english")).__module__ == "Stemmer"
    text = SAMPLES.read_text("utf-8")
    words = sorted(set(re.findall(r"[^\W\d_]+", text.lower().replace("ё", "е"))))
    english = [word for word in words if not "а" <= word[0] <= "я"]
    russian = [word for word in words if "а" <= word[0] <= "я"]
    assert len(english) > 500 and len(russian) > 500
    for lang, pure, sample in (
        ("english", EnglishStemmer(), english),
        ("russian", RussianStemmer(), russian),
    ):
        fast = snowballstemmer.stemmer(lang)
        assert [fast.stemWord(w) for w in sample] == [pure.stemWord(w) for w in sample]


@pytest.mark.parametrize(
    ("sentence", "words"),
    [
        ("A — b", 3),
        ("— … -", 3),
        ("«Привет» — сказал он.", 4),
        ("_ a __init__", 3),
        ("5 % rise", 3),
        ("x\u00a0— y\t–\nz", 5),
        ("", 0),
    ],
)
def test_word_count_is_whitespace_tokens_as_budgets_and_harnesses_count(
    sentence: str, words: int
) -> None:
    # The definition: a spaced dash is a word, as in `len(text.split())`.
    assert word_count(sentence) == words == len(sentence.split())
