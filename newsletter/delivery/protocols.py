"""The two seams the sending engine depends on, and nothing else of the outside world: a
connection that carries messages (SMTP today; a second channel or a test double fits the same
slot) and a ledger that hands out deliveries and records what became of them (SQL today).

Why cut here: the engine's work is scheduling (claim, hand over, renew, wait, retry), and both
sides of that are I/O whose speed and failure modes differ by backend. Kept this small, in the
manner of Django's mail backends (`open`, `send_messages`, `close`) and listmonk's manager, which
sees only a store and a messenger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from newsletter.delivery.ledger.rules import Attempt, ClaimedDelivery, Job
    from newsletter.delivery.ledger.writer import Committed
    from newsletter.delivery.smtp.mime import Envelope

# Blocks until an attempt is durably recorded; raises if recording failed.
Wait = Callable[[], None]


class Connection(Protocol):
    """One open channel to the relay. `deliver` hands over one message and, when given
    `before_end`, calls it before the message is final (SMTP: before the closing "."), so the
    previous message is on record before this one can be accepted."""

    def open(self) -> None: ...

    def deliver(
        self, envelope: Envelope, *, before_end: Callable[[], None] | None = None
    ) -> None: ...

    def close(self) -> None: ...


class Ledger(Protocol):
    """One sender's view of an edition's deliveries. Entered, it records in the background;
    every method is called from the sending loop's thread except `record`, which connections
    call from theirs."""

    owner: str
    # Claims nothing while another sender holds a live lease: one sender per edition.
    exclusive: bool

    def __enter__(self) -> Ledger: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def claim(self, limit: int) -> Sequence[ClaimedDelivery]:
        """Take up to `limit` deliveries that are due, under this sender's lease."""
        ...

    def record(self, job: Job, attempt: Attempt | None, reason: str | None = None) -> Wait:
        """Queue an outcome (`attempt` None: skipped, for `reason`); the wait returns once it
        is on record."""
        ...

    def committed(self, timeout: float | None = None) -> list[Committed]:
        """What was recorded since the last call; waits up to `timeout` for the first."""
        ...

    def failure(self) -> BaseException | None:
        """Why recording stopped, if it did: the engine stops sending."""
        ...

    def renew(self) -> None:
        """Extend this sender's lease on what it holds."""
        ...

    def live_holder(self) -> tuple[str, datetime] | None:
        """Another sender holding a live lease on the edition, and until when."""
        ...

    def release_dead(self) -> datetime | None:
        """Free what dead senders held; then when something is next due (None: nothing left
        for this run)."""
        ...

    def release_own(self) -> None:
        """Give back what this sender claimed and did not record."""
        ...
