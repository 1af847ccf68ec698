"""One error family: library code raises these, the CLI turns them into a line and an exit code."""

from __future__ import annotations

from pathlib import Path

EXIT_ERROR = 1
EXIT_NOTHING_TO_SEND = 3
EXIT_LEFT_TO_RETRY = 4
EXIT_AWAITING_APPROVAL = 5


class NewsletterError(Exception):
    """An error the user can act on; its message is shown as is, without a traceback."""

    exit_code = EXIT_ERROR


class ConfigError(NewsletterError):
    """A missing or malformed setting; the message names it."""


class InputError(NewsletterError):
    """A bad record in an input file: names the file and the line or record."""

    def __init__(self, path: Path | str, where: str, reason: str) -> None:
        self.path = str(path)
        self.where = where
        self.reason = reason
        super().__init__(f"{self.path}: {where}: {reason}")


class NothingToSend(NewsletterError):
    """The day has no content: not a failure, but cron must be able to tell it apart."""

    exit_code = EXIT_NOTHING_TO_SEND


class EditionStateError(NewsletterError):
    """The edition is in a state that does not allow the requested step."""


class DeliveryError(NewsletterError):
    """The mail relay could not be reached or refused the session."""


class DeliveryIncomplete(NewsletterError):
    """Some recipients were deferred by the relay; the next run picks them up."""

    exit_code = EXIT_LEFT_TO_RETRY


class RelayDown(DeliveryIncomplete):
    """The relay could not be reached at all: nothing was sent or changed; run again later."""


class StoreError(NewsletterError):
    """The database could not be reached or refused a statement (down, wrong URL, read-only,
    disk full, connection killed): the step's open transaction was rolled back."""


class BuildRace(EditionStateError):
    """Another process built the same edition at the same moment, and won."""


class SenderConflict(NewsletterError):
    """Another process is sending the edition, or sharing it is not possible on this database."""


class AwaitingApproval(NewsletterError):
    """With edition.require_approval, a draft is not sent: cron must tell "waiting for an
    editor" from "failed"."""

    exit_code = EXIT_AWAITING_APPROVAL
