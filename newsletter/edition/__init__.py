"""The edition stage: a day's articles and discussions picked, ranked, summarized and stored as
an edition (`build`), with the editors' stored choices (`choices`) applied on the way."""

from newsletter.edition.build import (
    BuildResult,
    LanguageSize,
    build,
    content_of,
    ingest,
    load_content,
    missing_edition,
    nothing_published,
    require_edition,
)

__all__ = [
    "BuildResult",
    "LanguageSize",
    "build",
    "content_of",
    "ingest",
    "load_content",
    "missing_edition",
    "nothing_published",
    "require_edition",
]
