"""Editors' accounts: an address and an argon2 hash of a password (argon2-cffi's defaults,
RFC 9106's recommended argon2id parameters), nothing else."""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.errors import NewsletterError
from newsletter.store.models import Editor
from subscribers import InvalidAddress, normalize_address

MIN_PASSWORD = 10
MAX_PASSWORD = 1000  # argon2 takes any length; a bound keeps a sign-in form cheap to refuse
_hasher = PasswordHasher()
# Verified when the address is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class EditorError(NewsletterError):
    """An editor that cannot be added or removed as asked."""


def _address(email: str) -> str:
    try:
        return normalize_address(email)
    except InvalidAddress as exc:
        raise EditorError(f"{email!r} is not an email address: {exc.reason}") from None


def get_editor(*, session: Session, email: str) -> Editor | None:
    return session.scalars(
        select(Editor).where(func.lower(Editor.email) == email.strip().lower())
    ).one_or_none()


def add_editor(*, session: Session, email: str, password: str) -> Editor:
    address = _address(email)
    if len(password) < MIN_PASSWORD:
        raise EditorError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise EditorError(f"the password must have at most {MAX_PASSWORD} characters")
    if get_editor(session=session, email=address) is not None:
        raise EditorError(f"{address} is already an editor")
    editor = Editor(email=address, password_hash=_hasher.hash(password), session_epoch=0)
    session.add(editor)
    session.flush()
    return editor


def list_editors(*, session: Session) -> Sequence[Editor]:
    return session.scalars(select(Editor).order_by(func.lower(Editor.email))).all()


def remove_editor(*, session: Session, email: str) -> None:
    """Delete the account; sessions signed in with it end at their next request."""
    editor = get_editor(session=session, email=email)
    if editor is None:
        raise EditorError(f"{email} is not an editor")
    session.delete(editor)


def check_password(*, session: Session, email: str, password: str) -> Editor | None:
    """The editor, if `password` is theirs; None otherwise, taking as long either way."""
    editor = get_editor(session=session, email=email) if len(password) <= MAX_PASSWORD else None
    try:
        _hasher.verify(editor.password_hash if editor else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if editor is not None and _hasher.check_needs_rehash(editor.password_hash):
        editor.password_hash = _hasher.hash(password)
    return editor
