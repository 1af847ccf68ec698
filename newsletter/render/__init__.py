"""Render one reader's edition (Jinja2 → MJML → HTML, plus a plain-text part) once per variant
(language, sections, other-language headlines); each recipient then only costs a string
substitution of their unsubscribe and preferences links.

Never clipped: Gmail cuts a message's HTML above about 102 KB and hides the rest, footer and
unsubscribe link included. A copy must stay under `MAX_HTML_BYTES` with the longest personal
links this product makes; when a day is too big, the lowest top stories become headlines first
(only while even the edition without headlines is too big), then "Also today" keeps as many
headlines as fit and ends with a link to the rest on the archive page.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mjml import mjml2html

from newsletter.config import EditionSettings
from newsletter.content import EditionContent
from newsletter.errors import NewsletterError
from newsletter.render.labels import MORE_ON_SITE, MORE_STORIES, labels_for, plural
from newsletter.render.shape import ReaderEdition, fold, reader_edition
from newsletter.render.templates import mjml_environment, text_environment
from newsletter.render.views import (
    edition_date,
    sections,
    story_view,
    thread_view,
    web_link,
)

__all__ = [
    "MAX_HTML_BYTES",
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
PREHEADER_MAX = 200
MAX_HTML_BYTES = 100_000
# Personal links are measured at this length: several times what a signed link of this
# product is, so a longer base URL or key still fits.
LINK_ALLOWANCE = 400
QUOTED_THREADS = 2  # the busiest threads are quoted; the rest are a line each
DEFAULT_SHAPE = EditionSettings()


@dataclass(frozen=True)
class RenderedEdition:
    """One reader variant of an edition; `html` and `text` still hold the two placeholders.
    `preferences_page` is the site's generic preferences page, for recipients without a
    preferences link of their own. `size` is the HTML bytes of a copy with the longest personal
    links; `folded` top stories became headlines and `left_out` headlines went to the archive
    page to keep it under the limit. `empty`: nothing of the day is for this reader."""

    lang: str
    subject: str
    html: str
    text: str
    preferences_page: str
    size: int = 0
    folded: int = 0
    left_out: int = 0
    empty: bool = False

    def fitting(self) -> str:
        """What was folded to fit, in words, for `build` and `preview`."""
        if not self.folded and not self.left_out:
            return "nothing folded"
        return (
            f"{self.folded} top stories made headlines, "
            f"{self.left_out} headlines left to the archive page"
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def subject_line(edition: ReaderEdition, *, template: str = EditionSettings.subject) -> str:
    """The top headline in the reader's language and, when there are more stories, the tail
    (`template` takes {headline} and {more}: "and 7 more stories", "и ещё 7 новостей"). No
    site name (the From line shows it) and no date. At most SUBJECT_MAX characters: the headline
    is cut at a word boundary so the tail survives."""
    if edition.top:
        headline = _one_line(edition.top[0].article.title)
    elif edition.threads:
        headline = _one_line(edition.threads[0].title)
    else:
        headline = ""
    others = edition.stories - 1
    if others < 1:
        return textwrap.shorten(headline, SUBJECT_MAX, placeholder="…")
    more = plural(MORE_STORIES, others, lang=edition.lang)
    room = max(SUBJECT_MAX - len(template.format(headline="", more=more)), 1)
    return template.format(headline=textwrap.shorten(headline, room, placeholder="…"), more=more)


def _preheader(edition: ReaderEdition) -> str:
    """The next headlines, after the one in the subject: what inbox lists show beside it."""
    titles = [s.article.title for s in (*edition.top[1:], *edition.headlines)]
    titles += [t.title for t in edition.threads] if not titles else []
    return textwrap.shorten(
        " · ".join(_one_line(t) for t in titles), PREHEADER_MAX, placeholder="…"
    )


def _paragraphs(note: str | None) -> tuple[str, ...]:
    """An editor's note as the paragraphs they typed (one per non-empty line)."""
    return tuple(line.strip() for line in (note or "").splitlines() if line.strip())


def _subject(content: EditionContent, edition: ReaderEdition, template: str) -> str:
    """The editors' subject for this language when they wrote one, else the built one."""
    chosen = dict(content.subjects).get(edition.lang, "").strip()
    return _one_line(chosen)[:SUBJECT_MAX] if chosen else subject_line(edition, template=template)


def _site_page(base_url: str, path: str) -> str:
    page = web_link(f"{base_url.rstrip('/')}/{path}", base_url=base_url)
    if page is None:
        raise NewsletterError(f"base_url {base_url!r} is not an absolute http(s) URL")
    return page


