"""Bounces and complaints arriving after the sending: read a mailbox of reports and take the
subscribers they name off the list (bounced, complained), with the cause in their history.

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
from newsletter.deliver.reports import BOUNCE, COMPLAINT, Finding, MalformedReport, read_report
from newsletter.errors import InputError
from newsletter.messages import parse_message_id
from newsletter.store import queries
from newsletter.store.db import session_scope
from newsletter.store.models import Subscriber, SubscriberStatus
from subscribers.history import record_change

_STATUS = {BOUNCE: SubscriberStatus.BOUNCED, COMPLAINT: SubscriberStatus.COMPLAINED}
# Only people still (or about to be) on the list change state: an unsubscribed address that
# bounces later stays unsubscribed, as they chose.
_ON_THE_LIST = (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)


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


def import_bounces(*, engine: Engine, settings: Settings, path: Path) -> BounceImport:
    """Apply every report in the mbox file or Maildir directory at `path`, in one transaction;
    importing the same mailbox again changes nothing."""
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
                _apply(session, settings, finding, where, result)
    return result


def _apply(
    session: Session, settings: Settings, finding: Finding, where: str, result: BounceImport
) -> None:
    subscriber = _subscriber(session, settings, finding)
    if subscriber is None:
        who = finding.address or f"Message-ID {finding.message_id}"
        result.notes.append(f"{where}: {who} is not a subscriber ({finding.detail})")
        return
    status = _STATUS.get(finding.kind)
    if status is None:
        result.notes.append(f"{where}: {subscriber.email}: kept on the list ({finding.detail})")
        return
    if subscriber.status not in _ON_THE_LIST:
        if subscriber.status is not status:
            result.notes.append(
                f"{where}: {subscriber.email} is {subscriber.status.value} already "
                f"({finding.detail})"
            )
        return
    cause = f"{finding.kind} report: {finding.detail}"
    if record_change(session=session, subscriber=subscriber, status=status, cause=cause):
        if status is SubscriberStatus.BOUNCED:
            result.bounced += 1
        else:
            result.complained += 1


def _subscriber(session: Session, settings: Settings, finding: Finding) -> Subscriber | None:
    """By address; else (a redacted complaint) by the signed Message-ID of our message."""
    if finding.address:
        found = queries.get_subscriber(session=session, email=finding.address)
        if found is not None:
            return found
    if finding.message_id is None or settings.secret_key is None:
        return None
    return _signed_recipient(session, settings.secret_key, finding.message_id)


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
