"""Bounces and complaints arriving after the sending: read a mailbox of reports and take the
subscribers they name off the list (bounced, complained), with the cause in their history.

Anyone can mail the bounce address a report naming any address, so a report changes someone's
state only with proof that it concerns our message to them: it quotes the original's
Message-ID, which is signed over the recipient's link key (`newsletter.delivery.compose`). Other
reports are listed and skipped, unless the operator trusts them (`trust_unverified`, for reports
from a relay of their own that quote nothing).

A message that claims to be a report but is malformed is listed with the mailbox path and the
message's number (mbox) or file name (Maildir) and skipped: one odd report from a foreign mail
server must not keep every other bounce from being processed. Messages that are no reports at
all (auto-replies, people writing to the bounce address) are counted and ignored."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.delivery.bounces.reports import (
    BOUNCE,
    COMPLAINT,
    Finding,
    MalformedReport,
    read_report,
)
from newsletter.delivery.compose import parse_message_id
from newsletter.errors import InputError
from newsletter.store import queries
from newsletter.store.db import session_scope
from newsletter.store.models import Subscriber, SubscriberStatus
from subscribers.outcomes import ON_THE_LIST, take_off_list

_STATUS = {BOUNCE: SubscriberStatus.BOUNCED, COMPLAINT: SubscriberStatus.COMPLAINED}


@dataclass
class BounceImport:
    messages: int = 0
    bounced: int = 0
    complained: int = 0
    not_reports: int = 0
    # One line each: reports about addresses not on the list, permanent failures that do not
    # say the address is gone, subscribers already off the list, malformed messages.
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Bounces and complaints without proof that they concern our message: not applied.
    unverified: list[str] = field(default_factory=list)


def import_bounces(
    *, engine: Engine, settings: Settings, path: Path, trust_unverified: bool = False
) -> BounceImport:
    """Apply every report in the mbox file or Maildir directory at `path`, in one transaction;
    importing the same mailbox again changes nothing. With `trust_unverified`, a report without
    proof is matched by the address it names."""
    result = BounceImport()
    with session_scope(engine) as session:
        for where, message in _messages(path):
            result.messages += 1
            try:
                findings = read_report(message)
            except (MalformedReport, ValueError, LookupError) as exc:
                result.skipped.append(f"{where}: {exc}: skipped")
                continue
            if findings is None:
                result.not_reports += 1
                continue
            for finding in findings:
                _apply(session, settings.secret_key, finding, where, result, trust_unverified)
    return result


def _apply(
    session: Session,
    secret: str | None,
    finding: Finding,
    where: str,
    result: BounceImport,
    trust_unverified: bool,
) -> None:
    status = _STATUS.get(finding.kind)
    if status is None:  # changes nothing, so it needs no proof to be listed
        found = _by_address(session, finding.address)
        if found is None:
            result.notes.append(
                f"{where}: {finding.address} is not a subscriber ({finding.detail})"
            )
        else:
            result.notes.append(f"{where}: {found.email}: kept on the list ({finding.detail})")
        return
    subscriber, doubt = _proven(session, secret, finding)
    if subscriber is None:
        if not trust_unverified or finding.address is None:
            who = finding.address or f"Message-ID {finding.message_id}"
            hint = "; --trust-unverified applies it" if finding.address else ""
            result.unverified.append(f"{where}: {who}: unverified ({doubt}): skipped{hint}")
            return
        subscriber = _by_address(session, finding.address)
        if subscriber is None:
            result.notes.append(
                f"{where}: {finding.address} is not a subscriber ({finding.detail})"
            )
            return
    if subscriber.status not in ON_THE_LIST:
        if subscriber.status is not status:
            result.notes.append(
                f"{where}: {subscriber.email} is {subscriber.status.value} already "
                f"({finding.detail})"
            )
        return
    cause = f"{finding.kind} report: {finding.detail}"
    if take_off_list(session=session, subscriber=subscriber, status=status, cause=cause):
        if status is SubscriberStatus.BOUNCED:
            result.bounced += 1
        else:
            result.complained += 1


def _by_address(session: Session, address: str | None) -> Subscriber | None:
    return queries.get_subscriber(session=session, email=address) if address else None


def _proven(
    session: Session, secret: str | None, finding: Finding
) -> tuple[Subscriber | None, str]:
    """The subscriber the report proves it concerns, or None and why there is no proof: it must
    quote the Message-ID of our message to them. A bounce must also name their address (as
    Final-Recipient, or as Original-Recipient after a forward): a relay states whom it could
    not deliver to. A complaint is the quoted message's recipient's, whatever address it shows:
    feedback loops redact or rewrite them."""
    if finding.message_id is None:
        return None, "it quotes no Message-ID of ours"
    if secret is None:
        return None, "NEWSLETTER_SECRET_KEY is not set, so its Message-ID cannot be checked"
    subscriber = _signed_recipient(session, secret, finding.message_id)
    if subscriber is None:
        return None, f"Message-ID {finding.message_id} is not of a message we sent to anyone listed"
    named = {a.lower() for a in (finding.address, finding.original_recipient) if a}
    if finding.kind == BOUNCE and subscriber.email.lower() not in named:
        return None, f"it quotes our message to someone else, {subscriber.email}"
    return subscriber, ""


def _signed_recipient(session: Session, secret: str, message_id: str) -> Subscriber | None:
    """The subscriber our message with this Message-ID went to; None when it is not ours (or
    its recipient's row is gone: a row that took over their id has another link key)."""
    parsed = parse_message_id(message_id)
    if parsed is None:
        return None
    subscriber = session.get(Subscriber, parsed.subscriber_id)
    if subscriber is None:
        return None
    if parsed.signed_for(secret=secret, key=subscriber.link_key):
        return subscriber
    if not subscriber.legacy_id_links:
        return None
    edition = queries.get_edition(session=session, edition_date=parsed.edition_date)
    if edition is None or not parsed.signed_before_keys(secret=secret, edition_id=edition.id):
        return None
    return subscriber


def _messages(path: Path) -> Iterator[tuple[str, EmailMessage]]:
    """(where, message) for each message of an mbox file or a Maildir directory."""
    box: mailbox.Mailbox[mailbox.Message]
    if path.is_dir():
        if not all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise InputError(path, "directory", "not a Maildir (it needs cur/, new/ and tmp/)")
        box = mailbox.Maildir(path, factory=None, create=False)
        names = sorted(box.keys())
        label = "file"
    elif path.is_file():
        with path.open("rb") as handle:
            start = handle.read(5)
        if start and start != b"From ":
            raise InputError(path, "line 1", "not an mbox (it must start with a 'From ' line)")
        box = mailbox.mbox(path, factory=None, create=False)
        names = list(box.keys())
        label = "message"
    else:
        raise InputError(path, "path", "no such mbox file or Maildir directory")
    for number, key in enumerate(names, 1):
        where = f"{path}: {label} {key if label == 'file' else number}"
        parsed = message_from_bytes(box.get_bytes(key), policy=default)
        assert isinstance(parsed, EmailMessage)
        yield where, parsed
