"""Rendering an edition: both parts, both languages, links, escaping, wrapping, personalization."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from html.parser import HTMLParser

import pytest

from newsletter.content import ArticleItem, EditionContent, ThreadItem
from newsletter.errors import NewsletterError
from newsletter.render import (
    UNSUBSCRIBE_PLACEHOLDER,
    RenderedEdition,
    personalize,
    render_edition,
    subject_line,
)
from newsletter.render.templates import templates_dir

SITE = "VPK News"
BASE_URL = "https://vpk.example/"
ARCHIVE_URL = "https://vpk.example/archive/2024-12-23"
HOSTILE_TITLE = "<script>alert(1)</script> {{ 7*7 }}"
LONG_URL = "https://vpk.example/news/2024/12/23/" + "a-very-long-slug-" * 6 + "end?utm_source=x&y=1"
URL_LINE = re.compile(r"^https?://\S+$")


def _edition(*, threads: bool = True) -> EditionContent:
    articles = (
        ArticleItem(
            title="The Asian case of Belarus",
            url="https://vpk.example/news/1?a=1&b=2",
            summary=(
                "Minsk is turning east for arms exports and components.",
                "Deliveries to Asian buyers grew sharply in 2024, according to the ministry, "
                "which did not name the buyers, the systems or the value of the contracts.",
            ),
            lang="en",
            published_at=datetime(2024, 12, 23, 9, 0),
            author="Ivan Petrov",
            image_url="https://vpk.example/img/1.jpg",
        ),
        ArticleItem(
            title="Новый корвет спущен на воду",
            url="urn:vpk:article:2",
            summary=("Зеленодольский завод спустил на воду очередной корвет проекта 22800.",),
            lang="ru",
            published_at=datetime(2024, 12, 23, 10, 0),
        ),
        ArticleItem(
            title=HOSTILE_TITLE,
            url=LONG_URL,
            summary=("A title with markup must reach the reader as text.",),
            lang="en",
            published_at=datetime(2024, 12, 23, 11, 0),
            image_url="https://vpk.example/img/3.jpg",
        ),
    )
    thread_items = (
        ThreadItem(
            title="Корветы 22800: сроки",
            url="https://vpk.example/forum/t/5",
            comments=21,
            last_activity_at=datetime(2024, 12, 23, 20, 15),
        ),
        ThreadItem(
            title="Belarus exports",
            url=None,
            comments=5,
            last_activity_at=datetime(2024, 12, 23, 18, 2),
            reply_to="The Asian case of Belarus",
        ),
    )
    return EditionContent(
        edition_date=date(2024, 12, 23),
        headline="The Asian case of Belarus",
        articles=articles,
        threads=thread_items if threads else (),
    )


def _render(lang: str, content: EditionContent | None = None) -> RenderedEdition:
    return render_edition(
        content or _edition(),
        lang=lang,
        site_name=SITE,
        base_url=BASE_URL,
        archive_url=ARCHIVE_URL,
    )


class _Page(HTMLParser):
    """What a mail client shows: visible text, links with their text, and every tag seen."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._hidden = 0
        self._href: str | None = None
        self._link_text: list[str] = []
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("style", "title"):
            self._hidden += 1
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._hidden -= 1
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._link_text).split())))
            self._href = None

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)
        if self._href is not None:
            self._link_text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def en() -> RenderedEdition:
    return _render("en")


@pytest.fixture(scope="module")
def ru() -> RenderedEdition:
    return _render("ru")


def test_html_is_a_full_document_with_the_placeholder_only_in_the_unsubscribe_link(
    en: RenderedEdition,
) -> None:
    assert en.html.lower().startswith("<!doctype html>")
    assert '<html lang="en"' in en.html
    assert en.html.rstrip().endswith("</html>")
    assert '<meta name="color-scheme" content="light dark"' in en.html
    assert "<mj-" not in en.html
    assert "googleapis" not in en.html
    assert en.html.count(UNSUBSCRIBE_PLACEHOLDER) == 1
    page = _Page(en.html)
    assert [text for href, text in page.links if href == UNSUBSCRIBE_PLACEHOLDER] == ["Unsubscribe"]
    assert (ARCHIVE_URL, "View in browser") in page.links


def test_text_part_has_the_placeholder_on_its_own_line_after_the_label(
    en: RenderedEdition,
) -> None:
    lines = en.text.splitlines()
    assert en.text.count(UNSUBSCRIBE_PLACEHOLDER) == 1
    at = lines.index(UNSUBSCRIBE_PLACEHOLDER)
    assert lines[at - 1] == "Unsubscribe:"


