"""The delivery state machine, written once: what a claimed delivery becomes after an attempt
(or after no attempt at all), as pure functions of the claim, the attempt and the clock.

    pending ──claim──▶ sending ──250──────────────▶ sent
                          │ ──5xx──────────────────▶ failed
                          │ ──4xx / connection lost─▶ deferred (retry at now + back-off,
                          │                            or at the next run after max_attempts)
                          │ ──not tried, tried before▶ deferred (due now)
                          │ ──not tried, never tried─▶ pending
                          └ ──reader left or edition empty─▶ skipped

The ledger's queries and the writer thread both apply these; neither restates them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from newsletter.store.models import DeliveryStatus, SubscriberStatus

SENT: Final = "sent"
REFUSED: Final = "refused"
LOST: Final = "lost"
UNTRIED: Final = "untried"


@dataclass(frozen=True)
class Attempt:
    """How one message went: sent, refused with a reply, lost with the connection, or not
    tried at all (the run stopped first)."""

    outcome: str  # SENT, REFUSED, LOST or UNTRIED
    code: int | None = None
    reply: str | None = None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery a sender holds, with what it needs to compose the message."""

    id: int
    subscriber_id: int
    link_key: str
    email: str
    name: str | None
    lang: str
    subscriber_status: SubscriberStatus
    attempts: int
    sections: tuple[str, ...]
    other_languages: bool


@dataclass(frozen=True)
class Job:
    """A claimed delivery on its way: the claim and the Message-ID every attempt at it uses."""

    claim: ClaimedDelivery
    message_id: str


@dataclass(frozen=True)
class DeliveryOutcome:
    """One step of a delivery to record; `tried` counts an attempt."""

    delivery_id: int
    status: DeliveryStatus
    tried: bool = True
    message_id: str | None = None
    reply_code: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` tries per run, `backoff_seconds` * 2^(k-1) apart."""

    max_attempts: int
    backoff_seconds: float


def released(*, delivery_id: int, attempts: int, now: datetime) -> DeliveryOutcome:
    """A claim given back untried (the run stopped, or its sender died): tried before, it is a
    retry due now; never tried, it is pending again."""
    if attempts:
        return DeliveryOutcome(
            delivery_id, DeliveryStatus.DEFERRED, tried=False, next_attempt_at=now
        )
    return DeliveryOutcome(delivery_id, DeliveryStatus.PENDING, tried=False)


def skipped(job: Job, reason: str) -> DeliveryOutcome:
    """Not sent, and not to be: the reader left, or their edition is empty."""
    return DeliveryOutcome(job.claim.id, DeliveryStatus.SKIPPED, tried=False, error=reason)


def after_attempt(
    job: Job, attempt: Attempt, *, now: datetime, policy: RetryPolicy
) -> DeliveryOutcome:
    """What the delivery becomes after `attempt`: sent; failed on a 5xx reply; deferred with a
    back-off on a 4xx reply or a lost connection; as `released` when it was not tried."""
    claim = job.claim
    if attempt.outcome == UNTRIED:
        return released(delivery_id=claim.id, attempts=claim.attempts, now=now)
    if attempt.outcome == SENT:
        return DeliveryOutcome(claim.id, DeliveryStatus.SENT, message_id=job.message_id)
    code = attempt.code
    error = f"{code} {attempt.reply}" if attempt.outcome == REFUSED else attempt.reply
    if attempt.outcome == REFUSED and code is not None and code >= 500:
        return DeliveryOutcome(claim.id, DeliveryStatus.FAILED, reply_code=code, error=error)
    if attempt.outcome not in (REFUSED, LOST):
        raise ValueError(f"unknown attempt outcome {attempt.outcome!r}")
    return DeliveryOutcome(
        claim.id,
        DeliveryStatus.DEFERRED,
        reply_code=code,
        error=error,
        next_attempt_at=retry_at(claim.attempts + 1, now=now, policy=policy),
        message_id=job.message_id,
    )


def retry_at(attempts: int, *, now: datetime, policy: RetryPolicy) -> datetime | None:
    """Back-off base * 2^(k-1) after the k-th try of this run; after `max_attempts` tries,
    None: the delivery waits for the next run."""
    tries = (attempts - 1) % policy.max_attempts + 1
    if tries >= policy.max_attempts:
        return None
    return now + timedelta(seconds=policy.backoff_seconds * 2 ** (tries - 1))
