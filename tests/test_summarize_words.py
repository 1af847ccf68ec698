"""Word budgets: whole sentences within `max_words`, from the library, the CLI, the settings and
the edition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

import newsletter
from newsletter import edition
from newsletter.cli import app
from newsletter.config import Settings, SummarySettings, load_settings
from newsletter.errors import ConfigError
from newsletter.store.db import session_scope
from newsletter.store.models import EditionItem, ItemKind
from newsletter.summarize import DEFAULT_WORDS, METHODS, split_sentences, summarize

SAMPLES = Path(newsletter.__file__).parent / "sample_content"
ARTICLES = [
    json.loads(line) for line in (SAMPLES / "articles.jsonl").read_text("utf-8").split("\n") if line
]

# 9, 8 (a spaced dash counts), 10 and 7 words.
ARTICLE = (
    "The navy has ordered four new frigates this year. "
    "The frigates — built locally — replace older ships. "
    "The first frigate of the new class is due in 2027. "
    "Deliveries to the fleet start next spring."
)


def words(summary: tuple[str, ...]) -> int:
    return len(" ".join(summary).split())


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("budget", [7, 8, 16, 17, 20, 34, 55, 200])
def test_a_word_budget_is_never_exceeded_and_sentences_stay_whole(method: str, budget: int) -> None:
    summary = summarize(ARTICLE, lang="en", max_words=budget, method=method)
    assert summary, "something fits every budget here"
    assert words(summary) <= budget
    sentences = split_sentences(ARTICLE, "en")
    positions = [sentences.index(sentence) for sentence in summary]
    assert positions == sorted(positions)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_nothing_fits_gives_an_empty_summary_not_a_cut_sentence(method: str) -> None:
    assert summarize(ARTICLE, lang="en", max_words=6, method=method) == ()
    assert summarize(ARTICLE, lang="en", max_words=0, method=method) == ()


def test_both_limits_apply_and_a_lone_word_budget_has_no_sentence_limit() -> None:
    assert len(summarize(ARTICLE, lang="en", max_words=200)) == 4
    assert len(summarize(ARTICLE, lang="en", max_words=200, max_sentences=2)) == 2
    assert words(summarize(ARTICLE, lang="en", max_words=17, max_sentences=3)) <= 17


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: f"{a['lang']}-{a['url'][-12:]}")
def test_sample_articles_fit_the_default_budget_in_both_languages(
    article: dict[str, str],
) -> None:
    summary = summarize(article["body"], lang=article["lang"], title=article["title"])
    assert summary, "the edition shows a blurb for every sample article"
    assert words(summary) <= DEFAULT_WORDS
    assert summary == summarize(
        article["body"], lang=article["lang"], title=article["title"], max_words=DEFAULT_WORDS
    )


def test_cli_words_option_and_jsonl_max_words(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["summarize", "-", "--words", "17"], input=ARTICLE)
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines and len(" ".join(lines).split()) <= 17
    records = [
        {"id": "w", "text": ARTICLE, "max_words": 10},  # no sentence limit with it
        {"id": "both", "text": ARTICLE, "max_words": 100, "max_sentences": 1},
        {"id": "cli", "text": ARTICLE},  # the command line's budget
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in records)
    done = runner.invoke(app, ["summarize", "--jsonl", "--sentences", "3"], input=stdin)
    assert done.exit_code == 0, done.output
    out = {o["id"]: o["summary"] for o in map(json.loads, done.output.splitlines())}
    assert len(" ".join(out["w"]).split()) <= 10 and out["w"]
    assert len(out["both"]) == 1
    assert len(out["cli"]) == 3


def test_cli_budget_defaults_to_the_summary_words_setting(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text("[summary]\nwords = 17\n", "utf-8")
    done = CliRunner().invoke(app, ["--config", str(config), "summarize", "-"], input=ARTICLE)
    assert done.exit_code == 0, done.output
    assert 0 < len(done.output.split()) <= 17


def test_a_bad_max_words_is_one_error_line_after_the_good_records() -> None:
    stdin = (
        '{"id": 1, "text": "The navy ordered four frigates."}\n'
        '{"id": 2, "text": "x", "max_words": -1}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "newsletter", "summarize", "--jsonl"],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"id": 1, "summary": ["The navy ordered four frigates."]}
    assert done.stderr == 'Error: <stdin>: line 2: "max_words" must be a whole number >= 0\n'


def test_summary_settings_from_toml_and_environment(tmp_path: Path) -> None:
    assert load_settings(environ={}).summary == SummarySettings()
    assert SummarySettings().words == DEFAULT_WORDS
    config = tmp_path / "newsletter.toml"
    config.write_text("[summary]\nwords = 40\nlead_weight = 0.5\n", "utf-8")
    from_file = load_settings(config).summary
    assert (from_file.words, from_file.lead_weight) == (40, 0.5)
    env = {
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_SUMMARY_WORDS": "60",
        "NEWSLETTER_SUMMARY_LEAD_WEIGHT": "2",
    }
    assert load_settings(environ=env).summary == SummarySettings(words=60, lead_weight=2.0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSLETTER_SUMMARY_WORDS", "fifty", "NEWSLETTER_SUMMARY_WORDS: expected a whole number"),
        ("NEWSLETTER_SUMMARY_WORDS", "0", "NEWSLETTER_SUMMARY_WORDS: must be a whole number of"),
        ("NEWSLETTER_SUMMARY_LEAD_WEIGHT", "lots", "NEWSLETTER_SUMMARY_LEAD_WEIGHT: expected a"),
        ("NEWSLETTER_SUMMARY_LEAD_WEIGHT", "-1", "NEWSLETTER_SUMMARY_LEAD_WEIGHT: must be between"),
    ],
)
def test_bad_summary_settings_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={name: value})


def test_a_bad_summary_setting_is_one_error_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "newsletter", "summarize", "-"],
        input=ARTICLE,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NEWSLETTER_SUMMARY_WORDS": "many"},
    )
    assert done.returncode != 0
    assert done.stderr.startswith("Error: NEWSLETTER_SUMMARY_WORDS: expected a whole number")
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("budget", [20, 55])
def test_the_edition_blurbs_keep_to_summary_words(
    engine: Engine, settings: Settings, budget: int
) -> None:
    settings = replace(settings, summary=SummarySettings(words=budget))
    edition.ingest(engine=engine, settings=settings, paths=[SAMPLES / "articles.jsonl"])
    edition.build(engine=engine, settings=settings, day=date(2024, 12, 23))
    with session_scope(engine) as session:
        items = session.scalars(select(EditionItem).where(EditionItem.kind == ItemKind.ARTICLE))
        blurbs = [tuple(item.summary) for item in items]
    assert len(blurbs) == 7
    assert all(words(blurb) <= budget for blurb in blurbs)
    assert sum(map(bool, blurbs)) >= 6, "most articles have a sentence that fits"
