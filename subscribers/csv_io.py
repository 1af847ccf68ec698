"""CSV import and export of the subscriber list: the operator's bulk path and its backup format."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from newsletter.errors import InputError
from newsletter.store.models import Subscriber, SubscriberStatus
from newsletter.store.queries import list_subscribers, stored_keys
from subscribers.errors import ImportRejected, InvalidValue, RowProblem
from subscribers.service import flush_new
from subscribers.validate import normalize_address, validate_lang, validate_name

# The export's columns, which import reads back, so that an export restores what it saved.
COLUMNS = ("email", "name", "lang", "status", "created_at")


@dataclass(frozen=True)
class ImportReport:
    added: int
    already_present: int


@dataclass(frozen=True)
class _Row:
    email: str
    name: str | None
    lang: str
    status: SubscriberStatus
    created_at: datetime


def import_csv(*, session: Session, path: Path) -> ImportReport:
    """Add every row of `path` or none: a half-imported list is hard to repair by hand.

    Only `email` is required. Addresses already stored are skipped whatever their status, so
    an import never re-subscribes someone who left.
    """
    rows = _parse(path, _read_text(path))
    present = stored_keys(session=session, emails=[row.email for row in rows])
    new = [row for row in rows if row.email.lower() not in present]
    session.add_all(
        Subscriber(
            email=row.email,
            name=row.name,
            lang=row.lang,
            status=row.status,
            created_at=row.created_at,
        )
        for row in new
    )
    flush_new(session, f"{path}: an address in the file was stored meanwhile")
    return ImportReport(added=len(new), already_present=len(rows) - len(new))


def export_csv(*, session: Session, out: TextIO) -> int:
    """Write every subscriber in id order, in the columns `import_csv` reads; return the count."""
    # "\n": `out` is a text stream, which translates line endings itself where the platform wants.
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    subscribers = list_subscribers(session=session)
    for subscriber in subscribers:
        writer.writerow(
            [
                subscriber.email,
                subscriber.name or "",
                subscriber.lang,
                subscriber.status.value,
                subscriber.created_at.astimezone(UTC).isoformat(),
            ]
        )
    return len(subscribers)


def _read_text(path: Path) -> str:
    """Decode strictly: a wrong encoding would put garbled names into To: headers."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "file", f"cannot read it: {exc.strerror}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            # Spreadsheets' "Unicode text" export: every line would fail, so say it once.
            raise InputError(path, "file", "not valid UTF-8 (it is UTF-16)") from None
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, f"line {line}", "not valid UTF-8") from None


def _parse(path: Path, text: str) -> list[_Row]:
    """Every row checked; all bad rows are reported together, so one edit fixes the file."""
    records = _records(path, text)
    first = next(records, None)
    if first is None:
        raise InputError(path, "file", "empty: expected a header row with an 'email' column")
    header_line, raw_header = first
    header = [name.strip().lower() for name in raw_header]
    _check_header(path, header_line, header)

    rows: list[_Row] = []
    problems: list[RowProblem] = []
    first_line_of: dict[str, int] = {}
    for line, fields in records:
        if len(fields) != len(header):
            reason = f"{len(fields)} fields where the header has {len(header)}"
            problems.append(RowProblem(line=line, value=",".join(fields), reason=reason))
            continue
        cells = dict(zip(header, fields, strict=True))
        try:
            row = _row(cells)
        except InvalidValue as exc:
            reason = f"invalid {exc.field}: {exc.reason}"
            problems.append(RowProblem(line=line, value=exc.value, reason=reason))
            continue
        seen = first_line_of.setdefault(row.email.lower(), line)
        if seen != line:
            reason = f"duplicate of line {seen}"
            problems.append(RowProblem(line=line, value=cells["email"], reason=reason))
            continue
        rows.append(row)
    if problems:
        raise ImportRejected(path, problems)
    return rows


def _records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, fields) for each non-blank record, numbered as in an editor."""
    # newline="" hands quoted line breaks to csv intact, so multi-line cells keep numbering right.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                yield line, fields
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(path, f"line {reader.line_num}", f"malformed CSV: {exc}") from None


def _check_header(path: Path, line: int, header: list[str]) -> None:
    where = f"line {line}"
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise InputError(path, where, f"unknown columns {names}; known: {', '.join(COLUMNS)}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputError(path, where, f"repeated columns {', '.join(map(repr, repeated))}")
    if "email" not in header:
        raise InputError(path, where, "no 'email' column")


def _row(cells: dict[str, str]) -> _Row:
    return _Row(
        email=normalize_address(cells["email"]),
        name=validate_name(cells.get("name")),
        lang=validate_lang(cells.get("lang")),
        status=_status(cells.get("status", "")),
        created_at=_created_at(cells.get("created_at", "")),
    )


def _status(raw: str) -> SubscriberStatus:
    """Restored from an export as saved: an unsubscribed row must not come back active."""
    if not raw.strip():
        return SubscriberStatus.ACTIVE
    try:
        return SubscriberStatus(raw.strip().lower())
    except ValueError:
        known = ", ".join(status.value for status in SubscriberStatus)
        raise InvalidValue("status", raw, f"expected one of {known}") from None


def _created_at(raw: str) -> datetime:
    if not raw.strip():
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidValue("created_at", raw, "expected an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise InvalidValue("created_at", raw, "has no time zone (add +00:00 for UTC)")
    return moment.astimezone(UTC)
