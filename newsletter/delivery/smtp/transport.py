"""Transports behind one `send(message)` method; SMTP reuses one connection for many messages,
and `deliver` hands it ready bytes."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from types import TracebackType

from newsletter.config import SmtpSettings
from newsletter.delivery.smtp.mime import Envelope, dot_stuffed
from newsletter.errors import DeliveryError

_TIMEOUT_SECONDS = 60


class RecipientRefused(Exception):
    """The relay refused this one recipient; other recipients can still be sent."""

    def __init__(self, code: int, reply: str) -> None:
        self.code = code
        self.reply = reply
        super().__init__(f"{code} {reply}")

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


class ConnectionLost(Exception):
    """The relay closed the connection or stopped answering mid-message: whether the message
    arrived is unknown, so it is tried again."""


class RelayUnreachable(ConnectionLost, DeliveryError):
    """No connection could be opened (refused, reset, timed out): the relay may be restarting,
    so a send retries it with back-off like a 4xx (a ConnectionLost); to a caller of `send`,
    which does not retry, it is the DeliveryError it always was."""


class SmtpTransport:
    """One SMTP session, opened on first use and reopened once if the relay dropped it; with
    `max_messages`, closed and reopened after that many messages."""

    def __init__(self, settings: SmtpSettings, *, max_messages: int | None = None) -> None:
        self._settings = settings
        self._client: smtplib.SMTP | None = None
        self._max_messages = max_messages
        self._sent = 0
        self.last_reply = ""  # the relay's answer to the last message's end of data

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect now (and keep the connection for the first message): RelayUnreachable, or
        DeliveryError for a relay that can never be used with these settings."""
        self._connect()

    def send(self, message: EmailMessage) -> None:
        try:
            self._send_once(message)
        except smtplib.SMTPServerDisconnected:
            self._client = None
            self._send_once(message)

    def deliver(self, envelope: Envelope, *, before_end: Callable[[], None] | None = None) -> None:
        """Send one message of ready bytes to its one recipient. `before_end` runs before the
        final "." that lets the relay accept it: the caller's chance to finish recording the
        previous message first, so that at most one accepted message per connection is ever
        unrecorded.

        Raises RecipientRefused for a reply refusing this message, ConnectionLost when the
        connection broke, DeliveryError when the relay cannot be used at all."""
        client = self._connect()
        try:
            self._transaction(client, envelope, before_end)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise ConnectionLost(f"{self._where()}: connection lost: {exc}") from exc
        self._sent += 1
        if self._max_messages is not None and self._sent >= self._max_messages:
            self.close()

    def _transaction(
        self, client: smtplib.SMTP, envelope: Envelope, before_end: Callable[[], None] | None
    ) -> None:
        options = ""
        if envelope.smtputf8:
            if not client.has_extn("smtputf8"):
                raise RecipientRefused(553, "5.6.7 the relay does not offer SMTPUTF8")
            options = " SMTPUTF8 BODY=8BITMIME"
        commands = (
            f"MAIL FROM:<{envelope.sender}>{options}",
            f"RCPT TO:<{envelope.recipient}>",
            "DATA",
        )
        replies = self._commands(client, commands, envelope.smtputf8)
        (mail, mail_reply), (rcpt, rcpt_reply), (data, data_reply) = replies
        if data == 354 and (mail != 250 or rcpt not in (250, 251)):
            client.send(b".\r\n")  # a pipelining relay that took DATA anyway: end it empty
            data, data_reply = client.getreply()
        if mail != 250:
            self._refused(client, mail, mail_reply)
            if mail >= 500:  # about the sender, not this recipient: every message would fail
                raise DeliveryError(
                    f"{self._where()}: the relay refuses the sender: {mail} "
                    f"{_text(mail_reply)} (check NEWSLETTER_FROM and SMTP AUTH)"
                )
            raise RecipientRefused(mail, _text(mail_reply))
        if rcpt not in (250, 251):
            self._refused(client, rcpt, rcpt_reply)
            raise RecipientRefused(rcpt, _text(rcpt_reply))
        if data != 354:
            self._refused(client, data, data_reply)
            raise RecipientRefused(data, _text(data_reply))
        client.send(envelope.wire if envelope.wire is not None else dot_stuffed(envelope.data))
        if before_end is not None:
            before_end()
        client.send(b".\r\n")
        code, reply = client.getreply()
        self.last_reply = f"{code} {_text(reply)}"
        if code == 421:
            self._drop()
        if code != 250:
            raise RecipientRefused(code, _text(reply))

    def _commands(
        self, client: smtplib.SMTP, commands: tuple[str, ...], utf8: bool
    ) -> list[tuple[int, bytes]]:
        """Send the commands and read their replies: in one write when the relay offers
        PIPELINING (RFC 2920), which saves two round trips per message; else one by one,
        stopping at the first refusal (the rest count as refused with the same reply)."""
        encoding = "utf-8" if utf8 else "ascii"
        if client.has_extn("pipelining"):
            client.send("".join(f"{c}\r\n" for c in commands).encode(encoding))
            return [client.getreply() for _ in commands]
        replies: list[tuple[int, bytes]] = []
        for command in commands:
            client.send(f"{command}\r\n".encode(encoding))
            code, reply = client.getreply()
            replies.append((code, reply))
            if code >= 400:
                return replies + [(code, reply)] * (len(commands) - len(replies))
        return replies

    def _refused(self, client: smtplib.SMTP, code: int, reply: bytes) -> None:
        """End the transaction so the connection can carry the next message; 421 means the
        relay is closing it anyway."""
        if code == 421:
            self._drop()
            return
        try:
            client.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            self._client = None
            self._sent = 0

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
                    s.host, s.port, timeout=_TIMEOUT_SECONDS, context=_tls_context(s)
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=_TIMEOUT_SECONDS)
                if s.security == "starttls":
                    client.starttls(context=_tls_context(s))
            # The final "." goes out on its own after the body: without this, Nagle's algorithm
            # holds it back until the relay's delayed ACK, some 40 ms per message.
            assert client.sock is not None
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.ehlo_or_helo_if_needed()
            if s.username:
                client.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{self._where()}: authentication failed: check NEWSLETTER_SMTP_USERNAME and "
                "NEWSLETTER_SMTP_PASSWORD"
            ) from exc
        except (ssl.SSLError, ssl.CertificateError, smtplib.SMTPNotSupportedError) as exc:
            # A certificate or TLS setting that does not match: trying again will not help.
            raise DeliveryError(
                f"{self._where()}: cannot connect: {exc} (check NEWSLETTER_SMTP_HOST, "
                "NEWSLETTER_SMTP_PORT and NEWSLETTER_SMTP_SECURITY)"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Refused, reset, timed out, a 421 greeting: a relay restarting or overloaded.
            raise RelayUnreachable(
                f"{self._where()}: cannot connect: {exc} (check NEWSLETTER_SMTP_HOST, "
                "NEWSLETTER_SMTP_PORT and NEWSLETTER_SMTP_SECURITY)"
            ) from exc
        self._client = client
        return client

    def _where(self) -> str:
        return f"SMTP {self._settings.host}:{self._settings.port}"


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Certificates and host names checked unless `smtp.verify` is false; `smtp.ca_file` trusts
    a private CA."""
    context = ssl.create_default_context(cafile=settings.ca_file)
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
