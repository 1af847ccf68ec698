"""How tall an edition is on a phone, measured by the same headless Chromium that draws the
previews (`newsletter.render.screenshots`). One browser serves the measurements from one thread
(Playwright's sync objects belong to the thread that made them), so a measurement costs a page
load, not a browser start; after IDLE_SECONDS without one it closes, and the next starts it
again. Without Chromium there is no figure."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from newsletter.render.screenshots import chromium, offline

log = logging.getLogger(__name__)

PHONE_WIDTH = 375
PHONE_HEIGHT = 812  # one screen of a common phone, in CSS pixels
IDLE_SECONDS = 300.0
_TIMEOUT = 30.0
_CACHED = 256


class HeightMeter:
    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[str, Future[int | None]]] = queue.Queue()
        self._cache: dict[str, int | None] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._unavailable = False

    def height(self, html: str) -> int | None:
        """The page's height in CSS pixels at PHONE_WIDTH, None when it cannot be measured."""
        key = hashlib.sha256(html.encode()).hexdigest()
        done: Future[int | None] = Future()
        with self._lock:
            if self._unavailable:
                return None
            if key in self._cache:
                return self._cache[key]
            self._jobs.put((html, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True, name="heights")
                self._thread.start()
        try:
            measured = done.result(timeout=_TIMEOUT)
        except FutureTimeout:
            return None
        with self._lock:
            if len(self._cache) >= _CACHED:
                self._cache.clear()
            self._cache[key] = measured
        return measured

    def _work(self) -> None:
        try:
            with chromium() as browser:
                while True:
                    try:
                        html, done = self._jobs.get(timeout=IDLE_SECONDS)
                    except queue.Empty:
                        with self._lock:
                            if self._jobs.empty():
                                self._thread = None
                                return  # closes the browser
                        continue
                    page = browser.new_page(viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
                    try:
                        page.route("**/*", offline)
                        page.set_content(html, wait_until="load")
                        done.set_result(int(page.evaluate("document.documentElement.scrollHeight")))
                    except Exception as exc:  # a page that fails to load has no height
                        log.warning("measuring an edition failed: %s", exc)
                        done.set_result(None)
                    finally:
                        page.close()
        except Exception as exc:  # no Chromium, no Playwright, a browser that will not start
            log.warning("edition heights are not measured: %s", exc)
            with self._lock:
                self._unavailable = True
                self._thread = None
            while not self._jobs.empty():
                self._jobs.get_nowait()[1].set_result(None)