def test_personalize_replaces_every_placeholder_and_escapes_for_html(
    en: RenderedEdition,
) -> None:
    url = "https://vpk.example/unsubscribe?token=abc&list=daily"
    html_part, text_part = personalize(en, unsubscribe_url=url)
    assert UNSUBSCRIBE_PLACEHOLDER not in html_part
    assert UNSUBSCRIBE_PLACEHOLDER not in text_part
    assert 'href="https://vpk.example/unsubscribe?token=abc&amp;list=daily"' in html_part
    assert (url, "Unsubscribe") in _Page(html_part).links
    assert url in text_part.splitlines()
    assert "&amp;" not in text_part


def test_english_masthead_subject_and_labels(en: RenderedEdition) -> None:
    assert en.subject == "VPK News — daily digest, 23 December 2024: The Asian case of Belarus"
    visible = _Page(en.html).visible
    assert "Daily digest · 23 December 2024" in visible
    assert "Most discussed" in visible
    assert "Reply to «The Asian case of Belarus»" in visible
    assert "23.12 20:15 · 21 comments" in visible
    assert "By Ivan Petrov" in visible
    assert en.text.startswith("VPK News\nDaily digest · 23 December 2024\n")


def test_russian_rendering_uses_russian_labels_and_genitive_date(ru: RenderedEdition) -> None:
    assert '<html lang="ru"' in ru.html
    assert ru.subject.startswith("VPK News — дайджест за 23 декабря 2024: ")
    page = _Page(ru.html)
    for part in (page.visible, ru.text):
        assert "23 декабря 2024" in part
        assert "Ответ на «The Asian case of Belarus»" in part
        assert "23.12 20:15 · 21 комментарий" in part
        assert "23.12 18:02 · 5 комментариев" in part
        assert "Read more" not in part
        assert "Most discussed" not in part
    assert "Самое обсуждаемое" in page.visible
    assert [text for href, text in page.links if href == UNSUBSCRIBE_PLACEHOLDER] == ["Отписаться"]
    assert "Читать полностью: https://vpk.example/news/1?a=1&b=2" in ru.text


def test_markup_in_a_title_arrives_as_visible_text(en: RenderedEdition) -> None:
    page = _Page(en.html)
    assert "script" not in page.tags
    assert HOSTILE_TITLE in page.visible
    assert "49" not in page.visible
    assert 'alt="&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}"' in en.html
    assert HOSTILE_TITLE in en.text.splitlines()
    assert "49" not in en.text
    assert "&lt;" not in en.text


def test_only_http_urls_become_links(en: RenderedEdition) -> None:
    page = _Page(en.html)
    hrefs = [href for href, _ in page.links]
    assert not [href for href in hrefs if href.startswith("urn:")]
    # Two articles have web links; the urn: one gets neither title link nor button.
    assert [text for _, text in page.links].count("Read more") == 2
    assert "Новый корвет спущен на воду" in page.visible
    assert ("https://vpk.example/forum/t/5", "Корветы 22800: сроки") in page.links
    assert "Belarus exports" not in [text for _, text in page.links]
    assert "Read more: urn" not in en.text
    assert en.html.count("<img") == 2


def test_text_lines_fit_72_columns_except_lone_urls(
    en: RenderedEdition, ru: RenderedEdition
) -> None:
    for rendered in (en, ru):
        lines = rendered.text.splitlines()
        assert LONG_URL in [line.strip() for line in lines]
        too_long = [ln for ln in lines if len(ln) > 72 and not URL_LINE.match(ln.strip())]
        assert too_long == []


def test_subject_is_one_line_and_cut_at_a_word_boundary() -> None:
    headline = "Deliveries\nof " + " ".join(["air-defence systems"] * 20)
    content = replace(_edition(), headline=headline)
    subject = subject_line(content, lang="en", site_name=SITE)
    assert "\n" not in subject
    assert len(subject) <= 150
    assert subject.startswith("VPK News — daily digest, 23 December 2024: Deliveries of ")
    assert subject.endswith("…")
    assert subject.removesuffix("…").split()[-1] in ("air-defence", "systems")


def test_edition_without_threads_has_no_threads_heading() -> None:
    for lang, heading in (("en", "Most discussed"), ("ru", "Самое обсуждаемое")):
        rendered = _render(lang, _edition(threads=False))
        assert heading not in rendered.html
        assert heading.upper() not in rendered.text
        assert rendered.html.count(UNSUBSCRIBE_PLACEHOLDER) == 1


def test_unknown_language_is_refused() -> None:
    with pytest.raises(NewsletterError, match="'de'"):
        _render("de")


def test_templates_are_found_in_the_source_tree() -> None:
    found = templates_dir()
    assert (found / "edition.mjml.j2").is_file()
    assert (found / "edition.txt.j2").is_file()
