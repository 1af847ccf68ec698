"""The `summarize` command: one text to its summary, or JSON Lines to summaries."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.common import LANG_CHOICES, state
from newsletter.errors import InputError
from newsletter.languages import DEFAULT_LANGUAGE

# The names of newsletter.summarize.METHODS, for the help: importing the summarizers would cost
# every command's start-up (tests/test_startup.py holds the two lists equal).
METHOD_NAMES = ("centroid", "default", "lead", "textrank")


def register(app: typer.Typer) -> None:
    app.command(name="summarize")(summarize_command)


def summarize_command(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(help="Text file to summarize, or - for standard input.", metavar="FILE|-"),
    ] = "-",
    lang: Annotated[
        str, typer.Option("--lang", help=f"Language of the text: {LANG_CHOICES}.")
    ] = DEFAULT_LANGUAGE,
    words: Annotated[
        int | None,
        typer.Option(
            "--words",
            min=0,
            help="At most this many words (whitespace-separated tokens); default: the "
            "summary.words setting when --sentences is not given either.",
        ),
    ] = None,
    sentences: Annotated[
        int | None, typer.Option("--sentences", min=0, help="At most this many sentences.")
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help=f"One of: {', '.join(METHOD_NAMES)}.")
    ] = "default",
    jsonl: Annotated[
        bool,
        typer.Option(
            "--jsonl",
            help='Read JSON Lines {"id", "lang", "title", "text", "max_words", "max_sentences"} '
            'and write {"id", "summary"} per line; --lang, --words and --sentences are the '
            "defaults.",
        ),
    ] = False,
) -> None:
    """Print an extractive summary: sentences of the text, verbatim, in order, one per line."""
    from newsletter.summarize import summarize
    from newsletter.summarize.batch import summarize_jsonl

    name = "<stdin>" if source == "-" else source
    settings = state(ctx).settings.summary
    if words is None and sentences is None:
        words = settings.words
    if jsonl:
        for result in summarize_jsonl(
            _lines(source),
            source=name,
            method=method,
            lang=lang,
            max_words=words,
            max_sentences=sentences,
            lead_weight=settings.lead_weight,
        ):
            typer.echo(json.dumps(result, ensure_ascii=False))
        return
    text = "".join(_lines(source))
    for sentence in summarize(
        text,
        lang=lang,
        max_words=words,
        max_sentences=sentences,
        method=method,
        lead_weight=settings.lead_weight,
    ):
        typer.echo(sentence)


def _lines(source: str) -> Iterator[str]:
    """The lines of the file, or of standard input for "-", read as UTF-8 as they come."""
    if source == "-":
        yield from sys.stdin
        return
    try:
        with Path(source).open(encoding="utf-8") as stream:
            yield from stream
    except OSError as exc:
        raise InputError(source, "cannot read", exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(source, f"byte {exc.start}", "not UTF-8 text") from exc
