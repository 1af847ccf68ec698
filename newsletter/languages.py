"""The languages the newsletter is written in: their codes, names, the default, and how a text or
a language tag is put in one of them.

The one place that knows the list: ingest, summaries, editions, the web forms, the subscriber
checks and the CLI all ask here. A third language starts here; tests/test_languages.py then
names the edition's label tables that lack it. It imports nothing from the rest of the package,
so every layer, `subscribers` included, may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

ENGLISH: Final = "en"
RUSSIAN: Final = "ru"
LANGUAGES: Final[tuple[str, ...]] = (ENGLISH, RUSSIAN)
# What a reader gets when nothing says otherwise: a form left blank, a feed with no language.
DEFAULT_LANGUAGE: Final = ENGLISH

# Each language's name in English, for the editors' desk, which speaks English to its editors.
ENGLISH_NAMES: Final[Mapping[str, str]] = {ENGLISH: "English", RUSSIAN: "Russian"}
# Each language's name in itself, for readers choosing their edition's language.
OWN_NAMES: Final[Mapping[str, str]] = {ENGLISH: "English", RUSSIAN: "Русский"}

# The Unicode blocks "Cyrillic" (U+0400-U+04FF, which holds Ё/ё at U+0401/U+0451 and the
# Ukrainian, Belarusian, Serbian, Macedonian and Bulgarian letters) and "Cyrillic Supplement"
# (U+0500-U+052F), adjacent, so one range. Left out: the "Extended" blocks, whose letters are
# historic or Church Slavonic (or combining marks, which are not letters anyway).
_CYRILLIC_FIRST: Final = "\u0400"
_CYRILLIC_LAST: Final = "\u052f"


def language_of_tag(tag: str) -> str | None:
    """The newsletter language of a BCP 47 tag (`ru`, `ru-RU`, `EN_us`): its primary subtag
    when that is one of LANGUAGES, else None; the caller decides between refusing and the
    default."""
    code = tag.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def detect_language(text: str) -> str:
    """Russian when more than half the letters of `text` are Cyrillic, else English (also for
    a text without letters): for texts that carry no language of their own, such as the site's
    exported pages and forum posts, which are written in one of the two.

    Letters are counted by code point, so a Latin look-alike (a Latin "o" in a Russian word)
    counts as Latin: a few of them, or a few foreign words, do not flip a text. A Ukrainian or
    Serbian text counts as Cyrillic, hence Russian, the nearer of the two for the summarizer.
    """
    letters = cyrillic = 0
    for char in text:
        if char.isalpha():
            letters += 1
            cyrillic += _CYRILLIC_FIRST <= char <= _CYRILLIC_LAST
    return RUSSIAN if cyrillic * 2 > letters else ENGLISH
