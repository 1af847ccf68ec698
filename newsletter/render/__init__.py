"""Render an edition once per language (Jinja2 → MJML → HTML, plus a plain-text part); each
recipient then only costs a string substitution of their unsubscribe link."""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from typing import Any

from mjml import mjml2html

from newsletter.content import EditionContent
from newsletter.render.labels import labels_for
from newsletter.render.templates import mjml_environment, text_environment
from newsletter.render.views import article_view, edition_date, thread_view, web_link

__all__ = [
    "UNSUBSCRIBE_PLACEHOLDER",
    "RenderedEdition",
    "personalize",
    "render_edition",
    "subject_line",
]

# Plain word characters only: nothing that HTML escaping, URL handling or MJML would rewrite.
UNSUBSCRIBE_PLACEHOLDER = "__NEWSLETTER_UNSUBSCRIBE_URL__"
SUBJECT_MAX = 150


@dataclass(frozen=True)
class RenderedEdition:
    """One edition in one language; `html` and `text` still hold UNSUBSCRIBE_PLACEHOLDER."""

    lang: str
    subject: str
    html: str
    text: str


def _one_line(text: str) -> str:
    return " ".join(text.split())


def subject_line(content: EditionContent, *, lang: str, site_name: str) -> str:
    """`VPK News — daily digest, 23 December 2024: <headline>`, one line, at most SUBJECT_MAX
    characters: the headline is cut at a word boundary so the date always survives."""
    prefix = labels_for(lang)["subject"].format(
        site=_one_line(site_name), date=edition_date(content.edition_date, lang=lang)
    )
    headline = _one_line(content.headline)
    if not headline:
        return prefix
    room = max(SUBJECT_MAX - len(prefix) - 2, 1)
    return f"{prefix}: {textwrap.shorten(headline, room, placeholder='…')}"


def _preheader(content: EditionContent) -> str:
    """The first article's first sentence: what inbox lists show next to the subject."""
    for article in content.articles:
        for sentence in article.summary:
            if sentence.strip():
                return _one_line(sentence)
    return _one_line(content.headline)


def render_edition(
    content: EditionContent,
    *,
    lang: str,
    site_name: str,
    base_url: str,
    archive_url: str | None = None,
) -> RenderedEdition:
    """Render both parts for readers of `lang`. MJML is compiled here, once, because it is by
    far the slowest step; links the reader can follow are only ever http(s)."""
    t = labels_for(lang)
    subject = subject_line(content, lang=lang, site_name=site_name)
    context: dict[str, Any] = {
        "lang": lang,
        "t": t,
        "site_name": site_name,
        "site_url": web_link(base_url, base_url=base_url),
        "date": edition_date(content.edition_date, lang=lang),
        "subject": subject,
        "preheader": _preheader(content),
        "articles": [article_view(a, t=t, base_url=base_url) for a in content.articles],
        "threads": [thread_view(th, t=t, lang=lang, base_url=base_url) for th in content.threads],
        "archive_url": web_link(archive_url, base_url=base_url),
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
    }
    mjml = mjml_environment().get_template("edition.mjml.j2").render(context)
    # fonts={}: the system font stack needs no web fonts, and mrml would otherwise add a Google
    # Fonts link (a third-party request on every open) because the stack names Roboto.
    compiled = mjml2html(mjml, fonts={})
    text = text_environment().get_template("edition.txt.j2").render(context)
    return RenderedEdition(lang=lang, subject=subject, html=compiled, text=text)


def personalize(rendered: RenderedEdition, *, unsubscribe_url: str) -> tuple[str, str]:
    """(html, text) for one recipient: the URL goes in as is in the text part and HTML-escaped
    (`&` → `&amp;`) in the HTML part, where it sits in an `href` attribute."""
    escaped = html.escape(unsubscribe_url, quote=True)
    return (
        rendered.html.replace(UNSUBSCRIBE_PLACEHOLDER, escaped),
        rendered.text.replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url),
    )
