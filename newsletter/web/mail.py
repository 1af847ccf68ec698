"""The confirmation email of the double opt-in: plain text and a simple HTML part."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from newsletter.web.pages import render

_SUBJECTS = {
    "en": "Confirm your subscription to {site}",
    "ru": "Подтвердите подписку на {site}",
}


def confirmation_message(
    *, sender: str, to_address: str, lang: str, site_name: str, confirm_link: str, days: int
) -> EmailMessage:
    """The message asking `to_address` to confirm. Every header value comes from settings or a
    validated address, and the email package refuses line breaks in headers besides."""
    context: dict[str, Any] = {
        "site_name": site_name,
        "link": confirm_link,
        "days": days,
        "lang": lang,
    }
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = Address(addr_spec=to_address)
    message["Subject"] = _SUBJECTS.get(lang, _SUBJECTS["en"]).format(site=site_name)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    text = render("confirm_email.txt.j2", autoescape=False, **context)
    html = render("confirm_email.html.j2", **context)
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = lang
    return message
