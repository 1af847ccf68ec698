"""Render an edition once per language (Jinja2 → MJML → HTML, plus a plain-text part); each
recipient then only costs a string substitution of their unsubscribe and preferences links."""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from typing import Any

from mjml import mjml2html

from newsletter.content import EditionContent
from newsletter.errors import NewsletterError
from newsletter.render.labels import labels_for
from newsletter.render.templates import mjml_environment, text_environment
from newsletter.render.views import edition_date, sections, thread_view, web_link

__all__ = [
    "PREFERENCES_PLACEHOLDER",
    "UNSUBSCRIBE_PLACEHOLDER",
    "RenderedEdition",
    "edition_mjml",
    "personalize",
    "render_edition",
    "subject_line",
]

# Plain word characters only: nothing that HTML escaping, URL handling or MJML would rewrite.
UNSUBSCRIBE_PLACEHOLDER = "__NEWSLETTER_UNSUBSCRIBE_URL__"
PREFERENCES_PLACEHOLDER = "__NEWSLETTER_PREFERENCES_URL__"
SUBJECT_MAX = 150


@dataclass(frozen=True)
class RenderedEdition:
    """One edition in one language; `html` and `text` still hold the two placeholders.
    `preferences_page` is the site's generic preferences page, for recipients without a
    preferences link of their own."""

    lang: str
    subject: str
    html: str
    text: str
    preferences_page: str


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


def _site_page(base_url: str, path: str) -> str:
    page = web_link(f"{base_url.rstrip('/')}/{path}", base_url=base_url)
    if page is None:
        raise NewsletterError(f"base_url {base_url!r} is not an absolute http(s) URL")
    return page


def _context(
    content: EditionContent,
    *,
    lang: str,
    site_name: str,
    base_url: str,
    archive_url: str | None,
) -> dict[str, Any]:
    t = labels_for(lang)
    return {
        "lang": lang,
        "t": t,
        "site_name": site_name,
        "site_url": web_link(base_url, base_url=base_url),
        "date": edition_date(content.edition_date, lang=lang),
        "subject": subject_line(content, lang=lang, site_name=site_name),
        "preheader": _preheader(content),
        "sections": sections(content.articles, t=t, lang=lang, base_url=base_url),
        "threads": [thread_view(th, t=t, lang=lang, base_url=base_url) for th in content.threads],
        "archive_url": web_link(archive_url, base_url=base_url)
        or _site_page(base_url, f"archive/{content.edition_date.isoformat()}?lang={lang}"),
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
        "preferences_url": PREFERENCES_PLACEHOLDER,
    }


def edition_mjml(
    content: EditionContent,
    *,
    lang: str,
    site_name: str,
    base_url: str,
    archive_url: str | None = None,
) -> str:
    """The MJML source `render_edition` compiles: what the golden files pin down, because a
    template change is easier to review there than in the compiled tables."""
    return _mjml(
        _context(
            content, lang=lang, site_name=site_name, base_url=base_url, archive_url=archive_url
        )
    )


def _mjml(context: dict[str, Any]) -> str:
    return mjml_environment().get_template("edition.mjml.j2").render(context)


def render_edition(
    content: EditionContent,
    *,
    lang: str,
    site_name: str,
    base_url: str,
    archive_url: str | None = None,
) -> RenderedEdition:
    """Render both parts for readers of `lang`. MJML is compiled here, once, because it is by
    far the slowest step; links the reader can follow are only ever http(s). "View in browser"
    goes to `archive_url`, by default the edition's page in the site's archive."""
    context = _context(
        content, lang=lang, site_name=site_name, base_url=base_url, archive_url=archive_url
    )
    mjml = _mjml(context)
    # fonts={}: the system font stack needs no web fonts, and mrml would otherwise add a Google
    # Fonts link (a third-party request on every open) for some font names.
    compiled = mjml2html(mjml, fonts={})
    text = text_environment().get_template("edition.txt.j2").render(context)
    return RenderedEdition(
        lang=lang,
        subject=context["subject"],
        html=compiled,
        text=text,
        preferences_page=_site_page(base_url, "preferences"),
    )


def personalize(
    rendered: RenderedEdition, *, unsubscribe_url: str, preferences_url: str | None = None
) -> tuple[str, str]:
    """(html, text) for one recipient: each URL goes in as is in the text part and HTML-escaped
    (`&` → `&amp;`) in the HTML part, where it sits in an `href` attribute. Without a
    `preferences_url` of the recipient's own, the link goes to the site's generic page."""
    preferences = preferences_url or rendered.preferences_page
    html_part, text_part = rendered.html, rendered.text
    for placeholder, url in (
        (UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url),
        (PREFERENCES_PLACEHOLDER, preferences),
    ):
        html_part = html_part.replace(placeholder, html.escape(url, quote=True))
        text_part = text_part.replace(placeholder, url)
    return html_part, text_part
