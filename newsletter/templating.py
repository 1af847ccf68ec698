"""The one way this package makes a Jinja2 environment, for the edition (`newsletter.render`) and
for the web pages and confirmation email (`newsletter.web`).

Each caller passes where its templates are (the edition's come from `templates/`, copied into
the wheel; the web's ship inside `newsletter.web`) and whether to escape; the rest is the same
for all of them, and written here once.
"""

from __future__ import annotations

from jinja2 import BaseLoader, Environment, StrictUndefined


def make_environment(loader: BaseLoader, *, autoescape: bool) -> Environment:
    """Autoescaping is set by the caller, never guessed from the template's name
    (`select_autoescape` knows only `.html`-like names): escaping is on wherever text from
    articles or from a request reaches markup, and off for plain-text parts.

    StrictUndefined: a misspelt variable or label fails the render instead of mailing or showing
    a blank. Block tags leave no blank lines behind, and a template's final newline is kept."""
    return Environment(
        loader=loader,
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
