"""A backup of the subscriber list that restores to the same people: row ids, link keys (which
every link already mailed carries), states with their dates, history and the suppression list.
The CSV export is for people and spreadsheets; this is for putting a list back.

The file is JSON Lines: a header line, one line per subscriber (with their history), then one
per suppressed address hash. Restoring goes into a database without subscribers, in one
transaction: the whole file or nothing."""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from newsletter.errors import InputError, NewsletterError
from newsletter.store.models import (
    LINK_KEY_LENGTH,
    Subscriber,
    SubscriberEvent,
    SubscriberStatus,
    Suppression,
)
from subscribers.csv_io import MAX_TAG_LENGTH
from subscribers.errors import InvalidValue
from subscribers.history import MAX_CAUSE_LENGTH
from subscribers.queries import suppressed_among
from subscribers.suppression import address_hash
from subscribers.validate import normalize_address, validate_lang, validate_name

FORMAT = "newsletter-subscribers"
VERSION = 1
_CHUNK = 1000
_SUBSCRIBERS = cast(Table, Subscriber.__table__)
_EVENTS = cast(Table, SubscriberEvent.__table__)
_SUPPRESSIONS = cast(Table, Suppression.__table__)
_KEY_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_")
_HEX = frozenset("0123456789abcdef")

Progress = Callable[[int, int], None]  # (lines done, lines in all)


@dataclass(frozen=True)
class BackupCounts:
    subscribers: int
    events: int
    suppressions: int


def write_backup(*, session: Session, out: TextIO) -> BackupCounts:
    """Write every subscriber (in id order, with history) and every suppression to `out`."""
    out.write(_line({"format": FORMAT, "version": VERSION}))
    subscribers = events = 0
    after = 0
    while chunk := session.scalars(
        select(Subscriber).where(Subscriber.id > after).order_by(Subscriber.id).limit(_CHUNK)
    ).all():
        history: dict[int, list[dict[str, Any]]] = {row.id: [] for row in chunk}
        for event in session.scalars(
            select(SubscriberEvent)
            .where(SubscriberEvent.subscriber_id.in_(list(history)))
            .order_by(SubscriberEvent.subscriber_id, SubscriberEvent.at, SubscriberEvent.id)
        ):
            history[event.subscriber_id].append(
                {
                    "at": _when(event.at),
                    "old_status": event.old_status.value if event.old_status else None,
                    "new_status": event.new_status.value,
                    "cause": event.cause,
                }
            )
        for row in chunk:
            out.write(_line(_subscriber_record(row, history[row.id])))
            events += len(history[row.id])
        subscribers += len(chunk)
        after = chunk[-1].id
        session.expunge_all()  # memory stays flat however long the list
    suppressions = 0
    for suppression in session.scalars(select(Suppression).order_by(Suppression.id)):
        out.write(
            _line(
                {
                    "type": "suppression",
                    "address_hash": suppression.address_hash,
                    "reason": suppression.reason,
                    "created_at": _when(suppression.created_at),
                }
            )
        )
        suppressions += 1
    return BackupCounts(subscribers, events, suppressions)


def _subscriber_record(row: Subscriber, history: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "subscriber",
        "id": row.id,
        "link_key": row.link_key,
        "legacy_id_links": row.legacy_id_links,
        "email": row.email,
        "name": row.name,
        "lang": row.lang,
        "status": row.status.value,
        "created_at": _when(row.created_at),
        "updated_at": _when(row.updated_at),
        "confirmed_at": _when(row.confirmed_at),
        "unsubscribed_at": _when(row.unsubscribed_at),
        "confirmation_sent_at": _when(row.confirmation_sent_at),
        "sections": row.sections,
        "other_languages": row.other_languages,
        "history": history,
    }


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def restore_backup(
    *, session: Session, path: Path, progress: Progress | None = None
) -> BackupCounts:
    """Put the subscribers and suppressions of a `write_backup` file into this database, which
    must hold no subscribers (their ids would clash with the backup's). Every line is checked
    before anything is stored; a bad one stops the restore with its line number."""
    present = session.scalar(select(func.count()).select_from(Subscriber)) or 0
    if present:
        raise NewsletterError(
            f"{path}: the database already holds {present} subscribers; restore into a fresh "
            "database (`newsletter db upgrade` on an empty one), so that ids and links stay "
            "those of the backup"
        )
    subscribers, events, suppressions = _read(path, progress)
    # A consistent backup never has both: `forget` deletes the row it suppresses.
    hashes = {address_hash(row["email"]): line for line, row in subscribers}
    listed = {row["address_hash"] for _, row in suppressions}
    clash = [line for digest, line in hashes.items() if digest in listed]
    clash += [hashes[digest] for digest in suppressed_among(session=session, hashes=list(hashes))]
    if clash:
        raise InputError(path, f"line {min(clash)}", "the address is on the suppression list")
    stored = suppressed_among(session=session, hashes=[s["address_hash"] for _, s in suppressions])
    new_suppressions = [s for _, s in suppressions if s["address_hash"] not in stored]
    connection = session.connection()
    for rows in _chunks([row for _, row in subscribers]):
        connection.execute(insert(_SUBSCRIBERS), rows)
    for rows in _chunks(events):
        connection.execute(insert(_EVENTS), rows)
    for rows in _chunks(new_suppressions):
        connection.execute(insert(_SUPPRESSIONS), rows)
    if subscribers and connection.dialect.name == "postgresql":
        # Rows came with their ids: the next subscriber's id must follow the largest.
        connection.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), "
                "(SELECT max(id) FROM subscribers))"
            )
        )
    return BackupCounts(len(subscribers), len(events), len(new_suppressions))


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


Numbered = list[tuple[int, dict[str, Any]]]


