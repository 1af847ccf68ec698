"""Transports behind one `send(message)` method; SMTP reuses one connection for many messages."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType
from typing import Protocol

from newsletter.config import SmtpSettings
from newsletter.errors import DeliveryError

_TIMEOUT_SECONDS = 60


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class RecipientRefused(Exception):
    """The relay refused this one recipient; other recipients can still be sent."""

    def __init__(self, code: int, reply: str) -> None:
        self.code = code
        self.reply = reply
        super().__init__(f"{code} {reply}")

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


class SmtpTransport:
    """One SMTP session, opened on first use and reopened once if the relay dropped it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        try:
            self._send_once(message)
        except smtplib.SMTPServerDisconnected:
            self._client = None
            self._send_once(message)

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except smtplib.SMTPException:
                self._client.close()
            self._client = None

    def _send_once(self, message: EmailMessage) -> None:
        client = self._connect()
        try:
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise RecipientRefused(code, reply.decode("utf-8", "replace")) from exc
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            raise RecipientRefused(exc.smtp_code, _text(exc.smtp_error)) from exc
        except smtplib.SMTPServerDisconnected:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._client = None
            raise DeliveryError(f"{self._where()}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        if self._client is not None:
            return self._client
        s = self._settings
        try:
            client: smtplib.SMTP
            if s.security == "ssl":
                client = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=_TIMEOUT_SECONDS, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=_TIMEOUT_SECONDS)
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{self._where()}: authentication failed: check NEWSLETTER_SMTP_USERNAME and "
                "NEWSLETTER_SMTP_PASSWORD"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"{self._where()}: cannot connect: {exc} (check NEWSLETTER_SMTP_HOST, "
                "NEWSLETTER_SMTP_PORT and NEWSLETTER_SMTP_SECURITY)"
            ) from exc
        self._client = client
        return client

    def _where(self) -> str:
        return f"SMTP {self._settings.host}:{self._settings.port}"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
