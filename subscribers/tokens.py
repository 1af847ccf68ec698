"""Signed links: a token carries its purpose (as the signing salt) and the subscriber's link key,
so a link cannot be edited to act on someone else or used for another action. The key is random,
never reused and deleted with the row: an erased subscriber's links act on nobody, even where the
database hands their row id to someone new (SQLite). itsdangerous compares signatures in
constant time.

Three kinds of payload are signed: a link key (every link made now); a row id (links mailed
before keys existed, honoured only for rows that were on the list then); and the test-copy mark
of `send --to`, whose pages say so and change nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import (
    BadData,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from newsletter.links import CONFIRM_PAGE, PREFERENCES_PAGE, UNSUBSCRIBE_PAGE, page_url
from newsletter.store.models import LINK_KEY_LENGTH
from subscribers.errors import ExpiredToken, InvalidToken

Clock = Callable[[], float]  # seconds since the epoch, as time.time

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
CONFIRM = "confirm"


class _ClockedSigner(TimestampSigner):
    """A timestamp signer reading a given clock, so that expiry can be tested without waiting."""

    def __init__(self, *args: Any, clock: Clock = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


@dataclass(frozen=True)
class Link:
    """Whom a genuine link speaks for: a link key, a row id (`legacy_id`, from before keys), or
    nobody (`test`, a test copy's link)."""

    key: str | None = None
    legacy_id: int | None = None

    @property
    def test(self) -> bool:
        return self.key is None and self.legacy_id is None


TEST_COPY = Link()
_TEST_PAYLOAD = {"test": True}


def make_token(*, secret: str, purpose: str, key: str) -> str:
    """A token that never expires: an unsubscribe link must work in an edition read years later."""
    return URLSafeSerializer(secret, salt=purpose).dumps(key)


def make_test_token(*, secret: str, purpose: str) -> str:
    """The token of a test copy's link: genuine, and naming no subscriber."""
    return URLSafeSerializer(secret, salt=purpose).dumps(_TEST_PAYLOAD)


def read_token(*, secret: str, purpose: str, token: str) -> Link:
    """Whom a token made by `make_token` (or `make_test_token`) with the same secret and purpose
    speaks for."""
    try:
        payload = URLSafeSerializer(secret, salt=purpose).loads(token)
    except BadData as exc:
        raise InvalidToken(f"the {purpose} link is invalid or was altered") from exc
    if payload == _TEST_PAYLOAD:
        return TEST_COPY
    return _link(payload, purpose)


def make_timed_token(*, secret: str, purpose: str, key: str, clock: Clock = time.time) -> str:
    """A token that carries the time it was made, for links that should stop working."""
    return _timed(secret, purpose, clock).dumps(key)


def read_timed_token(
    *, secret: str, purpose: str, token: str, max_age: timedelta, clock: Clock = time.time
) -> Link:
    """Whom a token from `make_timed_token` made at most `max_age` ago speaks for."""
    try:
        payload = _timed(secret, purpose, clock).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as exc:
        raise ExpiredToken(f"the {purpose} link has expired") from exc
    except BadData as exc:
        raise InvalidToken(f"the {purpose} link is invalid or was altered") from exc
    return _link(payload, purpose)


def _timed(secret: str, purpose: str, clock: Clock) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret, salt=purpose, signer=_ClockedSigner, signer_kwargs={"clock": clock}
    )


def _link(payload: object, purpose: str) -> Link:
    # A valid signature over something else would mean a bug or a leaked secret: refuse it too.
    if isinstance(payload, str) and len(payload) == LINK_KEY_LENGTH:
        return Link(key=payload)
    if isinstance(payload, int) and not isinstance(payload, bool):
        return Link(legacy_id=payload)
    raise InvalidToken(f"the {purpose} link does not name a subscriber")


def unsubscribe_url(*, base_url: str, secret: str, key: str | None) -> str:
    """The one-click unsubscribe link of the subscriber with this link key (RFC 8058: also the
    POST target); `key=None` makes a test copy's."""
    return page_url(base_url, UNSUBSCRIBE_PAGE, _token(secret, UNSUBSCRIBE, key))


def preferences_url(*, base_url: str, secret: str, key: str | None) -> str:
    """The link to one subscriber's preferences page; never expires, like the unsubscribe link.
    `key=None` makes a test copy's."""
    return page_url(base_url, PREFERENCES_PAGE, _token(secret, PREFERENCES, key))


def _token(secret: str, purpose: str, key: str | None) -> str:
    if key is None:
        return make_test_token(secret=secret, purpose=purpose)
    return make_token(secret=secret, purpose=purpose, key=key)


def confirm_url(*, base_url: str, secret: str, key: str, clock: Clock = time.time) -> str:
    """The double opt-in link of a confirmation email; expires after the configured days."""
    token = make_timed_token(secret=secret, purpose=CONFIRM, key=key, clock=clock)
    return page_url(base_url, CONFIRM_PAGE, token)
