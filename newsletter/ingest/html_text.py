"""HTML remnants to plain text with paragraph breaks, so summaries never see markup or entities."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Tags that end one paragraph and start another; inline tags (b, a, span...) just vanish.
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure"}
    | {"footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol"}
    | {"p", "pre", "section", "table", "td", "th", "tr", "ul"}
)
# Their text is code or metadata, never prose.
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_LINE_BREAK = "\n"


class _TextCollector(HTMLParser):
    """Collects paragraphs; `<br>` becomes a line break inside the paragraph."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._fragments: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self._fragments.append(_LINE_BREAK)
        elif tag in _BLOCK_TAGS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        # Plain-text bodies mark paragraphs with blank lines; other newlines are soft wraps.
        first, *rest = _BLANK_LINE.split(data)
        self._fragments.append(first.replace("\n", " "))
        for piece in rest:
            self.flush()
            self._fragments.append(piece.replace("\n", " "))

    def flush(self) -> None:
        lines = (" ".join(line.split()) for line in "".join(self._fragments).split(_LINE_BREAK))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            self.paragraphs.append(paragraph)
        self._fragments = []


def html_to_text(markup: str) -> str:
    """Strip tags and unescape entities, keeping one blank line between paragraphs."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    collector.flush()
    return "\n\n".join(collector.paragraphs)


def plain_to_text(text: str) -> str:
    """Normalise plain text the same way, without reading `<` as the start of a tag."""
    paragraphs = (" ".join(piece.split()) for piece in _BLANK_LINE.split(text))
    return "\n\n".join(p for p in paragraphs if p)
