"""The languages the newsletter is written in: their codes, names, the default, and how a
language tag is put in one of them.

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


def language_of_tag(tag: str) -> str | None:
    """The newsletter language of a BCP 47 tag (`ru`, `ru-RU`, `EN_us`): its primary subtag
    when that is one of LANGUAGES, else None; the caller decides between refusing and the
    default."""
    code = tag.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None
