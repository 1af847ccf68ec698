"""The fast per-recipient bytes against what the stdlib `email` package makes and reads: names
and addresses of every length and script, links at every position of every line length."""

from __future__ import annotations

import binascii
import html
import random
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32, default

import pytest

from newsletter.delivery.smtp import compose
from newsletter.delivery.smtp.mime import MimeTemplate, dot_stuffed, to_header
from newsletter.render import UNSUBSCRIBE_PLACEHOLDER as LINK

SENDER = "VPK News — дайджест <digest@vpk-news.example>"
SUBJECT = "VPK News — дайджест за 23 декабря 2024: Т-90М «Прорыв» прошёл испытания " * 2
URL = "https://news.example.org/unsubscribe/eyJpZCI6NDJ9.abc-DEF_123?x=1&y=2"

SCRIPTS = {
    "ascii": "Alex Reader",
    "specials": 'O\'Brien, "Jr." (ed.) <x@y> [a]:b;c\\d',
    "latin1": "Zoë Müller-Lüdenscheidt",
    "cyrillic": "Иван Петрович Сидоров",
    "cjk": "山田太郎と申します",
    "emoji": "Ана 🚀🛰️ Космос",
    "arabic": "محمد بن سلمان",
    "combining": "Jose\u0301 Zaleski\u0301",
    "encoded-word": "=?utf-8?q?Mallory?=",
}


def _parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def _personalize(html_part: str, text_part: str, url: str) -> tuple[str, str]:
    return html_part.replace(LINK, html.escape(url, quote=True)), text_part.replace(LINK, url)


def _render(
    template: MimeTemplate, *, name: str | None, address: str, url: str = URL
) -> EmailMessage:
    return _parse(_render_bytes(template, name=name, address=address, url=url))


def _render_bytes(
    template: MimeTemplate, *, name: str | None, address: str, url: str = URL
) -> bytes:
    envelope = template.render(
        to_address=address,
        to_name=name,
        message_id="<20241223.42.0123456789abcdef@vpk-news.example>",
        date="Mon, 23 Dec 2024 19:00:00 GMT",
        unsubscribe_url=url,
        fill=lambda h, t: _personalize(h, t, url),
    )
    for line in envelope.data.split(b"\r\n"):
        assert len(line) <= 998
    return envelope.data


def _template(html_part: str, text_part: str) -> MimeTemplate:
    return MimeTemplate(sender=SENDER, subject=SUBJECT, html=html_part, text=text_part, lang="ru")


