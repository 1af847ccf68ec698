"""Signed subscriber ids for links in emails, so a link cannot be edited to act on someone else."""

from __future__ import annotations

from itsdangerous import BadData, URLSafeSerializer

from subscribers.errors import InvalidToken

UNSUBSCRIBE = "unsubscribe"


def make_token(*, secret: str, purpose: str, subscriber_id: int) -> str:
    """A URL-safe token for `subscriber_id`; salted with `purpose` so tokens do not cross over."""
    return URLSafeSerializer(secret, salt=purpose).dumps(subscriber_id)


def read_token(*, secret: str, purpose: str, token: str) -> int:
    """The subscriber id in a token made by `make_token` with the same secret and purpose."""
    try:
        subscriber_id = URLSafeSerializer(secret, salt=purpose).loads(token)
    except BadData as exc:
        raise InvalidToken(f"the {purpose} link is invalid or was altered") from exc
    # A valid signature over something else would mean a bug or a leaked secret: refuse it too.
    if not isinstance(subscriber_id, int) or isinstance(subscriber_id, bool):
        raise InvalidToken(f"the {purpose} link does not carry a subscriber id")
    return subscriber_id


def unsubscribe_url(*, base_url: str, secret: str, subscriber_id: int) -> str:
    """The one-click unsubscribe link for one subscriber."""
    token = make_token(secret=secret, purpose=UNSUBSCRIBE, subscriber_id=subscriber_id)
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"
