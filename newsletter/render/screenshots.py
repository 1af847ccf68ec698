"""Pictures of a compiled edition as a phone and a desktop show it, taken in headless Chromium,
so an editor sees what subscribers will see before anything is sent.

Taken offline: the page may load nothing but itself. Images hosted elsewhere are drawn as grey
16:9 placeholders, so a preview never calls the site (or a tracker) and looks the same on every
run; the layout around them is the real one."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

# Name → viewport width in CSS pixels (a desktop webmail reading pane, a common phone) and
# the colour scheme the page is asked for (mail apps in dark mode apply the dark palette).
SHOTS: dict[str, tuple[int, str]] = {
    "desktop": (1024, "light"),
    "mobile": (375, "light"),
    "desktop.dark": (1024, "dark"),
    "mobile.dark": (375, "dark"),
}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Flags for a browser that only renders local pages: no sandbox (containers, CI), and none of
# the background services that would try to reach the network.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
LOCAL_HOSTS = ("127.0.0.1", "localhost")
PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675" viewBox="0 0 1200 675">'
    '<rect width="1200" height="675" fill="#d9dee4"/>'
    '<path d="M470 450l110-140 80 95 50-55 120 100z" fill="#b7c0ca"/>'
    '<circle cx="700" cy="250" r="38" fill="#b7c0ca"/></svg>'
)


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise NewsletterError(
        "screenshots need Chromium: none of "
        f"{', '.join(CHROMIUM_NAMES)} is on PATH (Debian: apt-get install chromium)"
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    """One headless Chromium (the system's own, never a downloaded one), closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise NewsletterError(
            "screenshots need Playwright: install the browser extra, "
            "pip install 'newsletter[browser]'"
        ) from None
    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def offline(route: Route) -> None:
    """Let 127.0.0.1 through, draw other images as placeholders, refuse everything else."""
    request = route.request
    host = urlsplit(request.url).hostname or ""
    if host in LOCAL_HOSTS or request.url.startswith(("data:", "about:")):
        route.continue_()
    elif request.resource_type == "image":
        route.fulfill(status=200, content_type="image/svg+xml", body=PLACEHOLDER_SVG)
    else:
        route.abort()


def take_screenshots(pages: Sequence[tuple[str, Path]]) -> list[Path]:
    """For each (html, stem), write `<stem>.desktop.png`, `<stem>.mobile.png` and their
    `.dark.png` twins, whole pages; one browser serves them all."""
    written: list[Path] = []
    with chromium() as browser:
        for html, stem in pages:
            for name, (width, scheme) in SHOTS.items():
                page = browser.new_page(
                    viewport={"width": width, "height": 800},
                    color_scheme="dark" if scheme == "dark" else "light",
                )
                page.route("**/*", offline)
                page.set_content(html, wait_until="load")
                path = stem.with_name(f"{stem.name}.{name}.png")
                page.screenshot(path=str(path), full_page=True)
                page.close()
                written.append(path)
    return written


def take_page_screenshots(
    shots: Sequence[tuple[str, Path]],
    *,
    width: int = 1366,
    before: Callable[[Page], None] | None = None,
) -> list[Path]:
    """Whole-page pictures of live pages (the editors' desk as `newsletter serve` shows it) at
    `width`, in one browser context, after `before(page)` (signing in, say). Offline as the
    edition's screenshots: only 127.0.0.1 is reached, other images are placeholders."""
    written: list[Path] = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": width, "height": 800})
        context.route("**/*", offline)
        page = context.new_page()
        if before is not None:
            before(page)
        for url, path in shots:
            page.goto(url, wait_until="load")
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
        context.close()
    return written
