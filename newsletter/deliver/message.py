"""MIME for one recipient: multipart/alternative, UTF-8, the headers bulk mail needs."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime


def compose(
    *,
    sender: str,
    to_address: str,
    to_name: str | None,
    subject: str,
    html: str,
    text: str,
    message_id: str,
    unsubscribe_url: str,
    lang: str,
) -> EmailMessage:
    """A message ready for SMTP. Header values with line breaks are refused by the email package
    (ValueError), so nothing a subscriber typed can add headers."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = Address(display_name=to_name or "", addr_spec=to_address)
    message["Subject"] = subject
    message["Date"] = mail_date()
    message["Message-ID"] = message_id
    # RFC 2369 and RFC 8058: mail clients show an unsubscribe button and POST to it in one click.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # 7-bit transfer encoding: relays without 8BITMIME must pass the message unchanged.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = lang  # after the parts: setting content clears Content-*
    return message


def mail_date() -> str:
    """Now as RFC 5322 writes it, with a numeric zone (`+0000`); `formatdate(usegmt=True)`
    writes the obsolete `GMT`."""
    return format_datetime(datetime.now(UTC).replace(microsecond=0))
