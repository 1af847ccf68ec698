"""Russian output on the bundled sample articles (there is no Russian reference set): the
summaries are checked for what a reader of the email would notice, not for a score."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from newsletter import summarize as summarize_package
from newsletter.summarize import split_sentences, summarize
from newsletter.summarize.text import is_dangling

SAMPLES = Path(summarize_package.__file__).parent.parent / "sample_content" / "articles.jsonl"
RUSSIAN = [
    article
    for article in map(json.loads, SAMPLES.read_text("utf-8").splitlines())
    if article["lang"] == "ru"
]
# An abbreviation or an initial followed by a sentence break would leave one of these at the
# end of a "sentence": "в г.", "В. В.", "т. е.", "2,5 тыс.".
CUT_AFTER_ABBREVIATION = re.compile(r"(?:\b(?:г|т\. е|т|тыс|млн|млрд|руб|[А-ЯЁ])\.)$")


def test_there_are_russian_samples() -> None:
    assert len(RUSSIAN) >= 5


@pytest.mark.parametrize("article", RUSSIAN, ids=lambda a: a["url"].rsplit("/", 1)[-1])
def test_russian_summary_is_verbatim_ordered_whole_and_self_contained(
    article: dict[str, str],
) -> None:
    body = article["body"]
    summary = summarize(body, lang="ru", max_sentences=3, title=article["title"])
    assert len(summary) == 3
    sentences = split_sentences(body, "ru")
    positions = [sentences.index(sentence) for sentence in summary]  # whole sentences only
    assert positions == sorted(positions)
    for sentence in summary:
        assert sentence in body
        assert sentence[0].isupper() or sentence[0] in '«"(', sentence
        assert sentence.rstrip('»")').endswith((".", "!", "?", "…")), sentence
        assert not CUT_AFTER_ABBREVIATION.search(sentence), sentence
    assert not is_dangling(summary[0]), summary[0]
    for position, sentence in zip(positions, summary, strict=True):
        if is_dangling(sentence):
            assert position - 1 in positions, f"dangles without its predecessor: {sentence}"


def test_the_submarine_article_drops_the_unanchored_he_also_noted() -> None:
    """Its most central sentence after the lead opens "Он также отметил": who is "он" is in the
    sentence before, which is not central enough to come along, so the summary skips it."""
    article = next(a for a in RUSSIAN if "Балтийский мыс" in a["title"])
    summary = summarize(article["body"], lang="ru", max_sentences=3, title=article["title"])
    assert any(s.startswith("Он также отметил") for s in split_sentences(article["body"], "ru"))
    assert not any(s.startswith("Он также") for s in summary)


def test_initials_and_abbreviations_stay_inside_their_sentence() -> None:
    article = next(a for a in RUSSIAN if "Тайфун-М" in a["title"])
    summary = summarize(article["body"], lang="ru", max_sentences=3, title=article["title"])
    assert any("генеральный конструктор разработчика В. В. Иванов." in s for s in summary)
