"""CSV import and export of the subscriber list: the operator's bulk path, for people and
spreadsheets. It is no backup (new ids and link keys, no history or suppressions): see `backup`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.errors import InputError, NewsletterError
from newsletter.store.models import Subscriber, SubscriberEvent, SubscriberStatus
from newsletter.store.queries import list_subscribers
from subscribers.errors import ImportRejected, InvalidValue, RowProblem
from subscribers.history import event_values
from subscribers.queries import stored_addresses, suppressed_among
from subscribers.suppression import address_hash
from subscribers.validate import normalize_address, validate_lang, validate_name

if TYPE_CHECKING:
    import _csv

# The export's columns, which import reads back, so that an export restores what it saved.
COLUMNS = (
    "email",
    "name",
    "lang",
    "status",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "sections",
)
REJECT_COLUMNS = ("line", "value", "reason")
# OWASP's CSV injection list: a cell starting with one of these is a formula to Excel,
# LibreOffice and Google Sheets. Such a cell is written with a leading apostrophe, which
# spreadsheets show as text and hide; so is a cell starting with an apostrophe, so that import,
# which removes one before these, reads back exactly what was written.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_START = (*_FORMULA_START, "'")
SECTION_SEPARATOR = ";"  # tags may hold spaces ("air defence")
_INSERT_CHUNK = 1000
_SUBSCRIBERS = cast(Table, Subscriber.__table__)
_EVENTS = cast(Table, SubscriberEvent.__table__)
MAX_TAG_LENGTH = 100

Progress = Callable[[int, int], None]  # (rows done, rows in all)


@dataclass(frozen=True)
class ImportReport:
    added: int
    already_present: int
    suppressed: int = 0  # forgotten on request: skipped, never stored again
    rejected: tuple[RowProblem, ...] = ()  # with skip_invalid only


@dataclass(frozen=True)
class _Row:
    email: str
    name: str | None
    lang: str
    status: SubscriberStatus
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    sections: list[str]


def import_csv(
    *,
    session: Session,
    path: Path,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Add every row of `path` or none: a half-imported list is hard to repair by hand. With
    `skip_invalid`, add the valid rows and return the others in the report instead.

    Only `email` is required. Addresses already stored are skipped whatever their status, so
    an import never re-subscribes someone who left; so are addresses forgotten on request.
    """
    rows, problems = _parse(path, _read_text(path), progress)
    if problems and not skip_invalid:
        raise ImportRejected(path, problems)
    present = stored_addresses(session=session, emails=[row.email for row in rows])
    fresh = [row for row in rows if row.email.lower() not in present]
    hashes = {row.email: address_hash(row.email) for row in fresh}
    suppressed = suppressed_among(session=session, hashes=list(hashes.values()))
    new = [row for row in fresh if hashes[row.email] not in suppressed]
    _insert(session, path, new)
    return ImportReport(
        added=len(new),
        already_present=len(rows) - len(fresh),
        suppressed=len(fresh) - len(new),
        rejected=tuple(problems),
    )


def _insert(session: Session, path: Path, rows: list[_Row]) -> None:
    """Bulk inserts with each row's first history entry: one ORM object per row would make a
    100 000-row import take minutes."""
    cause = f"imported from {path.name}"
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        values = [
            {
                "email": row.email,
                "name": row.name,
                "lang": row.lang,
                "status": row.status,
                "created_at": row.created_at,
                "confirmed_at": row.confirmed_at,
                "unsubscribed_at": row.unsubscribed_at,
                "sections": row.sections,
            }
            for row in chunk
        ]
        # Core statements on the session's connection: the ORM's bulk path costs twice as much.
        connection = session.connection()
        try:
            ids = connection.scalars(
                insert(_SUBSCRIBERS).returning(_SUBSCRIBERS.c.id, sort_by_parameter_order=True),
                values,
            ).all()
        except IntegrityError as exc:
            # The check before the insert cannot see rows another session stores meanwhile.
            raise NewsletterError(
                f"{path}: an address in the file was stored meanwhile; nothing was stored"
            ) from exc
        now = datetime.now(UTC)
        connection.execute(
            insert(_EVENTS),
            [
                event_values(subscriber_id=id_, status=row.status, cause=cause, at=now)
                for id_, row in zip(ids, chunk, strict=True)
            ],
        )


