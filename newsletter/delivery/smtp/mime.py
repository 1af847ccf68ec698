"""Each recipient's message as bytes, from a template encoded once per edition and variant.

The stdlib `email` package composes about 100 messages a second (its quoted-printable encoder and
header folding are pure Python); here the template's parts are encoded once with the C encoder
(`binascii.b2a_qp`) and a recipient costs the encoding of the few lines that hold their links
plus their To: header. Quoted-printable encodes each line on its own (soft breaks restart at
every hard line break), so encoding the lines apart gives the bytes encoding the whole would.

`compose` is the slow stdlib way to the same message, kept for previews and test copies' .eml
files and as the reference the fast path is tested against."""

from __future__ import annotations

import binascii
import functools
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

import idna

# Every placeholder of newsletter.render starts with this; a line holding one is per recipient.
PLACEHOLDER_MARK = "__NEWSLETTER_"
_PLACEHOLDER = re.compile(r"(__NEWSLETTER_[A-Z0-9_]+?__)")
CRLF = b"\r\n"
_MAX_ENCODED_WORD_BYTES = 45  # 60 base64 characters: "=?utf-8?b?...?=" stays within 75
_MAX_LINE = 78
_MAX_QP_LINE = 76

Fill = Callable[[str, str], tuple[str, str]]
"""(html placeholders, text placeholders), each joined by LF → their values for one recipient."""


@dataclass(frozen=True)
class Envelope:
    """What SMTP needs: the return path, the recipient and the message, CRLF line ends.

    `wire` is `data` dot-stuffed for DATA, when the composer could make it without scanning
    the whole message (`MimeTemplate` stuffs its fixed pieces once); else the transport does.
    """

    sender: str
    recipient: str
    data: bytes
    smtputf8: bool = False
    wire: bytes | None = None


@dataclass(frozen=True)
class _Part:
    pieces: tuple[bytes | int, ...]  # encoded lines and pieces of lines, or a `dynamic` index
    dynamic: tuple[str, ...]  # the placeholders, in order
    # `pieces` dot-stuffed: every piece starts a line, so each can be stuffed on its own.
    stuffed: tuple[bytes | int, ...]


def dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with "." gets another. Scanning a whole message for
    this costs more than composing it, hence `Envelope.wire`."""
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


class MimeTemplate:
    """multipart/alternative (text, html), UTF-8, quoted-printable: the message `compose` makes,
    with the recipient's To:, Date:, Message-ID:, List-Unsubscribe: and links put in."""

    def __init__(self, *, sender: str, subject: str, html: str, text: str, lang: str) -> None:
        self.envelope_sender = _addr_spec(sender)
        boundary = f"=_newsletter_{secrets.token_hex(12)}"  # "=_" never occurs in QP output
        self._from = _fold("From", sender)
        self._subject = _fold("Subject", subject)
        self._fixed = (
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            b"MIME-Version: 1.0\r\n"
            + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode("ascii")
            + f"Content-Language: {lang}\r\n".encode("ascii")
        )
        part_head = (
            'Content-Type: text/{}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        # The line break before a boundary belongs to the boundary (RFC 2046), hence the extra
        # CRLF after each part's last line.
        self._text_head = f"--{boundary}\r\n{part_head.format('plain')}".encode("ascii")
        self._html_head = f"\r\n--{boundary}\r\n{part_head.format('html')}".encode("ascii")
        self._close = f"\r\n--{boundary}--\r\n".encode("ascii")
        self._text = _encode_part(text)
        self._html = _encode_part(html)

    def render(
        self,
        *,
        to_address: str,
        to_name: str | None,
        message_id: str,
        date: str,
        unsubscribe_url: str,
        fill: Fill,
        sign: Callable[[list[tuple[bytes, bytes]], list[bytes]], bytes] | None = None,
    ) -> Envelope:
        """One recipient's message. `fill` personalises the lines with placeholders; `sign`
        returns a DKIM-Signature field for the header fields and the body pieces."""
        to_field, recipient, smtputf8 = to_header(to_name, to_address)
        html_values, text_values = _fill(fill, self._html.dynamic, self._text.dynamic)
        headers = [
            (b"From", self._from),
            (b"To", to_field),
            (b"Subject", self._subject),
            (b"Date", date.encode("ascii")),
            (b"Message-ID", message_id.encode("ascii")),
            (b"List-Unsubscribe", b"<" + unsubscribe_url.encode("ascii") + b">"),
        ]
        text_pieces = _pieces(self._text.pieces, text_values)
        html_pieces = _pieces(self._html.pieces, html_values)
        body = [self._text_head, *text_pieces, self._html_head, *html_pieces, self._close]
        head = [name + b": " + value + CRLF for name, value in headers]
        if sign is not None:
            head.insert(0, sign([*headers, *_split_fields(self._fixed)], body))
        top = [*head, self._fixed, CRLF]  # header lines never start with "."
        wire = [
            self._text_head,
            *_stuffed_pieces(self._text.stuffed, text_pieces),
            self._html_head,
            *_stuffed_pieces(self._html.stuffed, html_pieces),
            self._close,
        ]
        return Envelope(
            self.envelope_sender,
            recipient,
            b"".join([*top, *body]),
            smtputf8,
            wire=b"".join([*top, *wire]),
        )


def _encode_part(body: str) -> _Part:
    """Lines without placeholders are encoded once; a line with some is cut around them, each
    static piece encoded once too, joined by soft line breaks that decoding removes."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()  # the body's final line break; every line gets one below
    pieces: list[bytes | int] = []
    dynamic: list[str] = []
    run: list[str] = []
    for line in lines:
        if PLACEHOLDER_MARK not in line:
            run.append(line)
            continue
        if run:
            pieces.append(_qp_lines(run))
            run = []
        *cuts, tail = _PLACEHOLDER.split(line)
        for static, placeholder in zip(cuts[::2], cuts[1::2], strict=True):
            if static:
                pieces.append(_qp_soft(static))
            pieces.append(len(dynamic))
            dynamic.append(placeholder)
        pieces.append(_qp_lines([tail]) if tail else CRLF)
    if run:
        pieces.append(_qp_lines(run))
    stuffed = tuple(dot_stuffed(p) if isinstance(p, bytes) else p for p in pieces)
    return _Part(tuple(pieces), tuple(dynamic), stuffed)


def _qp_lines(lines: list[str]) -> bytes:
    """Quoted-printable of whole lines, each ending in CRLF (b2a_qp keeps CRLF when the input's
    first line ends with it, also for its soft breaks)."""
    return binascii.b2a_qp(("\r\n".join(lines) + "\r\n").encode("utf-8"), istext=True)


def _qp_soft(text: str) -> bytes:
    """Quoted-printable of a piece of a line, ending in a soft line break: the next piece
    continues the same line once decoded. Lines stay within 76 characters."""
    encoded = _qp_lines([text]).removesuffix(CRLF)
    head, _, last = encoded.rpartition(CRLF)
    if len(last) >= _MAX_QP_LINE:
        cut = _MAX_QP_LINE - 2
        while b"=" in last[cut - 2 : cut]:  # never cut an =XX escape apart
            cut -= 1
        last = last[:cut] + b"=" + CRLF + last[cut:]
    return (head + CRLF if head else b"") + last + b"=" + CRLF


def _fill(fill: Fill, html: tuple[str, ...], text: tuple[str, ...]) -> tuple[list[str], list[str]]:
    html_out, text_out = fill("\n".join(html), "\n".join(text))
    filled = (html_out.split("\n") if html else []), (text_out.split("\n") if text else [])
    if len(filled[0]) != len(html) or len(filled[1]) != len(text):
        raise ValueError("a personalised value must not contain line breaks")
    return filled


def _pieces(pieces: tuple[bytes | int, ...], values: list[str]) -> list[bytes]:
    return [p if isinstance(p, bytes) else _qp_soft(values[p]) for p in pieces]


def _stuffed_pieces(stuffed: tuple[bytes | int, ...], filled: list[bytes]) -> list[bytes]:
    """The stuffed fixed pieces, and the recipient's own pieces (`filled`, at the same places)
    stuffed now: they are a few short lines."""
    return [
        p if isinstance(p, bytes) else dot_stuffed(f) for p, f in zip(stuffed, filled, strict=True)
    ]


def _split_fields(block: bytes) -> list[tuple[bytes, bytes]]:
    fields = []
    for line in block.split(CRLF):
        if line:
            name, _, value = line.partition(b": ")
            fields.append((name, value))
    return fields


def _fold(name: str, value: str) -> bytes:
    """A header value as the stdlib's SMTP policy writes it (RFC 2047, folded), without the
    name: used once per template, where its cost does not matter."""
    folded: str = SMTP.header_factory(name, value).fold(policy=SMTP)
    # The stdlib may leave a space before a fold ("bases \r\n =?utf-8?b?4oCU?="): unfolded,
    # that is two spaces before the encoded word, which RFC 2047 keeps. One fold is enough.
    folded = re.sub(r" +\r\n(?=[ \t])", "\r\n", folded)
    return folded.encode("ascii").split(b":", 1)[1].strip(b" ").removesuffix(CRLF)


def _addr_spec(mailbox: str) -> str:
    address = SMTP.header_factory("From", mailbox).addresses[0]
    return str(address.addr_spec)


def to_header(name: str | None, address: str) -> tuple[bytes, str, bool]:
    """(To: field value, envelope recipient, needs SMTPUTF8). The domain goes out in its ASCII
    (IDNA) form; a non-ASCII local part needs SMTPUTF8 and is written as UTF-8 (RFC 6532).

    A display name that is plain printable ASCII and fits is a quoted string; any other is a run
    of RFC 2047 encoded words, one per folded line, each whole characters: nothing a subscriber
    typed can end the field or garble it."""
    local, _, domain = address.rpartition("@")
    if not domain.isascii():
        domain = idna.encode(domain, uts46=True).decode("ascii")
    recipient = f"{local}@{domain}"
    smtputf8 = not local.isascii()
    mailbox = recipient.encode("utf-8")
    if not name:
        return mailbox, recipient, smtputf8
    angle = b"<" + mailbox + b">"
    if _quotable(name):
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len("To: ") + len(quoted) + 1 + len(angle) <= _MAX_LINE:
            return quoted.encode("ascii") + b" " + angle, recipient, smtputf8
    return b"\r\n ".join([*_encoded_words(name), angle]), recipient, smtputf8


def _quotable(name: str) -> bool:
    # "=?" could be read back as an encoded word by lenient parsers (the stdlib's among them).
    return all(" " <= c <= "~" for c in name) and "=?" not in name


def _encoded_words(name: str) -> list[bytes]:
    words: list[bytes] = []
    chunk = b""
    for char in name:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _MAX_ENCODED_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return [b"=?utf-8?b?" + binascii.b2a_base64(w, newline=False) + b"?=" for w in words]


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
    writes the obsolete `GMT`. Formatted once per second: a send asks for it for every message."""
    return _date_of_second(int(time.time()))


@functools.lru_cache(maxsize=2)
def _date_of_second(second: int) -> str:
    return format_datetime(datetime.fromtimestamp(second, UTC))
