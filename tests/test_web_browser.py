"""The whole consent round in a real browser: headless Chromium (Debian's, through Playwright)
fills in the subscribe form, follows the link from the email the local SMTP server received,
changes preferences and unsubscribes with one click.

Skipped without Chromium or Playwright, unless NEWSLETTER_TEST_REQUIRE_BROWSER=1 (CI sets it),
which turns the skip into a failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.models import SubscriberStatus
from tests.test_web import _articles
from tests.web_site import Site, open_site

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def site(sqlite_url: str, smtp_server: SavingSmtpServer) -> Iterator[Site]:
    with open_site(sqlite_url, smtp_server) as opened:
        _articles(opened.engine)
        yield opened


def test_subscribe_confirm_choose_and_leave_in_a_browser(browser: Browser, site: Site) -> None:
    context = browser.new_context()
    # Only the app on 127.0.0.1: any other request would mean a page pulls in a third party.
    outside: list[str] = []
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(site.base)
            else (outside.append(route.request.url), route.abort())
        ),
    )
    page = context.new_page()

    page.goto(f"{site.base}/subscribe")
    page.fill("#email", "Reader@Example.org")
    page.check("input[name=lang][value=ru]")
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Check your inbox"

    (link,) = site.confirm_links(1)  # from the email the SMTP server received
    page.goto(link)
    assert page.locator("h1").inner_text() == "You are subscribed"
    page.click("text=Choose your language and sections")
    assert page.locator("h1").inner_text() == "Preferences"
    assert page.is_checked("input[name=lang][value=ru]")

    page.check("input[name=lang][value=en]")
    page.check("input[name=sections][value=navy]")
    page.check("input[name=sections][value=uav]")
    page.click("button[type=submit]")
    assert page.locator("#saved").inner_text() == "Your preferences are saved."
    stored = site.subscriber("reader@example.org")
    assert stored is not None
    assert (stored.status, stored.lang, stored.sections) == (
        SubscriberStatus.ACTIVE,
        "en",
        ["navy", "uav"],
    )

    page.click("text=Unsubscribe")
    page.click("button[type=submit]")  # the one click
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    stored = site.subscriber("reader@example.org")
    assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED
    assert [cause for _, _, cause in site.history("reader@example.org")] == [
        "subscribe form, from 127.0.0.1",
        "confirmation link",
        "unsubscribe page",
    ]
    assert outside == []
    context.close()
