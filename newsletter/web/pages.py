"""The Jinja2 environments of the web pages and the confirmation email, from the templates in
this package (they ship in the wheel with it)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader

from newsletter.templating import make_environment


@cache
def _environment(autoescape: bool) -> Environment:
    # Autoescaping on for every HTML template whatever its name: all that the pages show of
    # the request (an address typed in a form) must come out as text.
    return make_environment(PackageLoader("newsletter.web", "templates"), autoescape=autoescape)


def render(name: str, *, autoescape: bool = True, **context: Any) -> str:
    return _environment(autoescape).get_template(name).render(**context)
