"""Subscriber management: validation, consent (double opt-in), leaving, preferences, CSV import
and export, the suppression list, the state history, signed links.

Every function takes a `Session` and leaves committing to the caller's `session_scope`.
"""

from subscribers.backup import BackupCounts, restore_backup, write_backup
from subscribers.consent import (
    Confirmation,
    Confirmed,
    confirm,
    confirmation_failed,
    request_subscription,
    unsubscribe,
    update_preferences,
)
from subscribers.csv_io import ImportReport, export_csv, import_csv, write_rejects
from subscribers.errors import (
    ExpiredToken,
    ImportRejected,
    InvalidAddress,
    InvalidToken,
    InvalidValue,
    RowProblem,
    Suppressed,
)
from subscribers.history import record_change
from subscribers.queries import subscriber_for_link
from subscribers.service import add_subscriber, remove_subscriber
from subscribers.suppression import Forgotten, address_hash, forget, is_suppressed
from subscribers.tokens import (
    Link,
    confirm_url,
    make_test_token,
    make_timed_token,
    make_token,
    preferences_url,
    read_timed_token,
    read_token,
    unsubscribe_url,
)
from subscribers.validate import normalize_address, validate_lang, validate_name

__all__ = [
    "BackupCounts",
    "Confirmation",
    "Confirmed",
    "ExpiredToken",
    "Forgotten",
    "ImportRejected",
    "ImportReport",
    "InvalidAddress",
    "InvalidToken",
    "InvalidValue",
    "Link",
    "RowProblem",
    "Suppressed",
    "add_subscriber",
    "address_hash",
    "confirm",
    "confirm_url",
    "confirmation_failed",
    "export_csv",
    "forget",
    "import_csv",
    "is_suppressed",
    "make_test_token",
    "make_timed_token",
    "make_token",
    "normalize_address",
    "preferences_url",
    "read_timed_token",
    "read_token",
    "record_change",
    "remove_subscriber",
    "request_subscription",
    "restore_backup",
    "subscriber_for_link",
    "unsubscribe",
    "unsubscribe_url",
    "update_preferences",
    "validate_lang",
    "validate_name",
    "write_backup",
    "write_rejects",
]
