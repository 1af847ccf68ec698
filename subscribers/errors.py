"""The subscriber package's errors: all `NewsletterError`s, so the CLI reports them as one line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import NewsletterError


class InvalidValue(NewsletterError):
    """A subscriber field that cannot be stored; keeps `reason` apart for import reports."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {value!r}: {reason}")


class InvalidAddress(InvalidValue):
    """An email address that would not survive sending, or could inject mail headers."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__("address", value, reason)


@dataclass(frozen=True)
class RowProblem:
    """One rejected row of an import file; `line` is the row's first line in the file."""

    line: int
    value: str
    reason: str


class ImportRejected(NewsletterError):
    """An import file with bad rows: nothing was stored, and `problems` lists every bad row."""

    def __init__(self, path: Path | str, problems: list[RowProblem]) -> None:
        self.path = str(path)
        self.problems = problems
        first = problems[0]
        rows = "row" if len(problems) == 1 else "rows"
        super().__init__(
            f"{self.path}: {len(problems)} invalid {rows}; "
            f"first: line {first.line}: {first.value!r}: {first.reason}"
        )


class InvalidToken(NewsletterError):
    """A signed link that was altered, or was made for another purpose or another secret."""


class ExpiredToken(InvalidToken):
    """A signed link that was genuine but is too old to act on."""


class Suppressed(NewsletterError):
    """The address was erased on its owner's request and must never be mailed again."""
