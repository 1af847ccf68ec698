"""Delivery: an edition, already built, to every subscriber, each exactly once.

    engine       the entry points (send, dry_run, send_test) and the Sender loop
    protocols    the two seams the Sender depends on: Connection and Ledger
    ledger/      the state machine (rules), its queries, the writer thread, the SQL ledger
    compose      one recipient's message from a built edition, and the Message-ID scheme
    smtp/        transport, MIME, DKIM, the connection pool, a local receiving server
    bounces/     what replies and bounce reports say, and applying a mailbox of them
    status       how a send stands (`newsletter status`)

Delivery never builds an edition: it takes one as plain records (`BuiltEdition`). The daily
job that does both lives above it, in `newsletter.pipeline`."""

from newsletter.delivery.engine import (
    BuiltEdition,
    dry_run,
    require_send_settings,
    require_sender_store,
    send,
    send_test,
)
from newsletter.delivery.report import SendReport
from newsletter.delivery.status import EditionProgress, progress_of

__all__ = [
    "BuiltEdition",
    "EditionProgress",
    "SendReport",
    "dry_run",
    "progress_of",
    "require_send_settings",
    "require_sender_store",
    "send",
    "send_test",
]