def _display_name(data: bytes) -> str:
    """The To: display name as RFC 2047 says to read it. The stdlib's newer parser puts a space
    between adjacent encoded words of a name (its own long names come back changed too), so
    encoded names are read with its RFC-conforming `decode_header`."""
    raw = BytesHeaderParser(policy=compat32).parsebytes(data)["To"]
    if "=?" not in raw.split("<")[0]:
        return str(_parse(data)["To"].addresses[0].display_name)
    return str(make_header(decode_header(raw.rsplit("<", 1)[0].strip())))


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_names_of_every_length_and_script_read_back_whole(script: str) -> None:
    template = _template(f"<p>{LINK}</p>\n", f"{LINK}\n")
    alphabet = SCRIPTS[script]
    for length in [*range(1, 90), 150, 299, 300]:
        name = (alphabet * (length // len(alphabet) + 1))[:length].strip()
        address = f"reader{length}@example.org"
        fast = _render_bytes(template, name=name, address=address)
        assert _parse(fast)["To"].addresses[0].addr_spec == address
        assert _display_name(fast) == name, (script, length)
        if len(name.encode()) <= 45 and "=?" not in name:
            # One encoded word at most: both stdlib parsers read it back, as from the slow path.
            # Longer names need several, and there the stdlib is no reference: its parser adds
            # spaces between encoded words and its folding drops spaces at the folds. It also
            # decodes a name that merely looks like an encoded word, which the fast path keeps.
            slow = _parse(_slow(name=name, address=address).as_bytes())
            assert (
                _parse(fast)["To"].addresses[0].display_name
                == slow["To"].addresses[0].display_name
                == name
            )


def test_header_lines_stay_short_and_ascii_whatever_the_name() -> None:
    for name in SCRIPTS.values():
        field, recipient, smtputf8 = to_header(name * 10, "reader@example.org")
        assert field.isascii() and recipient == "reader@example.org" and not smtputf8
        assert all(len(line) <= 78 - len("To: ") for line in field.split(b"\r\n")[:-1])
        assert b"\r" not in field.replace(b"\r\n", b"") and b"\n" not in field.replace(b"\r\n", b"")


def test_addresses_of_every_length_and_international_domains() -> None:
    template = _template(f"{LINK}\n", f"{LINK}\n")
    for length in range(1, 65):
        address = f"{'r' * length}@{'d' * (64 - length % 60)}.example.org"
        parsed = _render(template, name="Reader", address=address)
        assert parsed["To"].addresses[0].addr_spec == address
    field, recipient, smtputf8 = to_header(None, "reader@пример.рф")
    assert (field, recipient, smtputf8) == (
        b"reader@xn--e1afmkfd.xn--p1ai",
        "reader@xn--e1afmkfd.xn--p1ai",
        False,
    )
    field, recipient, smtputf8 = to_header("Иван", "иван@example.org")
    assert smtputf8 and recipient == "иван@example.org"
    assert field.endswith("<иван@example.org>".encode())


def _lines_around_links(rng: random.Random) -> str:
    """Lines of every length around 76, links at the start, middle and end, several per line,
    with the characters quoted-printable treats specially."""
    words = ["a", "Ж", "€", "🚀", " ", "=", ".", "\t", "x" * 30, "дайджест", "&amp;", "=3D"]
    lines = []
    for length in range(60, 170):
        line = "".join(rng.choice(words) for _ in range(length))[:length]
        cut = rng.randrange(len(line) + 1)
        lines.append(line[:cut] + LINK + line[cut:])
        lines.append(line)
    lines += [f"{LINK}{LINK}", f"{LINK} {LINK}", ".", f".{LINK}", "From here", f"end {LINK}  "]
    return "\n".join(lines) + "\n"


def test_bodies_decode_to_what_the_slow_path_puts_in() -> None:
    body = _lines_around_links(random.Random(5))
    template = _template(body, body)
    for url in (URL, "https://n.example/u/x", URL + "&z=" + "q" * 200):
        message = _render(template, name="Reader", address="reader@example.org", url=url)
        expected_html, expected_text = _personalize(body, body, url)
        html_part = message.get_body(preferencelist=("html",))
        text_part = message.get_body(preferencelist=("plain",))
        assert html_part is not None and text_part is not None
        assert html_part.get_content().replace("\r\n", "\n") == expected_html
        assert text_part.get_content().replace("\r\n", "\n") == expected_text


def test_every_body_line_is_quoted_printable_within_76_characters() -> None:
    body = _lines_around_links(random.Random(7))
    data = (
        _template(body, body)
        .render(
            to_address="reader@example.org",
            to_name=None,
            message_id="<x@example.org>",
            date="Mon, 23 Dec 2024 19:00:00 GMT",
            unsubscribe_url=URL,
            fill=lambda h, t: _personalize(h, t, URL),
        )
        .data
    )
    assert data.isascii()
    _head, _, body_bytes = data.partition(b"\r\n\r\n")
    for line in body_bytes.split(b"\r\n"):
        assert len(line) <= 76, line
    assert b"\n" not in body_bytes.replace(b"\r\n", b"")
    for part in body_bytes.split(b"--=_newsletter_")[1:-1]:
        encoded = part.partition(b"\r\n\r\n")[2]
        binascii.a2b_qp(encoded)  # decodes without error


def test_the_other_headers_match_the_slow_path() -> None:
    text = f"Hello\n{LINK}\n"
    html_part = f'<p>Hello <a href="{LINK}">x</a></p>\n'
    fast = _render(_template(html_part, text), name="Иван", address="reader@example.org")
    slow = _parse(_slow(name="Иван", address="reader@example.org").as_bytes())
    for name in (
        "From",
        "Subject",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Content-Language",
    ):
        assert str(fast[name]).strip() == str(slow[name]).strip(), name
    assert fast.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in fast.iter_parts()] == ["text/plain", "text/html"]
    assert fast["Message-ID"] == "<20241223.42.0123456789abcdef@vpk-news.example>"


def test_a_value_with_a_line_break_is_refused() -> None:
    template = _template(f"{LINK}\n", f"{LINK}\n")
    with pytest.raises(ValueError, match="line breaks"):
        template.render(
            to_address="reader@example.org",
            to_name=None,
            message_id="<x@example.org>",
            date="Mon, 23 Dec 2024 19:00:00 GMT",
            unsubscribe_url=URL,
            fill=lambda h, t: _personalize(h, t, "https://x.example/\nBcc: victim@example.org"),
        )


def _slow(*, name: str | None, address: str) -> EmailMessage:
    html_part, text_part = _personalize(f"<p>{LINK}</p>\n", f"{LINK}\n", URL)
    return compose(
        sender=SENDER,
        to_address=address,
        to_name=name,
        subject=SUBJECT,
        html=html_part,
        text=text_part,
        message_id="<x@vpk-news.example>",
        unsubscribe_url=URL,
        lang="ru",
    )


@pytest.mark.parametrize("width", [1, 30, 75, 76, 77, 150])
def test_the_wire_bytes_are_the_message_dot_stuffed(width: int) -> None:
    # Lines that start with "." in the fixed text, in the recipient's own link (a query string
    # of dots), and where a long line's soft break lands before a dot.
    dots = "." * width
    text_part = f".hidden\n{dots}\n{'x' * (width % 76)}.{dots} {LINK}\n..\n.\n{LINK}"
    html_part = f'<style>\n.mj-column {{ width: 100% }}\n</style>\n<a href="{LINK}">{dots}</a>'
    url = f"https://news.example.org/u/{dots}?{dots}"
    envelope = _template(html_part, text_part).render(
        to_address="reader@example.org",
        to_name=".Dot",
        message_id="<1@vpk-news.example>",
        date="Mon, 23 Dec 2024 19:00:00 GMT",
        unsubscribe_url=url,
        fill=lambda h, t: _personalize(h, t, url),
    )
    assert envelope.wire == dot_stuffed(envelope.data)
    assert b"\r\n.." in envelope.wire
