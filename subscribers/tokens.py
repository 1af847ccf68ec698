"""Signed links: a token carries its purpose (as the signing salt) and a subscriber id, so a link
cannot be edited to act on someone else or used for another action. itsdangerous compares
signatures in constant time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from itsdangerous import (
    BadData,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

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


def make_token(*, secret: str, purpose: str, subscriber_id: int) -> str:
    """A token that never expires: an unsubscribe link must work in an edition read years later."""
    return URLSafeSerializer(secret, salt=purpose).dumps(subscriber_id)


def read_token(*, secret: str, purpose: str, token: str) -> int:
    """The subscriber id in a token made by `make_token` with the same secret and purpose."""
    try:
        payload = URLSafeSerializer(secret, salt=purpose).loads(token)
    except BadData as exc:
        raise InvalidToken(f"the {purpose} link is invalid or was altered") from exc
    return _subscriber_id(payload, purpose)


def make_timed_token(
    *, secret: str, purpose: str, subscriber_id: int, clock: Clock = time.time
) -> str:
    """A token that carries the time it was made, for links that should stop working."""
    return _timed(secret, purpose, clock).dumps(subscriber_id)


def read_timed_token(
    *, secret: str, purpose: str, token: str, max_age: timedelta, clock: Clock = time.time
) -> int:
    """The subscriber id in a token from `make_timed_token` made at most `max_age` ago."""
    try:
        payload = _timed(secret, purpose, clock).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as exc:
        raise ExpiredToken(f"the {purpose} link has expired") from exc
    except BadData as exc:
        raise InvalidToken(f"the {purpose} link is invalid or was altered") from exc
    return _subscriber_id(payload, purpose)


def _timed(secret: str, purpose: str, clock: Clock) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret, salt=purpose, signer=_ClockedSigner, signer_kwargs={"clock": clock}
    )


def _subscriber_id(payload: object, purpose: str) -> int:
    # A valid signature over something else would mean a bug or a leaked secret: refuse it too.
    if not isinstance(payload, int) or isinstance(payload, bool):
        raise InvalidToken(f"the {purpose} link does not carry a subscriber id")
    return payload


def unsubscribe_url(*, base_url: str, secret: str, subscriber_id: int) -> str:
    """The one-click unsubscribe link for one subscriber (RFC 8058: also the POST target)."""
    token = make_token(secret=secret, purpose=UNSUBSCRIBE, subscriber_id=subscriber_id)
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"


def preferences_url(*, base_url: str, secret: str, subscriber_id: int) -> str:
    """The link to one subscriber's preferences page; never expires, like the unsubscribe link."""
    token = make_token(secret=secret, purpose=PREFERENCES, subscriber_id=subscriber_id)
    return f"{base_url.rstrip('/')}/preferences/{token}"


def confirm_url(*, base_url: str, secret: str, subscriber_id: int, clock: Clock = time.time) -> str:
    """The double opt-in link of a confirmation email; expires after the configured days."""
    token = make_timed_token(
        secret=secret, purpose=CONFIRM, subscriber_id=subscriber_id, clock=clock
    )
    return f"{base_url.rstrip('/')}/confirm/{token}"
