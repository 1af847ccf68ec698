"""The compiled edition as a reader sees it: headless Chromium (Debian's, through Playwright) at
phone and desktop widths, on the sample day in both languages and on an edition made to break
the layout. Images come from an HTTP server on 127.0.0.1; any other request fails the test.

Without Chromium or Playwright these tests are skipped, unless NEWSLETTER_TEST_REQUIRE_BROWSER=1
(CI sets it), which turns the skip into a failure."""

from __future__ import annotations

import secrets
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from newsletter import edition, pipeline
from newsletter.config import Settings
from newsletter.content import ArticleItem, EditionContent, PostExcerpt, ThreadItem
from newsletter.demo import DEMO_DAY, SAMPLE_FILES
from newsletter.errors import NewsletterError
from newsletter.render import personalize, render_edition
from newsletter.render.labels import labels_for
from newsletter.render.screenshots import take_screenshots
from newsletter.render.shape import reader_edition
from newsletter.store.db import make_engine
from newsletter.store.migrate import upgrade

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

WIDTHS = (320, 375, 600, 1024)
MOBILE_WIDTHS = (320, 375)
BASE_URL = "https://vpk-news.example"
IMAGE_SIZE = (1200, 675)  # wider than any viewport here: it must shrink, never overflow
MIN_FONT_PX = 14
MIN_TAP_PX = 44
MIN_CONTRAST = 4.5  # WCAG AA for body text

INSPECT = """(readMore) => {
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c && c !== 'transparent' && !c.endsWith(', 0)')) return c;
    }
    return getComputedStyle(document.documentElement).backgroundColor;
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || !node.textContent.trim() || !el.getClientRects().length) continue;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.opacity === '0') continue;
    texts.push({text: node.textContent.trim().slice(0, 50), size: parseFloat(s.fontSize),
                color: s.color, background: background(el)});
  }
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, width: r.width, height: r.height}; };
  return {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    texts,
    titles: [...document.querySelectorAll('h3[lang], .nl-hl > a[lang], .nl-also [lang]')]
      .map((h) => ({text: h.textContent.trim(), box: box(h), visible: h.checkVisibility()})),
    buttons: [...document.querySelectorAll('a')]
      .filter((a) => a.textContent.trim().startsWith(readMore)).map(box),
    borders: [...document.querySelectorAll('body *')].flatMap((el, index) => {
      const s = getComputedStyle(el);
      return ['Top', 'Right', 'Bottom', 'Left']
        .filter((side) => parseFloat(s[`border${side}Width`]) > 0
                          && s[`border${side}Style`] !== 'none')
        .map((side) => ({index, side, color: s[`border${side}Color`],
                         background: background(el), cls: el.className}));
    }),
    height: document.documentElement.scrollHeight,
    images: [...document.images].map((i) => ({alt: i.getAttribute('alt'),
      width: i.getAttribute('width'), natural: i.naturalWidth, box: box(i)})),
    hrefs: [...document.querySelectorAll('a')].map((a) => a.getAttribute('href')),
    colorSchemeMeta: document.querySelector('meta[name="color-scheme"]')?.content ?? null,
    colorScheme: getComputedStyle(document.documentElement).colorScheme,
    bodyBackground: background(document.querySelector('.nl-body')),
  };
}"""


