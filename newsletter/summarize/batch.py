"""Summaries of many articles in one process: JSON Lines in, JSON Lines out, for evaluation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from newsletter.errors import InputError, NewsletterError
from newsletter.summarize import summarize


def summarize_jsonl(
    lines: Iterable[str],
    *,
    source: str,
    method: str = "default",
    lang: str = "en",
    max_sentences: int = 3,
) -> Iterator[dict[str, Any]]:
    """One `{"id", "summary"}` per input record `{"id", "lang", "title", "text", "max_sentences"}`.

    `lang`, `title` and `max_sentences` may be left out of a record (the arguments are the
    defaults); blank lines are skipped. A bad record raises `InputError` naming `source` and the
    line; the records before it have already been yielded.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(source, where, f"not JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise InputError(source, where, "expected a JSON object")
        text, budget = record.get("text"), record.get("max_sentences", max_sentences)
        if not isinstance(text, str):
            raise InputError(source, where, '"text" must be a string')
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
            raise InputError(source, where, '"max_sentences" must be a whole number >= 0')
        title = record.get("title")
        try:
            summary = summarize(
                text,
                lang=str(record.get("lang") or lang),
                max_sentences=budget,
                method=method,
                title=title if isinstance(title, str) and title else None,
            )
        except NewsletterError as exc:
            raise InputError(source, where, str(exc)) from exc
        yield {"id": record.get("id"), "summary": list(summary)}
