"""The one language list and the one language detector (`newsletter.languages`), and the
per-language tables elsewhere that must cover exactly that list."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from newsletter.ingest.common import lang_from_tag
from newsletter.languages import (
    DEFAULT_LANGUAGE,
    ENGLISH_NAMES,
    LANGUAGES,
    OWN_NAMES,
    detect_language,
    language_of_tag,
)
from newsletter.render.labels import (
    COMMENT_COUNTS,
    LABELS,
    MORE_ON_SITE,
    MORE_STORIES,
    SECTIONS,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # No letters at all: digits, punctuation and dashes do not count.
        ("", "en"),
        ("2024 — 15:30 (+3)", "en"),
        ("Да! 2024, 15:30", "ru"),
        # Mixed: Russian only when more than half the letters are Cyrillic; a tie is English.
        ("Да no", "en"),
        ("Дай no", "ru"),
        ("Учения ПВО зимой: кто что видел? Yes", "ru"),
        ("Hypersonic glide vehicles: hype or real threat? Да", "en"),
        # Ukrainian and Serbian letters are Cyrillic, outside а-я: "її" is Ukrainian for "her".
        ("її", "ru"),
        ("Її їжак і є", "ru"),
        ("ђ, ј, љ, њ, ћ, џ", "ru"),
        # Cyrillic Supplement (U+0500-U+052F), letters of Komi, Abkhaz and others.
        ("Ԥ Ԧ ԧ ԫ", "ru"),
        # Look-alikes count for the script they are encoded in, so a few do not flip a text:
        # Cyrillic "е" and "о" in English words, Latin "M" and "a" in a Russian one.
        ("Hеllо wоrld", "en"),
        ("Mосквa", "ru"),
        ("АВС", "ru"),  # Cyrillic А, В, С
        ("ABC", "en"),
        # Another alphabet's letters are letters, not Cyrillic.
        ("Αθήνα και Москва", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("ru", "ru"), ("ru-RU", "ru"), (" EN_us ", "en"), ("en", "en"), ("uk", None), ("", None)],
)
def test_language_of_tag_takes_the_primary_subtag(tag: str, expected: str | None) -> None:
    assert language_of_tag(tag) == expected


def test_a_feed_without_one_of_our_languages_is_read_in_the_default() -> None:
    assert lang_from_tag("ru-RU") == "ru"
    assert lang_from_tag("uk-UA") == DEFAULT_LANGUAGE
    assert lang_from_tag(None) == DEFAULT_LANGUAGE


@pytest.mark.parametrize(
    "table",
    [ENGLISH_NAMES, OWN_NAMES, LABELS, SECTIONS, COMMENT_COUNTS, MORE_STORIES, MORE_ON_SITE],
    ids=["english_names", "own_names", "labels", "sections", "comments", "more", "on_site"],
)
def test_every_per_language_table_covers_exactly_the_languages(table: Mapping[str, object]) -> None:
    assert sorted(table) == sorted(LANGUAGES)


def test_the_default_is_one_of_the_languages() -> None:
    assert DEFAULT_LANGUAGE in LANGUAGES
