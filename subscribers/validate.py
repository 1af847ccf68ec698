"""Checks for what a subscriber gives us: every value here ends up in a mail header."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from newsletter.languages import DEFAULT_LANGUAGE, LANGUAGES
from subscribers.errors import InvalidAddress, InvalidValue

MAX_NAME_LENGTH = 300  # the width of subscribers.name
# Controls (CR, LF, TAB, NUL...) and the Unicode line and paragraph separators: any of them in a
# display name could split the To: header or garble it.
_FORBIDDEN_IN_NAME = {"Cc", "Zl", "Zp"}


# What makes a spreadsheet run a cell as a formula (OWASP); '@' cannot start an address anyway.
_FORMULA_START = ("=", "+", "-")


def normalize_address(raw: str, *, formula_ok: bool = False) -> str:
    """The address as stored and compared: validated, domain lower-cased and IDNA-decoded.
    `formula_ok` lets through an address starting like a spreadsheet formula: a restore puts
    back what an older version stored."""
    # email_validator rejects these too; checking first keeps header injection a named refusal.
    if "\r" in raw or "\n" in raw:
        raise InvalidAddress(raw, "contains a line break")
    # Valid by RFC 5322 and used by no real mailbox we know of, but a formula to whichever
    # spreadsheet the list ends up in (`=cmd|'/Ccalc'!A0@example.com`). The CSV files this
    # product writes neutralise such cells; other tools may not.
    if not formula_ok and raw.strip().startswith(_FORMULA_START):
        raise InvalidAddress(
            raw, f"starts with {raw.strip()[0]!r}, which spreadsheets run as a formula"
        )
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidAddress(raw, str(exc).rstrip(".")) from exc


def validate_name(raw: str | None) -> str | None:
    """A display name safe for the To: header, or None when there is none."""
    if raw is None:
        return None
    name = raw.strip()
    for char in name:
        if unicodedata.category(char) in _FORBIDDEN_IN_NAME:
            raise InvalidValue("name", raw, f"contains the control character U+{ord(char):04X}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidValue("name", raw, f"longer than {MAX_NAME_LENGTH} characters")
    return name or None


def validate_lang(raw: str | None) -> str:
    """The edition language: one the newsletter is written in, the default when none given."""
    if raw is None or not raw.strip():
        return DEFAULT_LANGUAGE
    lang = raw.strip().lower()
    if lang not in LANGUAGES:
        raise InvalidValue("lang", raw, f"expected one of {', '.join(LANGUAGES)}")
    return lang
