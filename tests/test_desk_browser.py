"""The desk as an editor uses it: headless Chromium (Debian's, through Playwright) against
`newsletter serve` as an operator starts it, a real SMTP server on 127.0.0.1, and `newsletter
run` as cron calls it. Sign in, shape the sample day, send a test copy, approve, send, watch
the delivery.

Skipped without Chromium or Playwright, unless NEWSLETTER_TEST_REQUIRE_BROWSER=1 (CI sets it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from markupsafe import escape

from newsletter.delivery.smtp.sink import SavingSmtpServer, free_port
from tests.conftest import received
from tests.processes import newsletter_env, process_cli, serve_process

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SAMPLES = Path(__file__).parents[1] / "newsletter" / "sample_content"
BUNDLED = [
    SAMPLES / n for n in ("articles.jsonl", "threads.jsonl", "feed-rss.xml", "feed-atom.xml")
]
DAY = "2024-12-23"
EDITOR, PASSWORD = "editor@vpk-news.example", "correct horse battery"
HANOI = "https://vpk-news.example/articles/hanoi-defence-expo-wrap-up"
TANK = "https://vpk-news.example/articles/mbt-upgrade-remote-turret"
RU_SUBJECT = "Главное за 23 декабря: беспилотники и подлодки"
NOTE = "Season's greetings from the desk.\nNo edition on 1 January <b>2025</b> & after."


@dataclass
class Served:
    base: str
    env: dict[str, str]

    def cli(self, *args: str, expect: int = 0, stdin: str = "", **extra: str) -> str:
        run = process_cli(self.env, timeout=180)
        return run(*args, expect=expect, stdin=stdin, **extra).stdout


@pytest.fixture
def served(tmp_path: Path, smtp_server: SavingSmtpServer) -> Iterator[Served]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db_url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    env = newsletter_env(db_url=db_url, smtp=smtp_server, home=tmp_path) | {
        "NEWSLETTER_BASE_URL": base,
        "NEWSLETTER_EDITION_REQUIRE_APPROVAL": "true",
    }
    site = Served(base, env)
    site.cli("db", "upgrade")
    site.cli("ingest", *map(str, BUNDLED))
    site.cli("subscribers", "add", "reader@example.org")
    site.cli("subscribers", "add", "chitatel@example.org", "--lang", "ru")
    site.cli("build", "--date", DAY)
    site.cli("editors", "add", EDITOR, stdin=f"{PASSWORD}\n")
    with serve_process(env, port):
        yield site


def _items(page: Page) -> list[str]:
    return [str(li.get_attribute("data-url")) for li in page.locator("#items > li").all()]


def _submit(page: Page, selector: str) -> None:
    """Click a form's button and wait for the page that answers it."""
    with page.expect_navigation():
        page.locator(selector).click()


def _item(page: Page, url: str, action: str) -> None:
    _submit(page, f'#items > li[data-url="{url}"] button[value="{action}"]')
    assert page.locator("#notice").count() == 1


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None and markup is not None
    return text.get_content(), markup.get_content()


def _words(text: str) -> str:
    return " ".join(text.split())


