"""What keeps the pages from being abused: capped form reading, CSRF tokens on forms, and a
per-client rate limit for the subscribe form."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

MAX_BODY = 16 * 1024  # the largest honest form here is a few hundred bytes
MAX_FIELDS = 120  # a preferences form with every section ticked
CSRF_COOKIE = "newsletter_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE = 24 * 3600


class BadForm(Exception):
    """A form that cannot be accepted; `reason` is shown to the person who sent it."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


Fields = dict[str, list[str]]


async def read_form(request: Request) -> Fields:
    """The form fields of a POST, read with a size cap, so a huge body costs nothing."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise BadForm("The form is too large.", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadForm("The form is too large.", 413)
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "multipart/form-data":  # what RFC 8058 asks mail clients to send
        return await _multipart(request, bytes(body))
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm("The form could not be read.") from None
    fields: Fields = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


async def _multipart(request: Request, body: bytes) -> Fields:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body
        yield b""

    try:
        form = await MultiPartParser(
            request.headers, stream(), max_files=0, max_fields=MAX_FIELDS
        ).parse()
    except MultiPartException:
        raise BadForm("The form could not be read.") from None
    fields: Fields = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise BadForm("The form could not be read.")
        fields.setdefault(name, []).append(value)
    return fields


def field(fields: Fields, name: str, *, max_length: int, default: str = "") -> str:
    """One field's value, at most `max_length` characters."""
    values = fields.get(name, [default])
    if len(values) != 1:
        raise BadForm(f"The field {name!r} was sent more than once.")
    if len(values[0]) > max_length:
        raise BadForm(f"The field {name!r} is longer than {max_length} characters.")
    return values[0]


@dataclass(frozen=True)
class Csrf:
    """Signed double submit: a random value in a cookie, and in the form the same value signed
    together with the page's path. A page elsewhere can neither read the cookie nor sign."""

    secret: str
    secure_cookie: bool

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt="csrf")

    def form_token(self, request: Request) -> tuple[str, str]:
        """(cookie value, form field value) for a page showing a form."""
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not (16 <= len(nonce) <= 64 and nonce.isascii()):
            nonce = secrets.token_urlsafe(24)
        return nonce, self._serializer().dumps([nonce, request.url.path])

    def set_cookie(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            max_age=CSRF_MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookie,
            path="/",
        )

    def check(self, request: Request, fields: Fields) -> None:
        token = field(fields, CSRF_FIELD, max_length=500)
        try:
            nonce, path = self._serializer().loads(token, max_age=CSRF_MAX_AGE)
        except (BadData, ValueError, TypeError):
            raise BadForm(_STALE_FORM, 403) from None
        cookie = request.cookies.get(CSRF_COOKIE, "")
        same = isinstance(nonce, str) and secrets.compare_digest(nonce.encode(), cookie.encode())
        if not same or path != request.url.path:
            raise BadForm(_STALE_FORM, 403)


_STALE_FORM = (
    "This form has expired or did not come from this site. Reload the page and send it again."
)


class RateLimit:
    """A token bucket per client address: `per_hour` attempts at once, refilled evenly over the
    hour. Kept in memory, so each server process counts on its own."""

    _MAX_CLIENTS = 10_000  # beyond this, forget clients whose bucket has refilled

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_hour)
        self._rate = per_hour / 3600.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 if the attempt may go ahead, else the seconds until it may."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(client, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - at) * self._rate)
            if len(self._buckets) >= self._MAX_CLIENTS:
                self._forget_full(now)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self._rate

    def _forget_full(self, now: float) -> None:
        for client, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self._rate >= self._capacity:
                del self._buckets[client]
