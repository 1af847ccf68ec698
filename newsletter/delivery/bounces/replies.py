"""What a relay's reply or a bounce report says about an address: gone for good, or not."""

from __future__ import annotations

import re

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# RFC 3463: bad destination mailbox (5.1.1), system (5.1.2), address syntax (5.1.3), null MX
# (5.1.10), mailbox disabled (5.2.1). Full mailboxes, policy and content refusals do not say the
# address is gone, and neither does a transient 4.x.x.
_GONE = {"5.1.1", "5.1.2", "5.1.3", "5.1.10", "5.2.1"}
_GONE_WORDS = re.compile(
    r"(no such|unknown|invalid) (user|mailbox|recipient)|user unknown|does not exist",
    re.IGNORECASE,
)


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 status code (such as "5.1.1") in a reply or a Status: field."""
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else None


def address_gone(code: int, reply: str) -> bool:
    """True for a permanent refusal saying the mailbox does not exist: "550 5.1.1 No such
    user", or a 550/551/553 saying so in words when the relay gives no status code."""
    if not 500 <= code < 600:
        return False
    status = enhanced_status(reply)
    if status is not None:
        return status in _GONE
    return code in (550, 551, 553) and _GONE_WORDS.search(reply) is not None


def status_gone(status: str) -> bool:
    """The same for a DSN's Status: field."""
    return status in _GONE