def test_editor_shapes_tests_approves_and_watches_an_edition(
    browser: Browser, served: Served, smtp_server: SavingSmtpServer
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    outside: list[tuple[str, str]] = []

    def only_local(route, request):  # type: ignore[no-untyped-def]
        if request.url.startswith(served.base):
            route.continue_()
        else:
            outside.append((request.resource_type, request.frame.url))
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()

    page.goto(f"{served.base}/desk")
    assert page.url == f"{served.base}/desk/login"
    page.fill("#email", EDITOR)
    page.fill("#password", PASSWORD)
    _submit(page, "button[type=submit]")
    assert page.locator("h1").inner_text() == "Editions"
    _submit(page, f'tr[data-day="{DAY}"] >> text=Open')
    assert page.locator("#status").inner_text() == "draft"

    # Leave one article out, pin another, move the last one up, choose two sentences.
    _item(page, HANOI, "exclude")
    assert HANOI not in _items(page)
    assert page.locator(f'#excluded li[data-url="{HANOI}"]').count() == 1
    _item(page, TANK, "pin")
    english = _items(page)
    assert english[0] == TANK
    last = english[-1]
    _item(page, last, "up")
    english = _items(page)
    assert english.index(last) == len(english) - 2
    tank = page.locator(f'#items > li[data-url="{TANK}"]')
    tank.locator("summary").click()
    boxes = tank.locator("input[name=sentence]")
    sentences = [str(boxes.nth(n).get_attribute("value")) for n in range(boxes.count())]
    for n in range(boxes.count()):
        boxes.nth(n).uncheck()
    boxes.nth(2).check()
    boxes.nth(4).check()
    chosen = [sentences[2], sentences[4]]
    _submit(page, f'#items > li[data-url="{TANK}"] button[value=sentences]')
    assert _words(page.locator("#text").inner_text()).count(_words(chosen[0])) == 1
    titles = [page.locator(f'#items > li[data-url="{u}"] .title').inner_text() for u in english]

    # The Russian subject and the note, from the Russian view.
    _submit(page, ".switch >> text=Russian")
    assert page.url.endswith("lang=ru&view=desktop")
    page.fill("#subject_ru", RU_SUBJECT)
    page.fill("#note", NOTE)
    _submit(page, "#edition-form button[value=edition]")
    assert page.locator("#subject").inner_text() == RU_SUBJECT
    _submit(page, ".switch >> text=Phone")
    assert page.locator("iframe").get_attribute("width") == "375"
    assert "phone screens" in page.locator("#height").inner_text()

    # A test copy of each language; the page shows the relay's answer.
    page.fill("#to", "desk-test@example.org")
    _submit(page, "#test-form button[value=test]")
    notice = page.locator("#notice").inner_text()
    assert notice.count("accepted, the mail server answered “250") == 2, notice
    copies = {m["Content-Language"]: m for m in received(smtp_server)}
    assert set(copies) == {"en", "ru"}
    assert copies["ru"]["Subject"] == RU_SUBJECT
    assert copies["en"]["Subject"] != RU_SUBJECT
    for lang, message in copies.items():
        assert message["To"].addresses[0].addr_spec == "desk-test@example.org"
        text, markup = _parts(message)
        for line in NOTE.splitlines():
            assert line in text  # plain text as typed
            assert str(escape(line)) in markup  # escaped, never markup
        assert "<b>2025</b>" not in markup
        assert "hanoi-defence-expo" not in text and "hanoi-defence-expo" not in markup
        if lang == "en":
            flat = _words(text)
            order = [flat.find(_words(t)) for t in titles]
            assert order == sorted(order) and min(order) >= 0, order
            for sentence in chosen:
                assert _words(sentence) in flat
                assert _words(str(escape(sentence))) in _words(markup)
            assert all(_words(s) not in flat for s in sentences if s not in chosen)

    _submit(page, "#approve")
    assert page.locator("#status").inner_text() == "approved"
    history = page.locator("#history").inner_text()
    for action in ("exclude", "pin", "up", "sentences", "subject ru", "note", "test send"):
        assert action in history

    out = served.cli("run", "--date", DAY)
    assert "Edition 2024-12-23" in out
    delivered = [
        m
        for m in received(smtp_server)
        if m["To"].addresses[0].addr_spec != "desk-test@example.org"
    ]
    assert sorted(m["To"].addresses[0].addr_spec for m in delivered) == [
        "chitatel@example.org",
        "reader@example.org",
    ]
    assert next(m for m in delivered if m["Content-Language"] == "ru")["Subject"] == RU_SUBJECT

    # A fresh GET: reloading would post the approval form again, whose token is spent.
    page.goto(page.url)
    assert page.locator("#status").inner_text() == "sent"
    _submit(page, "#delivery-link")
    assert page.locator('#counts td[data-state="sent"]').inner_text() == "2"
    assert page.locator("#chart svg polyline").count() == 4
    assert "delivered: 2" in page.locator("#chart").inner_text()
    # Nothing but the email's own pictures came from elsewhere, and only inside its frame.
    assert all(kind == "image" and "/email?" in frame for kind, frame in outside), outside
    context.close()