def _read(path: Path, progress: Progress | None) -> tuple[Numbered, list[dict[str, Any]], Numbered]:
    """(line, subscriber row), history rows, (line, suppression row): checked, ready to insert."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InputError(path, "file", f"cannot read it: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise InputError(path, "file", "not valid UTF-8") from None
    subscribers: Numbered = []
    events: list[dict[str, Any]] = []
    suppressions: Numbered = []
    seen: dict[str, dict[object, int]] = {"id": {}, "email": {}, "link_key": {}, "hash": {}}
    header = False
    for number, raw in enumerate(lines, 1):
        if progress is not None and (number % 1000 == 0 or number == len(lines)):
            progress(number, len(lines))
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            raise InputError(path, where, "not a JSON object") from None
        if not isinstance(record, dict):
            raise InputError(path, where, "not a JSON object")
        try:
            if not header:
                _check_header(record)
                header = True
            elif record.get("type") == "subscriber":
                row, history = _subscriber_row(record)
                for field in ("id", "email", "link_key"):
                    value = row[field].lower() if field == "email" else row[field]
                    if value in seen[field]:
                        raise InvalidValue(field, str(value), f"repeats line {seen[field][value]}")
                    seen[field][value] = number
                subscribers.append((number, row))
                events += history
            elif record.get("type") == "suppression":
                row = _suppression_row(record)
                if row["address_hash"] not in seen["hash"]:  # listed twice: one is enough
                    seen["hash"][row["address_hash"]] = number
                    suppressions.append((number, row))
            else:
                kind = str(record.get("type"))
                raise InvalidValue("type", kind, "expected subscriber or suppression")
        except InvalidValue as exc:
            reason = f"invalid {exc.field} {exc.value!r}: {exc.reason}"
            raise InputError(path, where, reason) from None
    if not header:
        raise InputError(path, "file", f"empty: expected a {FORMAT} backup")
    return subscribers, events, suppressions


def _check_header(record: dict[str, Any]) -> None:
    if record.get("format") != FORMAT:
        raise InvalidValue("format", str(record.get("format")), f"not a {FORMAT} backup")
    if record.get("version") != VERSION:
        raise InvalidValue("version", str(record.get("version")), f"this version reads {VERSION}")


def _subscriber_row(record: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    id_ = record.get("id")
    if not isinstance(id_, int) or isinstance(id_, bool) or not 0 < id_ < 2**31:
        raise InvalidValue("id", str(id_), "expected a positive whole number")
    key = record.get("link_key")
    if not isinstance(key, str) or len(key) != LINK_KEY_LENGTH or not set(key) <= _KEY_CHARACTERS:
        raise InvalidValue("link_key", str(key), f"expected {LINK_KEY_LENGTH} URL-safe characters")
    email = _text(record, "email")
    # Stored as it was: only an address that was already normalised is taken.
    if normalize_address(email, formula_ok=True) != email:
        raise InvalidValue("email", email, "not in the form the database keeps")
    status = _status(record.get("status"), "status")
    sections = record.get("sections", [])
    if not isinstance(sections, list) or not all(
        isinstance(tag, str) and tag.isprintable() and len(tag) <= MAX_TAG_LENGTH
        for tag in sections
    ):
        raise InvalidValue("sections", str(sections)[:80], "expected a list of tags")
    row = {
        "id": id_,
        "link_key": key,
        "legacy_id_links": record.get("legacy_id_links") is True,
        "email": email,
        "name": validate_name(_optional_text(record, "name")),
        "lang": validate_lang(_text(record, "lang")),
        "status": status,
        "created_at": _moment(record, "created_at", required=True),
        "updated_at": _moment(record, "updated_at") or datetime.now(UTC),
        "confirmed_at": _moment(record, "confirmed_at"),
        "unsubscribed_at": _moment(record, "unsubscribed_at"),
        "confirmation_sent_at": _moment(record, "confirmation_sent_at"),
        "sections": sections,
        "other_languages": record.get("other_languages") is True,
    }
    history = record.get("history", [])
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        raise InvalidValue("history", str(history)[:80], "expected a list of objects")
    events = [
        {
            "subscriber_id": id_,
            "at": _moment(event, "at", required=True),
            "old_status": None
            if event.get("old_status") is None
            else _status(event.get("old_status"), "old_status"),
            "new_status": _status(event.get("new_status"), "new_status"),
            "cause": _text(event, "cause")[:MAX_CAUSE_LENGTH],
        }
        for event in history
    ]
    return row, events


def _suppression_row(record: dict[str, Any]) -> dict[str, Any]:
    digest = record.get("address_hash")
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
        raise InvalidValue("address_hash", str(digest), "expected a SHA-256 in lower-case hex")
    return {
        "address_hash": digest,
        "reason": _text(record, "reason")[:300],
        "created_at": _moment(record, "created_at", required=True),
    }


def _text(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str):
        raise InvalidValue(field, str(value), "expected a string")
    return value


def _optional_text(record: dict[str, Any], field: str) -> str | None:
    return None if record.get(field) is None else _text(record, field)


def _status(raw: object, field: str) -> SubscriberStatus:
    try:
        return SubscriberStatus(str(raw))
    except ValueError:
        known = ", ".join(status.value for status in SubscriberStatus)
        raise InvalidValue(field, str(raw), f"expected one of {known}") from None


def _moment(record: dict[str, Any], field: str, *, required: bool = False) -> datetime | None:
    raw = record.get(field)
    if raw is None and not required:
        return None
    if not isinstance(raw, str):
        raise InvalidValue(field, str(raw), "expected an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise InvalidValue(field, raw, "has no time zone")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 moved into UTC
        raise InvalidValue(field, raw, "expected an ISO 8601 date and time") from None
