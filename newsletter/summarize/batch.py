"""Summaries of many articles in one process: JSON Lines in, JSON Lines out, for evaluation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from newsletter.errors import InputError, NewsletterError
from newsletter.languages import DEFAULT_LANGUAGE
from newsletter.summarize import summarize


def summarize_jsonl(
    lines: Iterable[str],
    *,
    source: str,
    method: str = "default",
    lang: str = DEFAULT_LANGUAGE,
    max_words: int | None = None,
    max_sentences: int | None = None,
    lead_weight: float | None = None,
) -> Iterator[dict[str, Any]]:
    """One `{"id", "summary"}` per input record
    `{"id", "lang", "title", "text", "max_words", "max_sentences"}`.

    `lang`, `title` and the budget may be left out of a record (the arguments are the defaults).
    A record that gives `max_words` or `max_sentences` sets its whole budget: the one it leaves
    out is no limit. `lead_weight` is passed on to `summarize`. Blank lines are skipped. A bad
    record raises `InputError` naming `source` and the line; the records before it have already
    been yielded.
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
        text = record.get("text")
        if not isinstance(text, str):
            raise InputError(source, where, '"text" must be a string')
        if "max_words" in record or "max_sentences" in record:
            words = _budget(record, "max_words", source, where)
            sentences = _budget(record, "max_sentences", source, where)
        else:
            words, sentences = max_words, max_sentences
        title = record.get("title")
        try:
            summary = summarize(
                text,
                lang=str(record.get("lang") or lang),
                max_words=words,
                max_sentences=sentences,
                method=method,
                title=title if isinstance(title, str) and title else None,
                lead_weight=lead_weight,
            )
        except NewsletterError as exc:
            raise InputError(source, where, str(exc)) from exc
        yield {"id": record.get("id"), "summary": list(summary)}


def _budget(record: dict[str, Any], key: str, source: str, where: str) -> int | None:
    """The record's `key` as a whole number >= 0; None when absent or null (no limit)."""
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(source, where, f'"{key}" must be a whole number >= 0')
    return value
