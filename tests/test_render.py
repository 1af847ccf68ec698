"""Rendering an edition: both parts, both languages, links, escaping, wrapping, personalization."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import replace
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from newsletter.config import EditionSettings
from newsletter.content import ArticleItem, EditionContent, PostExcerpt, ThreadItem
from newsletter.errors import NewsletterError
from newsletter.render import (
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    RenderedEdition,
    edition_mjml,
    personalize,
    render_edition,
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
            tags=("exports", "industry"),
        ),
        ArticleItem(
            title="Новый корвет спущен на воду",
            url="urn:vpk:article:2",
            summary=("Зеленодольский завод спустил на воду очередной корвет проекта 22800.",),
            lang="ru",
            published_at=datetime(2024, 12, 23, 10, 0),
            tags=("Navy",),
        ),
        ArticleItem(
            title="Экспорт вооружений Белоруссии растёт",
            url="https://vpk.example/news/4?a=1&b=2",
            summary=("Минск увеличил поставки в страны Азии.",),
            lang="ru",
            published_at=datetime(2024, 12, 23, 9, 30),
            author="Андрей Ларионов",
            tags=("exports",),
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
            extract=(
                PostExcerpt("Сергей К.", "Сроки сдвигаются третий год подряд. " * 8),
                PostExcerpt(HOSTILE_TITLE, "Markup in a post <b>stays</b> text."),
            ),
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
        articles=articles,
        threads=thread_items if threads else (),
    )


def _render(
    lang: str, content: EditionContent | None = None, *, top_stories: int = 5
) -> RenderedEdition:
    return render_edition(
        content or _edition(),
        lang=lang,
        site_name=SITE,
        base_url=BASE_URL,
        archive_url=ARCHIVE_URL,
        shape=EditionSettings(top_stories=top_stories),
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
    assert en.html.count(PREFERENCES_PLACEHOLDER) == 1
    page = _Page(en.html)
    assert [text for href, text in page.links if href == UNSUBSCRIBE_PLACEHOLDER] == ["Unsubscribe"]
    assert [text for href, text in page.links if href == PREFERENCES_PLACEHOLDER] == ["Preferences"]
    assert (ARCHIVE_URL, "View in browser") in page.links


def test_text_part_has_the_placeholder_on_its_own_line_after_the_label(
    en: RenderedEdition,
) -> None:
    lines = en.text.splitlines()
    assert en.text.count(UNSUBSCRIBE_PLACEHOLDER) == 1
    at = lines.index(UNSUBSCRIBE_PLACEHOLDER)
    assert lines[at - 1] == "Unsubscribe:"
    assert en.text.count(PREFERENCES_PLACEHOLDER) == 1
    assert lines[lines.index(PREFERENCES_PLACEHOLDER) - 1] == "Preferences:"


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


def test_preferences_link_is_the_recipients_own_or_the_sites_generic_page(
    en: RenderedEdition,
) -> None:
    own = "https://vpk.example/preferences/tok?a=1&b=2"
    html_part, text_part = personalize(
        en, unsubscribe_url="https://u.example/", preferences_url=own
    )
    assert (own, "Preferences") in _Page(html_part).links
    assert own in text_part.splitlines()
    generic_html, generic_text = personalize(en, unsubscribe_url="https://u.example/")
    assert ("https://vpk.example/preferences", "Preferences") in _Page(generic_html).links
    assert "https://vpk.example/preferences" in generic_text.splitlines()
    for part in (html_part, text_part, generic_html, generic_text):
        assert PREFERENCES_PLACEHOLDER not in part


def test_view_in_browser_defaults_to_the_editions_archive_page() -> None:
    rendered = render_edition(_edition(), lang="ru", site_name=SITE, base_url="https://vpk.example")
    page = _Page(rendered.html)
    # In the reader's language: a Russian reader opens the Russian page.
    assert ("https://vpk.example/archive/2024-12-23?lang=ru", "Открыть в браузере") in page.links
    assert "https://vpk.example/archive/2024-12-23?lang=ru" in rendered.text.splitlines()


def test_english_masthead_subject_and_labels(en: RenderedEdition) -> None:
    assert en.subject == "The Asian case of Belarus — and 1 more story"
    visible = _Page(en.html).visible
    assert "Daily digest · 23 December 2024 VPK News" in visible
    assert "Most discussed" in visible
    assert "Reply to «The Asian case of Belarus»" in visible
    assert "23.12 20:15 · 21 comments" in visible
    assert "By Ivan Petrov" in visible
    assert en.text.startswith("VPK News\nDaily digest · 23 December 2024\n")


def test_russian_rendering_uses_russian_labels_and_genitive_date(ru: RenderedEdition) -> None:
    assert '<html lang="ru"' in ru.html
    assert ru.subject == "Новый корвет спущен на воду — и ещё 1 новость"
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
    assert "Читать полностью: https://vpk.example/news/4?a=1&b=2" in ru.text


def test_markup_in_a_title_arrives_as_visible_text(en: RenderedEdition) -> None:
    page = _Page(en.html)
    assert "script" not in page.tags
    assert HOSTILE_TITLE in page.visible
    assert "49" not in page.visible
    assert HOSTILE_TITLE in en.text.splitlines()
    assert "49" not in en.text
    assert "&lt;" not in en.text
    # As the first story, with its picture: the title is the image's alt text, escaped.
    base = _edition()
    first = replace(base, articles=(base.articles[-1], *base.articles[:-1]))
    assert 'alt="&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}"' in _render("en", first).html


def test_only_http_urls_become_links(en: RenderedEdition, ru: RenderedEdition) -> None:
    page = _Page(en.html)
    hrefs = [href for href, _ in page.links]
    assert not [href for href in hrefs if href.startswith("urn:")]
    assert [text.startswith("Read more") for _, text in page.links].count(True) == 2
    assert ("https://vpk.example/forum/t/5", "Корветы 22800: сроки") in page.links
    assert "Belarus exports" not in [text for _, text in page.links]
    # The urn: article gets neither title link nor "Read more".
    ru_page = _Page(ru.html)
    assert "Новый корвет спущен на воду" in ru_page.visible
    assert "Новый корвет спущен на воду" not in [text for _, text in ru_page.links]
    assert [text.startswith("Читать") for _, text in ru_page.links].count(True) == 1
    assert "Читать полностью: urn" not in ru.text
    assert en.html.count("<img") == 1  # the first top story's picture only


def test_text_lines_fit_72_columns_except_lone_urls(
    en: RenderedEdition, ru: RenderedEdition
) -> None:
    assert LONG_URL in [line.strip() for line in en.text.splitlines()]
    for rendered in (en, ru):
        lines = rendered.text.splitlines()
        too_long = [ln for ln in lines if len(ln) > 72 and not URL_LINE.match(ln.strip())]
        assert too_long == []


def test_subject_is_one_line_and_cut_at_a_word_boundary() -> None:
    headline = "Deliveries\nof " + " ".join(["air-defence systems"] * 20)
    base = _edition()
    content = replace(
        base, articles=(replace(base.articles[0], title=headline), *base.articles[1:])
    )
    subject = _render("en", content).subject
    assert "\n" not in subject
    assert len(subject) <= 150
    assert subject.startswith("Deliveries of ")
    assert subject.endswith("… — and 1 more story")


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


def test_headlines_are_grouped_into_sections_in_the_readers_language() -> None:
    """ "Also today" groups its headlines by tag; the untagged one closes the list."""
    base = _edition()
    en_articles = [a for a in base.articles if a.lang == "en"]
    navy = replace(
        en_articles[0], title="Frigate trials", url="https://vpk.example/n/5", tags=("navy",)
    )
    content = replace(base, articles=(en_articles[0], navy, en_articles[1]))
    en = _render("en", content, top_stories=1)
    ru = _render("ru", top_stories=1)
    en_page, ru_page = _Page(en.html).visible, _Page(ru.html).visible
    assert en_page.index("Also today") < en_page.index("Navy") < en_page.index("More news")
    assert en_page.index("Frigate trials") < en_page.index("More news")
    assert ru_page.index("Экспорт", ru_page.index("Ещё сегодня")) > 0
    assert "Navy" in en.text.splitlines() and "More news" in en.text.splitlines()
    assert "Экспорт" in ru.text.splitlines()


def test_an_article_goes_to_the_tag_the_day_shares_most() -> None:
    base = _edition(threads=False)
    one, _, _, three = base.articles
    content = replace(
        base,
        articles=(
            replace(one, title="Lead"),
            replace(one, url="https://vpk.example/1", tags=("exports", "industry")),
            replace(one, url="https://vpk.example/2", tags=("navy", "industry")),
            replace(three, tags=("uav",)),
        ),
    )
    text = _render("en", content, top_stories=1).text
    headings = [line for line in text.splitlines() if line in ("Industry", "Drones", "Exports")]
    assert headings == ["Industry", "Drones"]


def test_untagged_headlines_have_no_section_headings() -> None:
    base = _edition(threads=False)
    content = replace(base, articles=tuple(replace(a, tags=()) for a in base.articles))
    rendered = _render("en", content, top_stories=1)
    assert "More news" not in rendered.html
    assert "More news" not in rendered.text


def test_thread_extracts_are_quoted_short_with_their_authors(
    en: RenderedEdition, ru: RenderedEdition
) -> None:
    for rendered in (en, ru):
        page = _Page(rendered.html)
        assert "Сергей К.: Сроки сдвигаются третий год подряд." in page.visible
        quotes = rendered.text.split("\n  > ")[1:]
        assert len(quotes) == 1  # one post quoted: the list, not the discussion
        assert quotes[0].startswith("Сергей К.: Сроки сдвигаются")
    long_post = next(p for p in _Page(en.html).text if "Сроки" in p)
    assert long_post.rstrip().endswith("…")
    assert len(long_post) <= 170
    base = _edition()
    thread = replace(base.threads[0], extract=base.threads[0].extract[::-1])
    hostile = _render("en", replace(base, threads=(thread,)))
    assert f"{HOSTILE_TITLE}: Markup in a post <b>stays</b> text." in _Page(hostile.html).visible
    assert _Page(hostile.html).tags.count("b") == 1  # the author's name, not the post's markup


def test_comment_counts_are_grouped_as_each_language_writes_numbers() -> None:
    base = _edition()
    busy = replace(base, threads=(replace(base.threads[0], comments=8550),))
    assert "23.12 20:15 · 8,550 comments" in _Page(_render("en", busy).html).visible
    assert "23.12 20:15 · 8\xa0550 комментариев" in _render("ru", busy).text


def test_a_thread_titled_as_a_reply_does_not_say_so_twice() -> None:
    base = _edition()
    title = 'Reply to "The Asian case of Belarus"'
    content = replace(base, threads=(replace(base.threads[1], title=title),))
    text = _render("en", content).text
    assert "«The Asian case of Belarus»" not in text
    assert f"* {title}" in text.splitlines()


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_golden_mjml_and_text(lang: str) -> None:
    """The template's output for a fixed edition; after a deliberate template change, run
    `UPDATE_GOLDEN=1 pytest tests/test_render.py` and review the diff of tests/golden/."""
    produced = {
        # One top story: the golden files hold a top story and "Also today" in each language.
        f"edition.{lang}.mjml": edition_mjml(
            _edition(),
            lang=lang,
            site_name=SITE,
            base_url=BASE_URL,
            archive_url=ARCHIVE_URL,
            shape=EditionSettings(top_stories=1),
        ),
        f"edition.{lang}.txt": _render(lang, top_stories=1).text,
    }
    for name, text in produced.items():
        path = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, "utf-8")
        expected = path.read_text("utf-8") if path.exists() else ""
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{path} (expected)",
                f"{name} (rendered now)",
            )
        )
        assert not diff, f"{name} differs; UPDATE_GOLDEN=1 rewrites it\n{diff}"


def test_a_base_url_that_is_not_a_web_address_is_refused() -> None:
    with pytest.raises(NewsletterError, match=r"base_url 'vpk\.example' is not an absolute"):
        render_edition(_edition(), lang="en", site_name=SITE, base_url="vpk.example")
