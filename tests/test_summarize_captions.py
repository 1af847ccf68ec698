"""What a blurb never holds, in English and Russian, whatever the method and budget: photo
captions and credits, site furniture, a sentence cut at a semicolon, and a sentence that leans on
one the reader does not see."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.summarize import METHODS, split_sentences, summarize
from newsletter.summarize.text import is_boilerplate, is_dangling

ALL_METHODS = sorted(METHODS)
SHARED_PAGE = (
    Path(__file__).resolve().parents[2] / "shared" / "samples" / "site-page-2024-12-23.txt"
)

# Captions as they reach us: a paragraph or line with no final full stop, full of the article's
# words (so a centrality rating would love it), and credits and links in both languages.
CAPTIONED_EN = """\
The navy has ordered four new frigates for its northern fleet from the Baltic shipyard.

Frigate Admiral Kasatonov of the northern fleet on sea trials near the Baltic shipyard

The frigates of the northern fleet will replace ships in service since the 1980s.

Pictured: the Baltic shipyard where the frigates of the northern fleet are built

Photo: Baltic shipyard press service
Image source: navy.example
(Reuters)
By John Smith, Defence Correspondent
Read more: frigates of the northern fleet
The shipyard says the first frigate of the northern fleet is due in 2027."""

CAPTIONED_RU = """\
Министерство обороны заказало четыре новых фрегата для Северного флота у Балтийского завода.

Фрегат «Адмирал Касатонов» Северного флота на испытаниях у Балтийского завода

Фрегаты Северного флота заменят корабли, которые служат с 1980-х годов.

Фото: пресс-служба Балтийского завода
Источник: Министерство обороны, фрегаты Северного флота
Источник изображения: mil.ru
Читайте также: фрегаты Северного флота
Завод сообщил, что первый фрегат Северного флота будет готов в 2027 году."""

FURNITURE_EN = (
    "Frigate Admiral Kasatonov of the northern fleet on sea trials near the Baltic shipyard",
    "Pictured: the Baltic shipyard where the frigates of the northern fleet are built",
    "Photo: Baltic shipyard press service",
    "Image source: navy.example",
    "(Reuters)",
    "By John Smith, Defence Correspondent",
    "Read more: frigates of the northern fleet",
)
FURNITURE_RU = (
    "Фрегат «Адмирал Касатонов» Северного флота на испытаниях у Балтийского завода",
    "Фото: пресс-служба Балтийского завода",
    "Источник: Министерство обороны, фрегаты Северного флота",
    "Источник изображения: mil.ru",
    "Читайте также: фрегаты Северного флота",
)


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize(
    ("text", "lang", "furniture"),
    [(CAPTIONED_EN, "en", FURNITURE_EN), (CAPTIONED_RU, "ru", FURNITURE_RU)],
    ids=["en", "ru"],
)
@pytest.mark.parametrize("budget", [15, 30, 55, 500])
def test_captions_credits_and_furniture_are_never_chosen(
    method: str, text: str, lang: str, furniture: tuple[str, ...], budget: int
) -> None:
    sentences = split_sentences(text, lang)
    for line in furniture:
        assert line in sentences, f"{line!r} should be split off as a line of its own"
    summary = summarize(text, lang=lang, max_words=budget, method=method)
    assert summary
    assert not set(summary) & set(furniture)


def test_a_semicolon_does_not_end_a_sentence() -> None:
    text = (
        "A combination of the two firms would have annual sales of $32bn (£16.7bn; €24bn). "
        "It said so; then it left."
    )
    assert split_sentences(text, "en") == [
        "A combination of the two firms would have annual sales of $32bn (£16.7bn; €24bn).",
        "It said so; then it left.",
    ]


DEPENDENT = """\
The army has ordered 120 new armoured vehicles from the domestic armoured vehicle plant.

Short note on the weather in the capital today.
He added that the armoured vehicles of the army plant would be the most modern armoured vehicles \
of the army, replacing every armoured vehicle of the old army plant.

Он также сообщил, что бронемашины армейского завода станут самыми современными бронемашинами."""

DEPENDENT_RU = """Армия заказала 120 новых бронемашин у отечественного завода бронемашин.

Короткая заметка о погоде в столице сегодня.
Он также сообщил, что бронемашины армейского завода станут самыми современными бронемашинами \
армии и заменят все бронемашины старого армейского завода.

Однако сроки поставок бронемашин армейского завода могут сдвинуться."""


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("budget", [12, 25, 40, 60])
@pytest.mark.parametrize(("text", "lang"), [(DEPENDENT, "en"), (DEPENDENT_RU, "ru")])
def test_a_dependent_opener_is_never_chosen_without_the_sentence_before_it(
    method: str, budget: int, text: str, lang: str
) -> None:
    sentences = split_sentences(text, lang)
    summary = summarize(text, lang=lang, max_words=budget, method=method)
    for sentence in summary:
        index = sentences.index(sentence)
        if index and is_dangling(sentence):
            assert sentences[index - 1] in summary, (budget, summary)


def test_the_shared_site_page_summary_is_news_not_furniture() -> None:
    """The real exported page: an English article under an image credit, then the site's
    rights notice, menus and a Russian sidebar of headlines."""
    if not SHARED_PAGE.exists():
        pytest.fail(f"{SHARED_PAGE} is missing: shared/ belongs beside the clone")
    page = SHARED_PAGE.read_text("utf-8")
    article = page[: page.index("Nikolai Krylov")]
    sentences = split_sentences(page, "en")
    for budget in (20, 40, 55, 80):
        summary = summarize(page, lang="en", max_words=budget, title="The Asian case of Belarus")
        assert summary and len(" ".join(summary).split()) <= budget
        for sentence in summary:
            assert sentence in article, f"not from the article: {sentence!r}"
            assert not is_boilerplate(sentence)
            index = sentences.index(sentence)
            assert not is_dangling(sentence) or sentences[index - 1] in summary