def _png(width: int, height: int) -> bytes:
    """A real PNG file of one colour, written by hand: the tests need no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x7a\x8b\x9c" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """Serves one 1200×675 PNG at every /images/ path, on 127.0.0.1."""
    image = _png(*IMAGE_SIZE)

    class Images(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not self.path.startswith("/images/"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _local_images(content: EditionContent, server: str) -> EditionContent:
    """The same edition with its images on the local server (same file names)."""
    return replace(
        content,
        articles=tuple(
            replace(a, image_url=f"{server}/images/{Path(urlsplit(a.image_url).path).name}")
            if a.image_url
            else a
            for a in content.articles
        ),
    )


@pytest.fixture(scope="module")
def sample_content(tmp_path_factory: pytest.TempPathFactory) -> EditionContent:
    """The sample day as the product builds it: ingested, picked and summarized."""
    db = tmp_path_factory.mktemp("browser") / "newsletter.sqlite3"
    settings = Settings(
        database_url=f"sqlite:///{db}", base_url=BASE_URL, secret_key=secrets.token_hex(32)
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with resources.as_file(resources.files("newsletter.sample_content")) as folder:
        edition.ingest(engine=engine, settings=settings, paths=[folder / n for n in SAMPLE_FILES])
    edition.build(engine=engine, settings=settings, day=DEMO_DAY)
    content = edition.load_content(engine=engine, settings=settings, day=DEMO_DAY)
    engine.dispose()
    return content


def _stress_content() -> EditionContent:
    """What breaks layouts: unbreakable words and URLs, markup in text, long quotes."""
    word = "Сверхманевренныйистребительперехватчик" * 2
    article = ArticleItem(
        title=f"{word} <b>{{{{ 7*7 }}}}</b>",
        url="https://vpk-news.example/articles/" + "very-long-slug-" * 12,
        summary=(f"See https://vpk-news.example/{'x' * 120} for {word}.",),
        lang="ru",
        published_at=datetime(2024, 12, 23, 9, 0),
        author="A" * 80,
        image_url="https://vpk-news.example/images/stress.jpg",
        tags=("x" * 90,),
    )
    second = replace(article, title="Short", tags=(), image_url=None, author=None)
    content = EditionContent(date(2024, 12, 23), (article, second))
    thread = ThreadItem(
        title=word,
        url="https://vpk-news.example/forum/t/1",
        comments=123456,
        last_activity_at=datetime(2024, 12, 23, 20, 15),
        extract=(PostExcerpt("y" * 70, word * 3),),
    )
    return replace(content, threads=(thread,))


@dataclass(frozen=True)
class Case:
    content: EditionContent
    lang: str


@pytest.fixture(scope="module")
def cases(sample_content: EditionContent, image_server: str) -> dict[str, Case]:
    local = _local_images(sample_content, image_server)
    return {
        "sample-en": Case(local, "en"),
        "sample-ru": Case(local, "ru"),
        "stress-ru": Case(_local_images(_stress_content(), image_server), "ru"),
    }


def _html(case: Case) -> str:
    rendered = render_edition(case.content, lang=case.lang, site_name="VPK News", base_url=BASE_URL)
    html, _ = personalize(
        rendered,
        unsubscribe_url=f"{BASE_URL}/unsubscribe/t0ken",
        preferences_url=f"{BASE_URL}/preferences/t0ken",
    )
    return html


_facts: dict[tuple[str, int, str], dict[str, Any]] = {}


@pytest.fixture(scope="module")
def look(browser: Browser, cases: dict[str, Case]) -> Any:
    """look(case, width, scheme) → what the page shows; each page is loaded once per module.
    Only 127.0.0.1 may be fetched: anything else is recorded, refused, and fails the test."""

    def load(name: str, width: int, scheme: str = "light") -> dict[str, Any]:
        key = (name, width, scheme)
        if key not in _facts:
            outside: list[str] = []

            def local_only(route: Route) -> None:
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page = browser.new_page(
                viewport={"width": width, "height": 900},
                color_scheme="dark" if scheme == "dark" else "light",
            )
            page.route("**/*", local_only)
            page.set_content(_html(cases[name]), wait_until="load")
            facts = page.evaluate(INSPECT, labels_for(cases[name].lang)["read_more"])
            page.close()
            assert outside == [], f"the email fetched something from outside: {outside}"
            _facts[key] = facts
        return _facts[key]

    return load


CASES = ("sample-en", "sample-ru", "stress-ru")


def _rgb(css: str) -> tuple[float, float, float]:
    parts = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
    r, g, b = (float(p) for p in parts[:3])
    return r, g, b


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _inverted(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = rgb
    return 255 - r, 255 - g, 255 - b


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", CASES)
def test_no_horizontal_scrolling(look: Any, name: str, width: int) -> None:
    facts = look(name, width)
    assert facts["innerWidth"] == width
    assert facts["scrollWidth"] <= facts["innerWidth"]


def _shown_titles(case: Case) -> list[str]:
    """The titles a reader of the case's language gets: stories, their "Also:" lines."""
    edition = reader_edition(case.content, lang=case.lang)
    stories = (*edition.top, *edition.headlines)
    return [" ".join(a.title.split()) for s in stories for a in (s.article, *s.also)]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", CASES)