def write_rejects(problems: tuple[RowProblem, ...] | list[RowProblem], out: TextIO) -> None:
    """The rows an import skipped, as CSV (line, value, reason), for fixing and importing again."""
    writer = _writer(out)
    writer.writerow(REJECT_COLUMNS)
    writer.writerows(
        [str(problem.line), _cell(problem.value), _cell(problem.reason)] for problem in problems
    )


def export_csv(*, session: Session, out: TextIO) -> int:
    """Write every subscriber in id order, in the columns `import_csv` reads; return the count."""
    writer = _writer(out)
    writer.writerow(COLUMNS)
    subscribers = list_subscribers(session=session)
    for subscriber in subscribers:
        writer.writerow(
            _cell(value)
            for value in [
                subscriber.email,
                subscriber.name or "",
                subscriber.lang,
                subscriber.status.value,
                _when(subscriber.created_at),
                _when(subscriber.confirmed_at),
                _when(subscriber.unsubscribed_at),
                SECTION_SEPARATOR.join(subscriber.sections),
            ]
        )
    return len(subscribers)


def _writer(out: TextIO) -> _csv.Writer:
    """Every cell quoted: a spreadsheet that splits on ';' (as in many locales) cannot cut a
    quoted cell in two and find a formula in the second half. "\n": `out` is a text stream,
    which translates line endings itself where the platform wants."""
    return csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)


def _cell(value: str) -> str:
    """A cell no spreadsheet runs as a formula (OWASP: prefix a single quote)."""
    return f"'{value}" if value.startswith(_ESCAPED_START) else value


def _uncell(value: str) -> str:
    """What `_cell` was given. A hand-written cell such as `'o'brien@example.org` stays."""
    return value[1:] if value[:1] == "'" and value[1:2] in _ESCAPED_START else value


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat()


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


def _parse(path: Path, text: str, progress: Progress | None) -> tuple[list[_Row], list[RowProblem]]:
    """Every row checked; all bad rows are reported together, so one edit fixes the file."""
    records = list(_records(path, text))
    if not records:
        raise InputError(path, "file", "empty: expected a header row with an 'email' column")
    header_line, raw_header = records[0]
    header = [name.strip().lower() for name in raw_header]
    _check_header(path, header_line, header)

    rows: list[_Row] = []
    problems: list[RowProblem] = []
    first_line_of: dict[str, int] = {}
    total = len(records) - 1
    for done, (line, fields) in enumerate(records[1:], 1):
        if progress is not None and (done % 1000 == 0 or done == total):
            progress(done, total)
        if len(fields) != len(header):
            reason = f"{len(fields)} fields where the header has {len(header)}"
            problems.append(RowProblem(line=line, value=",".join(fields), reason=reason))
            continue
        cells = dict(zip(header, map(_uncell, fields), strict=True))
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
    return rows, problems


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
        created_at=_moment("created_at", cells.get("created_at", "")) or datetime.now(UTC),
        confirmed_at=_moment("confirmed_at", cells.get("confirmed_at", "")),
        unsubscribed_at=_moment("unsubscribed_at", cells.get("unsubscribed_at", "")),
        sections=_sections(cells.get("sections", "")),
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


def _moment(column: str, raw: str) -> datetime | None:
    if not raw.strip():
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidValue(column, raw, "expected an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise InvalidValue(column, raw, "has no time zone (add +00:00 for UTC)")
    return moment.astimezone(UTC)


def _sections(raw: str) -> list[str]:
    tags = [tag.strip().lower() for tag in raw.split(SECTION_SEPARATOR) if tag.strip()]
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH or not tag.isprintable():
            raise InvalidValue("sections", raw, "tags must be printable, at most 100 characters")
    return sorted(set(tags))
