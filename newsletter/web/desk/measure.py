"""How tall an edition is on a phone, measured by the same headless Chromium that draws the
previews (`newsletter.render.screenshots`). One browser lives in one thread for the life of the
server (Playwright's sync objects belong to the thread that made them), so a measurement after
the first costs a page load, not a browser start. Without Chromium there is no figure."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from concurrent.futures import Future

from newsletter.render.screenshots import chromium, offline

log = logging.getLogger(__name__)

PHONE_WIDTH = 375
PHONE_HEIGHT = 812  # one screen of a common phone, in CSS pixels
_TIMEOUT = 20.0


class HeightMeter:
    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[str, Future[int | None]]] = queue.Queue()
        self._cache: dict[str, int | None] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def height(self, html: str) -> int | None:
        """The page's height in CSS pixels at PHONE_WIDTH, None when it cannot be measured."""
        key = hashlib.sha256(html.encode()).hexdigest()
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True, name="heights")
                self._thread.start()
        done: Future[int | None] = Future()
        self._jobs.put((html, done))
        try:
            measured = done.result(timeout=_TIMEOUT)
        except TimeoutError:
            return None
        with self._lock:
            self._cache[key] = measured
        return measured

    def _work(self) -> None:
        try:
            with chromium() as browser:
                while True:
                    html, done = self._jobs.get()
                    page = browser.new_page(viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
                    try:
                        page.route("**/*", offline)
                        page.set_content(html, wait_until="load")
                        height = page.evaluate("document.documentElement.scrollHeight")
                        done.set_result(int(height))
                    except Exception as exc:  # a page that fails to load has no height
                        log.warning("measuring an edition failed: %s", exc)
                        done.set_result(None)
                    finally:
                        page.close()
        except Exception as exc:  # no Chromium, no Playwright, a browser that will not start
            log.warning("edition heights are not measured: %s", exc)
            while True:
                _, done = self._jobs.get()
                done.set_result(None)
