"""Who is signed in to the desk: a signed, expiring, HttpOnly, SameSite=Strict cookie naming
the editor and their session epoch, checked against the store at every request (a removed
editor, or one who signed out elsewhere, is signed out here too); and the limit on failed
sign-ins, per account and per client."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from newsletter.store.db import session_scope
from newsletter.store.models import Editor

SESSION_COOKIE = "newsletter_desk"
SESSION_HOURS = 8  # a working day; then sign in again
FAILURES_PER_ACCOUNT = 5  # wrong passwords for one address within FAILURE_WINDOW
FAILURES_PER_CLIENT = 20  # wrong sign-ins from one client address within FAILURE_WINDOW
FAILURE_WINDOW = 15 * 60.0


class Sessions:
    """Issues and reads the desk's session cookie. The cookie holds [editor id, epoch, issued
    at], signed with the secret key; it is refused after SESSION_HOURS whatever the browser
    keeps, and as soon as the editor's epoch moved (sign-out) or the editor is gone."""

    def __init__(self, *, secret: str, base_url: str, clock: Callable[[], float]) -> None:
        parts = urlsplit(base_url)
        self._secure = parts.scheme == "https"
        self.path = f"{parts.path.rstrip('/')}/desk"
        self._serializer = URLSafeSerializer(secret, salt="desk-session")
        self._clock = clock

    def start(self, response: Response, editor: Editor) -> None:
        value = self._serializer.dumps([editor.id, editor.session_epoch, int(self._clock())])
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=self._secure,
            path=self.path,
        )

    def end(self, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path=self.path, httponly=True, samesite="strict", secure=self._secure
        )

    def editor(self, request: Request, engine: Engine) -> Editor | None:
        """The signed-in editor, or None."""
        value = request.cookies.get(SESSION_COOKIE, "")
        if not value or len(value) > 300:
            return None
        try:
            editor_id, epoch, issued = self._serializer.loads(value)
        except (BadData, ValueError, TypeError):
            return None
        if not all(isinstance(n, int) for n in (editor_id, epoch, issued)):
            return None
        if not issued - 60 <= self._clock() <= issued + SESSION_HOURS * 3600:
            return None
        with session_scope(engine) as session:
            editor = session.get(Editor, editor_id)
            if editor is None or editor.session_epoch != epoch:
                return None
            session.expunge(editor)
            return editor


class FailedSignIns:
    """Wrong sign-ins in the last FAILURE_WINDOW seconds, per key (an address, a client).
    Only failures count, so an editor who signs in often is never held up; a key with `limit`
    failures in the window is refused, right password or not, until the oldest ages out.
    In memory, per server process; the least recently failed keys go beyond `max_keys`."""

    def __init__(self, limit: int, clock: Callable[[], float], *, max_keys: int = 10_000) -> None:
        self._limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """0 when `key` may try now, else the seconds until it may."""
        with self._lock:
            times = self._recent(key)
            if len(times) < self._limit:
                return 0.0
            return max(times[0] + FAILURE_WINDOW - self._clock(), 1.0)

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(self._clock())
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= self._clock() - FAILURE_WINDOW:
            times.popleft()
        return times
