"""Where the templates live and the edition's two Jinja environments (escaped MJML, raw plain
text)."""

from __future__ import annotations

import textwrap
from functools import cache
from importlib.resources import files
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from newsletter.errors import NewsletterError
from newsletter.templating import make_environment

TEXT_WIDTH = 72


def templates_dir() -> Path:
    """The templates directory: inside the package when installed from a wheel (the build copies
    `templates/` to `newsletter/templates`), else `templates/` at the root of a source checkout."""
    packaged = files("newsletter") / "templates"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[2] / "templates"
    if source.is_dir():
        return source
    raise NewsletterError(
        f"templates not found in {packaged} or {source}; reinstall the newsletter package"
    )


def wrap(text: str, indent: str = "", first: str | None = None) -> str:
    """Fill `text` to TEXT_WIDTH columns; URLs and other long words are never split, so a long
    link ends up alone on its line and stays clickable."""
    return textwrap.fill(
        text,
        TEXT_WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


@cache
def mjml_environment() -> Environment:
    """Autoescaping is set explicitly: `select_autoescape` only knows `.html`-like names, and
    every title and summary must reach the MJML compiler as text, never as markup."""
    return make_environment(FileSystemLoader(templates_dir()), autoescape=True)


@cache
def text_environment() -> Environment:
    """No escaping: the plain part shows titles exactly as written."""
    env = make_environment(FileSystemLoader(templates_dir()), autoescape=False)
    env.filters["wrap"] = wrap
    return env
