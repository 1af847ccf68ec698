"""What keeps the pages from being abused: capped form reading, CSRF checks on forms, and a
per-client rate limit for the subscribe form that trusts X-Forwarded-For only from a proxy it
was told of."""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from urllib.parse import parse_qsl, urlsplit

from itsdangerous import BadData, Signer, URLSafeSerializer
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_BODY = 16 * 1024  # the largest honest form here is a few hundred bytes
MAX_FIELDS = 120  # a preferences form with every section ticked
CSRF_COOKIE = "newsletter_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE = 2 * 3600  # time enough to fill in a form, not to collect tokens for days


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


class Csrf:
    """Forms are accepted from this site's own pages only, once, within hours.

    Three checks: the browser's own word where it gives one (Sec-Fetch-Site, Origin), then a
    token in the form. The token signs a nonce the server chose and keeps in a signed cookie
    (a cookie planted by someone else is not ours and is replaced), the page's path, a random
    id and the time; it is refused after CSRF_MAX_AGE and when its id was already spent. Over
    https the cookie is `__Host-` prefixed, so a sibling subdomain cannot set it."""

    def __init__(self, *, secret: str, base_url: str, clock: Callable[[], float]) -> None:
        parts = urlsplit(base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}".lower()
        self._secure = parts.scheme == "https"
        self.cookie_name = f"__Host-{CSRF_COOKIE}" if self._secure else CSRF_COOKIE
        self._cookie = Signer(secret, salt="csrf-cookie")
        self._tokens = URLSafeSerializer(secret, salt="csrf-form")
        self._clock = clock
        self._spent = _Spent()

    def form_token(self, request: Request) -> tuple[str, str]:
        """(cookie value, form field value) for a page showing a form."""
        nonce = self._nonce(request) or secrets.token_urlsafe(24)
        token = self._tokens.dumps(
            [nonce, request.url.path, secrets.token_urlsafe(12), int(self._clock())]
        )
        return self._cookie.sign(nonce).decode("ascii"), token

    def set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            self.cookie_name,
            value,
            max_age=CSRF_MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=self._secure,
            path="/",
        )

    def check(self, request: Request, fields: Fields) -> None:
        # Browsers that send Sec-Fetch-Site say whose page sent the form; older ones send only
        # an Origin, which is "null" from our own pages too (they set Referrer-Policy:
        # no-referrer), and without either header the token decides alone. Where both are
        # sent, both must say this site: one browser's word never excuses the other's.
        site = request.headers.get("sec-fetch-site")
        origin = request.headers.get("origin", "null").lower()
        if (site is not None and site != "same-origin") or origin not in ("null", self._origin):
            raise BadForm(_STALE_FORM, 403)
        token = field(fields, CSRF_FIELD, max_length=500)
        try:
            nonce, path, token_id, issued = self._tokens.loads(token)
        except (BadData, ValueError, TypeError):
            raise BadForm(_STALE_FORM, 403) from None
        cookie = self._nonce(request)
        now = self._clock()
        if (
            cookie is None
            or not isinstance(nonce, str)
            or not secrets.compare_digest(nonce.encode(), cookie.encode())
            or path != request.url.path
            or not isinstance(issued, int)
            or not issued - 60 <= now <= issued + CSRF_MAX_AGE
            or not self._spent.spend(str(token_id), now)
        ):
            raise BadForm(_STALE_FORM, 403)

    def _nonce(self, request: Request) -> str | None:
        """The nonce this server put in the cookie, None if there is none or it is not ours."""
        value = request.cookies.get(self.cookie_name, "")
        if not value or len(value) > 200:
            return None
        try:
            return self._cookie.unsign(value).decode("ascii")
        except (BadData, UnicodeDecodeError):
            return None


class _Spent:
    """The ids of form tokens already used, until they would have expired anyway. In memory,
    so each server process keeps its own; bounded, oldest first out."""

    _MAX = 100_000

    def __init__(self) -> None:
        self._until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def spend(self, token_id: str, now: float) -> bool:
        """True the first time `token_id` is spent."""
        with self._lock:
            while self._until and next(iter(self._until.values())) < now:
                self._until.popitem(last=False)
            if token_id in self._until:
                return False
            self._until[token_id] = now + CSRF_MAX_AGE
            if len(self._until) > self._MAX:
                self._until.popitem(last=False)
            return True


_STALE_FORM = (
    "This form has expired or did not come from this site. Reload the page and send it again."
)


def client_key(request: Request, trusted: Sequence[IPNetwork]) -> str:
    """Whom the rate limit counts: the peer's address, or, when the peer is a trusted proxy,
    the rightmost X-Forwarded-For entry that is not one (entries further left are whatever
    the client sent). Only an IP address is a key; an IPv6 client counts by its /64, which is
    what one household or server gets."""
    peer = _address(request.client.host if request.client else "")
    if peer is not None and any(peer in net for net in trusted):
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
        for entry in reversed(forwarded.split(",")):
            address = _address(entry.strip())
            if address is None:
                break  # not an address: the chain cannot be followed further
            if not any(address in net for net in trusted):
                peer = address
                break
    if peer is None:
        return "unknown"
    if peer.version == 6:
        return str(ipaddress.ip_network(f"{peer}/64", strict=False))
    return str(peer)


def proxy_networks(addresses: Sequence[str]) -> tuple[IPNetwork, ...]:
    """Addresses or networks (`10.0.0.0/8`); ValueError names one that is neither."""
    return tuple(ipaddress.ip_network(a.strip(), strict=False) for a in addresses if a.strip())


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


class AttemptLimit:
    """How many attempts (sign-ups through the subscribe form) one client address may make: a
    token bucket per address, `per_hour` attempts at once, refilled evenly over the hour. Kept in
    memory, so each server process counts on its own. (The SMTP send rate is another thing:
    `newsletter.delivery.smtp.pool.RateLimit`.)

    The table is ordered by last use: a client whose bucket has refilled is the same as one
    never seen, and such clients sit at the old end, so each request drops them from there
    (amortised constant work, no scan); beyond `max_clients` the least recently seen go."""

    def __init__(
        self,
        per_hour: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_clients: int = 10_000,
    ) -> None:
        self._capacity = float(per_hour)
        self._rate = per_hour / 3600.0
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # (tokens, at)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, client: str) -> float:
        """0 if the attempt may go ahead, else the seconds until it may."""
        with self._lock:
            now = self._clock()
            self._forget_refilled(now)
            tokens, at = self._buckets.pop(client, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - at) * self._rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self._rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
            return wait

    def _forget_refilled(self, now: float) -> None:
        while self._buckets:
            tokens, at = next(iter(self._buckets.values()))
            if tokens + (now - at) * self._rate < self._capacity:
                return
            self._buckets.popitem(last=False)
