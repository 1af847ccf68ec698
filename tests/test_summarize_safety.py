"""Summaries safe to read in an email, for every method: edge cases, dangling sentences,
boilerplate, redundancy, and the TextRank method."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from newsletter.summarize import METHODS, Summarizer, clean_text, split_sentences, summarize
from newsletter.summarize.terms import content_terms
from newsletter.summarize.text import is_dangling
from newsletter.summarize.textrank import TextRankSummarizer

ALL_METHODS = sorted(METHODS)

ARTICLE = """\
The navy has ordered four new frigates for its northern fleet.

The frigates will replace ships in service since the 1980s. The first frigate is due in 2027. \
The shipyard employs 2,000 people and builds the frigates in covered halls."""


def in_order(summary: Sequence[str], source: str) -> bool:
    position = 0
    for sentence in summary:
        found = source.find(sentence, position)
        if found < 0:
            return False
        position = found + len(sentence)
    return True


@pytest.mark.parametrize("method", ALL_METHODS)
def test_edge_cases_for_every_method(method: str) -> None:
    assert summarize("", lang="en", method=method) == ()
    one = "The navy commissioned its third frigate of the class on Tuesday."
    assert summarize(one, lang="en", method=method) == (one,)
    assert summarize(ARTICLE, lang="en", max_sentences=9, method=method) == tuple(
        split_sentences(ARTICLE, "en")
    )
    # One huge paragraph with no punctuation is one "sentence" too long to quote whole.
    assert summarize(" ".join(["frigate"] * 500), lang="en", method=method) == ()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_mixed_languages_and_html_remnants_for_every_method(method: str) -> None:
    text = (
        "<div class='lead'>Концерн представил новый беспилотник на выставке в г. Абу-Даби.</div>"
        "<p>The new drone carries four guided missiles &amp; flies for 20 hours.<br/>"
        "Беспилотник «Орлан-М» несёт четыре ракеты, т. е. вдвое больше прежнего.</p>"
        "<!-- tracking pixel --><script>var x = '<p>';</script>"
    )
    cleaned = clean_text(text)
    summary = summarize(text, lang="ru", max_sentences=3, method=method)
    assert len(summary) == 3
    assert in_order(summary, cleaned)
    assert not any(mark in " ".join(summary) for mark in ("<", "&amp;", "tracking", "var x"))
    assert summary[2].endswith("т. е. вдвое больше прежнего.")


@dataclass(frozen=True, kw_only=True)
class FixedRatings(Summarizer):
    ratings: tuple[float, ...]

    def rate(self, candidates: Sequence[str], *, title: str | None) -> list[float]:
        return list(self.ratings)


FOUR = split_sentences(
    "The ministry signed the frigate contract on Monday. "
    "The yard will hire 500 more workers for the order. "
    "He added that the first frigate arrives in 2027. "
    "Sea trials of the frigate are planned off the northern coast.",
    "en",
)


def test_a_dangling_sentence_in_the_middle_needs_its_predecessor() -> None:
    # Sentence 2 ("He added...") is rated best after the opener, but sentence 1 is not taken.
    summarizer = FixedRatings(ratings=(1.0, 0.1, 0.9, 0.6))
    assert summarizer(FOUR, 2) == (FOUR[0], FOUR[3])


def test_a_dangling_sentence_follows_its_chosen_predecessor() -> None:
    summarizer = FixedRatings(ratings=(1.0, 0.8, 0.9, 0.1))
    assert summarizer(FOUR, 3) == (FOUR[0], FOUR[1], FOUR[2])


def test_equal_ratings_go_to_the_earlier_sentences() -> None:
    summarizer = FixedRatings(ratings=(0.5, 0.5, 0.5, 0.5), redundancy=0.3)
    assert summarizer(FOUR, 2) == (FOUR[0], FOUR[1])


def _plain_greedy(
    summarizer: Summarizer,
    sentences: Sequence[str],
    ratings: Sequence[float],
    count: int,
    max_words: int,
) -> list[int]:
    """`choose` without its early stop: every remaining candidate is rated at every step."""
    dangling = [i > 0 and is_dangling(s) for i, s in enumerate(sentences)]
    bags = [content_terms(s) for s in sentences]
    chosen: list[int] = []
    while len(chosen) < min(count, len(sentences)):
        best, best_rating = -1, -1.0
        used = sum(len(sentences[j].split()) for j in chosen)
        for i in range(len(sentences)):
            if i in chosen or used + len(sentences[i].split()) > max_words:
                continue
            if dangling[i] and i - 1 not in chosen:
                continue
            overlap = max(
                (
                    len(bags[i] & bags[j]) / math.sqrt(len(bags[i]) * len(bags[j]))
                    for j in chosen
                    if bags[i] and bags[j]
                ),
                default=0.0,
            )
            rating = ratings[i] * (1.0 - summarizer.redundancy * overlap)
            if rating > best_rating:
                best, best_rating = i, rating
        if best < 0:
            break
        chosen.append(best)
    return sorted(chosen)


def test_choosing_stops_early_without_changing_the_choice() -> None:
    sentences = (
        split_sentences(clean_text(ARTICLE), "en")
        + list(FOUR)
        + [
            "The frigates will carry anti-ship missiles and a helicopter.",
            "But the navy has not said how much the frigates will cost.",
            "The northern fleet also operates submarines from the same base.",
        ]
    )
    generator = random.Random(7)
    for trial in range(300):
        ratings = [
            generator.choice((0.2, 0.5, 0.9)) if trial % 2 else generator.random()
            for _ in sentences
        ]
        summarizer = FixedRatings(ratings=tuple(ratings), redundancy=generator.random())
        count = generator.randint(1, len(sentences))
        words = generator.randint(5, 200)
        assert summarizer.choose(sentences, ratings, count, words) == _plain_greedy(
            summarizer, sentences, ratings, count, words
        ), (ratings, count, words)


def test_redundancy_keeps_two_sentences_saying_the_same_from_both_being_taken() -> None:
    sentences = [
        "The navy ordered four frigates for the northern fleet.",
        "The navy ordered four new frigates for its northern fleet.",
        "The shipyard will hire 500 workers for the contract.",
    ]
    plain = FixedRatings(ratings=(1.0, 0.95, 0.8))
    assert plain(sentences, 2) == tuple(sentences[:2])
    with_redundancy = FixedRatings(ratings=(1.0, 0.95, 0.8), redundancy=0.5)
    assert with_redundancy(sentences, 2) == (sentences[0], sentences[2])


@pytest.mark.parametrize(
    "line",
    [
        "Scroll down for video",
        "Scroll down for video Shown: the new frigate at the yard in Severodvinsk",
        "Image copyright Reuters",
        "Read more: frigates of the northern fleet",
        "© 2024 VPK News. All rights reserved.",
        "Фото: пресс-служба верфи «Северная»",
    ],
)
def test_boilerplate_lines_never_appear(line: str) -> None:
    text = f"{line}\n\n{ARTICLE}\n\n{line}"
    for method in ALL_METHODS:
        summary = summarize(text, lang="en", max_sentences=10, method=method)
        assert line not in summary and not any(line in s for s in summary), method


def test_textrank_prefers_sentences_sharing_words_with_many_others() -> None:
    sentences = [
        "The frigate program grows with four frigates for the fleet.",
        "Farmers harvested a record potato crop in the south.",
        "Four frigates for the fleet join the frigate program next year.",
        "The fleet wants the frigates of the program soon.",
    ]
    ratings = TextRankSummarizer().rate(sentences, title=None)
    assert min(range(4), key=lambda i: ratings[i]) == 1
    assert abs(sum(ratings) - 1.0) < 1e-3
    assert summarize(" ".join(sentences), lang="en", max_sentences=1, method="textrank") != (
        sentences[1],
    )
