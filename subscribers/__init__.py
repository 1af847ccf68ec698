"""Subscriber management: validation, add/remove, CSV import and export, signed links.

Every function takes a `Session` and leaves committing to the caller's `session_scope`.
"""

from subscribers.csv_io import ImportReport, export_csv, import_csv
from subscribers.errors import (
    ImportRejected,
    InvalidAddress,
    InvalidToken,
    InvalidValue,
    RowProblem,
)
from subscribers.service import add_subscriber, remove_subscriber
from subscribers.tokens import make_token, read_token, unsubscribe_url
from subscribers.validate import normalize_address, validate_lang, validate_name

__all__ = [
    "ImportRejected",
    "ImportReport",
    "InvalidAddress",
    "InvalidToken",
    "InvalidValue",
    "RowProblem",
    "add_subscriber",
    "export_csv",
    "import_csv",
    "make_token",
    "normalize_address",
    "read_token",
    "remove_subscriber",
    "unsubscribe_url",
    "validate_lang",
    "validate_name",
]