def test_every_article_title_is_visible_on_screen(
    look: Any, cases: dict[str, Case], name: str, width: int
) -> None:
    titles = look(name, width)["titles"]
    expected = _shown_titles(cases[name])
    assert expected
    assert sorted(" ".join(t["text"].split()) for t in titles) == sorted(expected)
    for title in titles:
        assert title["visible"], title["text"]
        assert title["box"]["height"] > 0
        assert title["box"]["left"] >= 0, title
        assert title["box"]["right"] <= width, title


@pytest.mark.parametrize("width", MOBILE_WIDTHS)
@pytest.mark.parametrize("name", CASES)
def test_all_text_is_at_least_14px_on_phones(look: Any, name: str, width: int) -> None:
    small = [t for t in look(name, width)["texts"] if t["size"] < MIN_FONT_PX]
    assert small == []


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", CASES)
def test_read_more_buttons_are_large_enough_to_tap(
    look: Any, cases: dict[str, Case], name: str, width: int
) -> None:
    buttons = look(name, width)["buttons"]
    top = reader_edition(cases[name].content, lang=cases[name].lang).top
    assert len(buttons) == sum(1 for s in top if s.article.url)
    for button in buttons:
        assert button["height"] >= MIN_TAP_PX, button
        assert button["width"] >= MIN_TAP_PX, button
        assert button["right"] <= width


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", CASES)
def test_images_have_alt_text_a_width_and_fit(
    look: Any, cases: dict[str, Case], name: str, width: int
) -> None:
    images = look(name, width)["images"]
    top = reader_edition(cases[name].content, lang=cases[name].lang).top
    assert len(images) == (1 if top and top[0].article.image_url else 0)  # the first story's
    for image in images:
        assert image["alt"] and image["alt"].strip()
        assert image["width"] and int(image["width"]) > 0
        assert image["natural"] == IMAGE_SIZE[0], "the image did not load"
        assert 0 < image["box"]["width"] <= width - 2 * 16
        assert image["box"]["right"] <= width


@pytest.mark.parametrize("name", CASES)
def test_every_link_is_absolute(look: Any, name: str) -> None:
    hrefs = look(name, 375)["hrefs"]
    assert hrefs
    assert [h for h in hrefs if not h.startswith(("https://", "http://", "mailto:"))] == []
    assert f"{BASE_URL}/unsubscribe/t0ken" in hrefs
    assert f"{BASE_URL}/preferences/t0ken" in hrefs
    lang = name.rpartition("-")[2]
    assert f"{BASE_URL}/archive/2024-12-23?lang={lang}" in hrefs


@pytest.mark.parametrize("name", CASES)
def test_colour_scheme_is_declared(look: Any, name: str) -> None:
    facts = look(name, 375)
    assert facts["colorSchemeMeta"] == "light dark"
    assert facts["colorScheme"] == "light dark"


