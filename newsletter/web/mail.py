"""The confirmation email of the double opt-in: plain text and a simple HTML part, as SMTP-ready
bytes made the way edition messages are: the recipient's domain in its IDNA form, SMTPUTF8 for
a non-ASCII local part, and the same DKIM signature (newsletter.delivery.smtp.dkim)."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from newsletter.delivery.smtp.mime import CRLF, Envelope, to_header
from newsletter.languages import DEFAULT_LANGUAGE
from newsletter.web.pages import render

_SUBJECTS = {
    "en": "Confirm your subscription to {site}",
    "ru": "Подтвердите подписку на {site}",
}

Sign = Callable[[list[tuple[bytes, bytes]], list[bytes]], bytes]


def confirmation_envelope(
    *,
    sender: str,
    to_address: str,
    lang: str,
    site_name: str,
    confirm_link: str,
    days: int,
    sign: Sign | None,
) -> Envelope:
    """The message asking `to_address` to confirm. Every header value comes from settings or a
    validated address, and the email package refuses line breaks in headers besides."""
    _, recipient, smtputf8 = to_header(None, to_address)
    context: dict[str, Any] = {
        "site_name": site_name,
        "link": confirm_link,
        "days": days,
        "lang": lang,
    }
    # RFC 6532 lets the To: field carry the UTF-8 address SMTPUTF8 delivers it to.
    message = EmailMessage(policy=SMTPUTF8 if smtputf8 else SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = _SUBJECTS.get(lang, _SUBJECTS[DEFAULT_LANGUAGE]).format(site=site_name)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    text = render("confirm_email.txt.j2", autoescape=False, **context)
    html = render("confirm_email.html.j2", **context)
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = lang
    head, _, body = message.as_bytes().partition(CRLF + CRLF)
    body = body.rstrip(CRLF) + CRLF  # DKIM's simple body: one line break at the end
    data = head + CRLF + CRLF + body
    if sign is not None:
        data = sign(_fields(head), [body]) + data
    return Envelope(parseaddr(sender)[1], recipient, data, smtputf8)


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """(name, value) of each header field, folded values as they are (the signer unfolds)."""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(CRLF):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + CRLF + line)
        else:
            name, _, value = line.partition(b":")
            fields.append((name, value.lstrip(b" ")))
    return fields