def _context(
    edition: ReaderEdition,
    *,
    site_name: str,
    base_url: str,
    archive_url: str | None,
    subject: str,
    note: str | None = None,
) -> dict[str, Any]:
    lang = edition.lang
    t = labels_for(lang)
    return {
        "lang": lang,
        "t": t,
        "note": _paragraphs(note),
        "site_name": site_name,
        "site_url": web_link(base_url, base_url=base_url),
        "date": edition_date(edition.edition_date, lang=lang),
        "subject": subject,
        "preheader": _preheader(edition),
        "top": [
            story_view(s, t=t, lang=lang, base_url=base_url, blurb=True, image=i == 0)
            for i, s in enumerate(edition.top)
        ],
        "sections": sections(edition.headlines, t=t, lang=lang, base_url=base_url),
        "other_language": [
            story_view(s, t=t, lang=lang, base_url=base_url) for s in edition.other_language
        ],
        "more_on_site": (
            plural(MORE_ON_SITE, edition.left_out + edition.other_left_out, lang=lang)
            if edition.left_out + edition.other_left_out
            else None
        ),
        "threads": [
            thread_view(th, t=t, lang=lang, base_url=base_url, quote=i < QUOTED_THREADS)
            for i, th in enumerate(edition.threads)
        ],
        "archive_url": web_link(archive_url, base_url=base_url)
        or _site_page(base_url, f"archive/{edition.edition_date.isoformat()}?lang={lang}"),
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
    shape: EditionSettings = DEFAULT_SHAPE,
) -> str:
    """The MJML source `render_edition` compiles for a reader of `lang` (no sections chosen):
    what the golden files pin down, because a template change is easier to review there than in
    the compiled tables."""
    edition = reader_edition(content, lang=lang, top_stories=shape.top_stories)
    return _mjml(
        _context(
            edition,
            site_name=site_name,
            base_url=base_url,
            archive_url=archive_url,
            subject=_subject(content, edition, shape.subject),
            note=content.note,
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
    sections: tuple[str, ...] = (),
    other_languages: bool = False,
    shape: EditionSettings = DEFAULT_SHAPE,
    max_bytes: int | None = MAX_HTML_BYTES,
) -> RenderedEdition:
    """Render both parts for readers of `lang` who chose `sections` (none: everything) and want,
    or not, the other language's headlines. MJML is compiled here, once per variant, because it
    is by far the slowest step; links the reader can follow are only ever http(s). "View in
    browser" goes to `archive_url`, by default the edition's page in the site's archive.
    `max_bytes` None renders everything (the archive page itself)."""
    edition = reader_edition(
        content,
        lang=lang,
        sections=sections,
        other_languages=other_languages,
        top_stories=shape.top_stories,
    )
    subject = _subject(content, edition, shape.subject)
    preferences_page = _site_page(base_url, "preferences")

    def compile_html(version: ReaderEdition) -> tuple[dict[str, Any], str, int]:
        context = _context(
            version,
            site_name=site_name,
            base_url=base_url,
            archive_url=archive_url,
            subject=subject,
            note=content.note,
        )
        # fonts={}: the system font stack needs no web fonts, and mrml would otherwise add a
        # Google Fonts link (a third-party request on every open) for some font names.
        compiled = mjml2html(_mjml(context), fonts={})
        return context, compiled, _copy_size(compiled, base_url)

    context, compiled, size = _fit(edition, compile_html, max_bytes)
    text = text_environment().get_template("edition.txt.j2").render(context)
    return RenderedEdition(
        lang=lang,
        subject=subject,
        html=compiled,
        text=text,
        preferences_page=preferences_page,
        size=size,
        folded=context["folded"],
        left_out=context["left_out"],
        empty=edition.empty,
    )


_Compiled = tuple[dict[str, Any], str, int]


def _fit(
    edition: ReaderEdition,
    compile_html: Callable[[ReaderEdition], _Compiled],
    max_bytes: int | None,
) -> _Compiled:
    """The whole edition if it fits; else the most of it that does, giving up the lowest top
    stories (to headlines) only while even no headlines would not fit, then headlines from the
    lowest. A binary search: each try compiles the MJML, and a 200-article day needs 8 or so."""

    def attempt(top: int, headlines: int) -> _Compiled:
        version = fold(edition, top=top, headlines=headlines)
        context, compiled, size = compile_html(version)
        context |= {"folded": version.folded, "left_out": version.left_out}
        return context, compiled, size

    whole = attempt(len(edition.top), len(edition.headlines) + len(edition.other_language))
    if max_bytes is None or whole[2] < max_bytes:
        return whole
    top = len(edition.top)
    while top > 1 and attempt(top, 0)[2] >= max_bytes:
        top -= 1
    headlines = len(edition.top) - top + len(edition.headlines) + len(edition.other_language)
    low, high = 0, headlines  # attempt(top, low) is the best known to fit; high does not
    best = attempt(top, 0)
    while high - low > 1:
        middle = (low + high) // 2
        tried = attempt(top, middle)
        if tried[2] < max_bytes:
            low, best = middle, tried
        else:
            high = middle
    return best


def _copy_size(compiled: str, base_url: str) -> int:
    """HTML bytes of a recipient's copy with personal links of LINK_ALLOWANCE characters."""
    link = f"{base_url.rstrip('/')}/" + "x" * LINK_ALLOWANCE
    filled = compiled.replace(UNSUBSCRIBE_PLACEHOLDER, link).replace(PREFERENCES_PLACEHOLDER, link)
    return len(filled.encode())


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