@pytest.mark.parametrize("scheme", ["light", "dark", "inverted"])
@pytest.mark.parametrize("name", ["sample-en", "sample-ru"])
def test_text_is_readable_in_light_dark_and_inverted_colours(
    look: Any, name: str, scheme: str
) -> None:
    """Dark: the client applies the template's dark palette. Inverted: a client (Gmail's app)
    flips every colour itself; contrast must survive that too."""
    facts = look(name, 375, "dark" if scheme == "dark" else "light")
    flip = _inverted if scheme == "inverted" else (lambda rgb: rgb)
    poor = [
        (t["text"], round(c, 2))
        for t in facts["texts"]
        if (c := _contrast(flip(_rgb(t["color"])), flip(_rgb(t["background"])))) < MIN_CONTRAST
    ]
    assert poor == []
    page_luminance = _luminance(_rgb(facts["bodyBackground"]))
    if scheme == "dark":
        assert page_luminance < 0.05, facts["bodyBackground"]
    else:
        assert page_luminance > 0.8, facts["bodyBackground"]


@pytest.mark.parametrize("width", (*MOBILE_WIDTHS, 1024))
@pytest.mark.parametrize("name", CASES)
def test_no_border_or_separator_keeps_its_light_colour_in_dark_mode(
    look: Any, name: str, width: int
) -> None:
    """Every line the light palette draws (thread separators, rules between stories and
    headlines, quote bars, section underlines) is recoloured by the dark one: a light grey line
    on a dark card glares."""
    light, dark = look(name, width, "light")["borders"], look(name, width, "dark")["borders"]
    assert light, "the edition draws no lines at all?"
    assert [(b["index"], b["side"]) for b in light] == [(b["index"], b["side"]) for b in dark]
    kept = [
        (lb["cls"], lb["color"])
        for lb, db in zip(light, dark, strict=True)
        if lb["color"] == db["color"] and lb["background"] != db["background"]
    ]
    assert kept == []
    # Separators in dark mode are dark lines on dark cards, not bright ones.
    glaring = [
        (b["cls"], b["color"])
        for b in dark
        if "nl-rule" in b["cls"] and _luminance(_rgb(b["color"])) > 0.1
    ]
    assert glaring == []
    assert any("nl-rule" in b["cls"] for b in dark)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_preview_with_screenshots_writes_desktop_and_mobile_pictures(
    browser: Browser, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        from_address="VPK News <digest@vpk-news.example>",
        base_url=BASE_URL,
        secret_key=secrets.token_hex(32),
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with resources.as_file(resources.files("newsletter.sample_content")) as folder:
        edition.ingest(engine=engine, settings=settings, paths=[folder / n for n in SAMPLE_FILES])
    edition.build(engine=engine, settings=settings, day=DEMO_DAY)
    out = tmp_path / "preview"
    # In a thread of its own: Playwright's sync API will not start inside the running one that
    # serves this module's `browser`; an editor's process has only the preview's.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(
            pipeline.preview,
            engine=engine,
            settings=settings,
            day=DEMO_DAY,
            out_dir=out,
            screenshots=True,
        ).result()
    engine.dispose()
    names = sorted(p.name for p in result.written)
    for lang in ("en", "ru"):
        for suffix in (
            "html",
            "txt",
            "eml",
            "desktop.png",
            "mobile.png",
            "desktop.dark.png",
            "mobile.dark.png",
        ):
            assert f"edition-2024-12-23.{lang}.{suffix}" in names
        desktop = _png_size(out / f"edition-2024-12-23.{lang}.desktop.png")
        mobile = _png_size(out / f"edition-2024-12-23.{lang}.mobile.png")
        assert desktop[0] == 1024 and mobile[0] == 375
        # Whole pages: a phone shows the same edition taller than a desktop does.
        assert mobile[1] > desktop[1] > 1000
        dark = _png_size(out / f"edition-2024-12-23.{lang}.mobile.dark.png")
        assert dark == mobile


def test_screenshots_without_playwright_name_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What Python does for a module that is not installed: importing it raises ImportError.
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(NewsletterError, match=r"newsletter\[browser\]"):
        take_screenshots([("<p>x</p>", tmp_path / "x")])
    assert list(tmp_path.iterdir()) == []


def test_screenshots_without_chromium_say_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NewsletterError, match="apt-get install chromium"):
        take_screenshots([("<p>x</p>", tmp_path / "x")])
