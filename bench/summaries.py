"""Summary quality and speed at equal length: our methods against Lead and sumy, on every dev set.

    .venv/bin/python bench/summaries.py [--data DIR] [--limit N] [--sets bbc,cnndm] [--lead-weights]

For each `*_dev.jsonl` under DIR (default `shared/data/summaries` beside the clone) it runs every
method under the same budgets:

- word budgets, the unit of the edition's blurbs: each article's own reference word count, and
  the fixed blurb budget `summary.words`. Lead-W takes sentences in document order, each while it
  still fits; sumy's LexRank, TextRank, LSA and Luhn rank sentences with their own rating and the
  best are taken greedily while they fit, then put in document order; ours keep to `max_words`.
- sentence budgets, for comparison with earlier runs: the reference's sentence count and 3 (a set
  of one-sentence references: 1 and 3), with Lead-N the first N sentences.

A word is a whitespace-separated token, `len(text.split())`. sumy is fed our sentence splitting
(its NLTK tokenizers need data that cannot be downloaded here), with a plain word tokenizer,
sumy's stemmer and stop words. Lead sentences are our splitting's, boilerplate included.

Printed per set and budget: ROUGE-1/2/L F1 (rouge-score 0.1.2, Porter stemmer; Russian with a
Cyrillic tokenizer and Snowball stems), mean words, the share of summaries holding a caption or
boilerplate line, and for the default the paired bootstrap 95% confidence interval (1,000
resamples of the articles, fixed seed) of its difference to Lead and to the best sumy method on
each metric. Then the issue's targets, each MET or MISSED, and the speed of the default against
sumy TextRank, both from raw text to summary at the blurb budget, in alternating rounds.
`--lead-weights` adds the default's figures and targets at other values of
`summary.lead_weight` (about twice the run time).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import snowballstemmer
from numpy.typing import NDArray
from rouge_score import rouge_scorer
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

from newsletter.config import SummarySettings
from newsletter.summarize import METHODS, clean_text, split_sentences, summarize
from newsletter.summarize.terms import clear_cache
from newsletter.summarize.text import is_boilerplate

# `shared/` sits beside the clone, here and in CI.
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "summaries"
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
METRICS = ("R1", "R2", "RL")
SUMY_LANGUAGE = {"en": "english", "ru": "russian"}
DEFAULT = "default"
LEAD = "Lead"
SUMY = ("sumy-lexrank", "sumy-textrank", "sumy-lsa", "sumy-luhn")
BASELINES = (LEAD, *SUMY)
SPEED_BASELINE = "sumy-textrank"
SPEED_TARGET = 5.0
SPEED_ROUNDS = 5
RESAMPLES = 1000
SEED = 13
BLURB_WORDS = SummarySettings().words
# The house-style setting `summary.lead_weight`: the default's quality targets at a few values.
LEAD_WEIGHTS = (0.0, 0.15, SummarySettings().lead_weight, 0.6, 1.0)

# A caption or credit that lost its line break: a line with no final full stop, question or
# exclamation mark (closing quotes and brackets may follow), as DailyMail image captions are.
_FINAL_STOP = re.compile(r"[.!?…][\"'”’»)\]]*$")


def is_caption_or_boilerplate(sentence: str) -> bool:
    """How the bench counts a summary line a reader should not see: site furniture (the
    summarizer's own boilerplate test) or a line without a final full stop."""
    return is_boilerplate(sentence) or not _FINAL_STOP.search(sentence.strip())


@dataclass(frozen=True)
class Budget:
    label: str
    words: Callable[[dict[str, Any]], int | None]
    sentences: Callable[[dict[str, Any]], int | None]

    @property
    def in_words(self) -> bool:
        return self.label.endswith("words")


def budgets_for(articles: Sequence[dict[str, Any]]) -> list[Budget]:
    """Reference words and the blurb budget first (the targets), then the sentence budgets."""
    one = all(int(a["ref_sentences"]) == 1 for a in articles)
    return [
        Budget("reference words", lambda a: len(a["reference"].split()), lambda a: None),
        Budget(f"{BLURB_WORDS} words", lambda a: BLURB_WORDS, lambda a: None),
        Budget(
            "1 sentence" if one else "reference sentences",
            lambda a: None,
            lambda a: max(1, int(a["ref_sentences"])),
        ),
        Budget("3 sentences", lambda a: None, lambda a: 3),
    ]


Run = Callable[[dict[str, Any], int | None, int | None], tuple[str, ...]]


class _WordTokenizer:
    """sumy's tokenizer interface without NLTK data: runs of letters and digits."""

    _WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(self._WORD.findall(sentence))


class _RussianTokenizer:
    """rouge-score's tokenizer interface for Russian: keeps Cyrillic, Snowball stems per script."""

    _WORD = re.compile(r"[0-9a-zа-я]+")

    def __init__(self) -> None:
        self._ru = snowballstemmer.stemmer("russian")
        self._en = snowballstemmer.stemmer("english")

    def tokenize(self, text: str) -> list[str]:
        words = self._WORD.findall(text.lower().replace("ё", "е"))
        return [(self._ru if "а" <= word[0] <= "я" else self._en).stemWord(word) for word in words]


@cache
def scorer_for(lang: str) -> rouge_scorer.RougeScorer:
    if lang == "ru":
        return rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=_RussianTokenizer())
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def sentences_of(article: dict[str, Any]) -> list[str]:
    return split_sentences(clean_text(article["text"]), article["lang"])


def fitting(sentences: Sequence[str], words: int) -> list[str]:
    """`sentences` in the order given, each taken while it still fits `words` in all."""
    taken: list[str] = []
    left = words
    for sentence in sentences:
        length = len(sentence.split())
        if length <= left:
            taken.append(sentence)
            left -= length
    return taken


def lead(article: dict[str, Any], words: int | None, count: int | None) -> tuple[str, ...]:
    sentences = sentences_of(article)
    return tuple(sentences[:count] if words is None else fitting(sentences, words))


def sumy_method(cls: type[Any]) -> Run:
    tokenizer = _WordTokenizer()
    prepared: dict[str, Any] = {}

    def run(article: dict[str, Any], words: int | None, count: int | None) -> tuple[str, ...]:
        lang = SUMY_LANGUAGE[article["lang"]]
        if lang not in prepared:
            summarizer = cls(Stemmer(lang))
            summarizer.stop_words = get_stop_words(lang)
            prepared[lang] = summarizer
        document = ObjectDocumentModel(
            [Paragraph([Sentence(s, tokenizer) for s in sentences_of(article)])]
        )
        budget = count if words is None else _Greedy(words)
        return tuple(str(s) for s in prepared[lang](document, budget))

    return run


class _Greedy:
    """sumy's `sentences_count` as a callable: given the sentence infos best first, keep each
    while it still fits the word budget (sumy then puts them back in document order)."""

    def __init__(self, words: int) -> None:
        self.words = words

    def __call__(self, infos: Sequence[Any]) -> list[Any]:
        taken: list[Any] = []
        left = self.words
        for info in infos:
            length = len(str(info.sentence).split())
            if length <= left:
                taken.append(info)
                left -= length
        return taken


def our_method(name: str, lead_weight: float | None = None) -> Run:
    def run(article: dict[str, Any], words: int | None, count: int | None) -> tuple[str, ...]:
        return summarize(
            article["text"],
            lang=article["lang"],
            max_words=words,
            max_sentences=count,
            method=name,
            title=article.get("title") or None,
            lead_weight=lead_weight,
        )

    return run


def methods() -> dict[str, Run]:
    ours = {
        name: our_method(name)
        for name in sorted(METHODS)
        if METHODS[name] is not METHODS[DEFAULT] or name == DEFAULT
    }
    return {
        **ours,
        LEAD: lead,
        "sumy-lexrank": sumy_method(LexRankSummarizer),
        "sumy-textrank": sumy_method(TextRankSummarizer),
        "sumy-lsa": sumy_method(LsaSummarizer),
        "sumy-luhn": sumy_method(LuhnSummarizer),
    }


@dataclass(frozen=True)
class Result:
    scores: NDArray[np.float64]  # articles x (R1, R2, RL), F1 in percent
    words: float
    furniture: float  # share of summaries holding a caption or boilerplate line, in percent
    per_second: float

    @property
    def rouge(self) -> NDArray[np.float64]:
        return np.asarray(self.scores.mean(axis=0))


def evaluate(articles: Sequence[dict[str, Any]], run: Run, budget: Budget) -> Result:
    start = time.perf_counter()
    summaries = [run(a, budget.words(a), budget.sentences(a)) for a in articles]
    elapsed = time.perf_counter() - start
    scores = np.empty((len(articles), 3))
    words = furniture = 0
    for row, (article, summary) in enumerate(zip(articles, summaries, strict=True)):
        scored = scorer_for(article["lang"]).score(article["reference"], " ".join(summary))
        scores[row] = [100 * scored[kind].fmeasure for kind in ROUGE_TYPES]
        words += len(" ".join(summary).split())
        furniture += any(map(is_caption_or_boilerplate, summary))
    n = len(articles)
    return Result(scores, words / n, 100 * furniture / n, n / elapsed)


@dataclass(frozen=True)
class Interval:
    """Mean and paired bootstrap 95% CI of ours minus a baseline, per metric."""

    mean: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]

    def cell(self, metric: int) -> str:
        return f"{self.mean[metric]:+.2f} [{self.low[metric]:+.2f}, {self.high[metric]:+.2f}]"


def paired_interval(ours: Result, other: Result) -> Interval:
    """Resample articles with replacement (the same draws for every comparison: fixed seed)."""
    diff = ours.scores - other.scores
    draws = np.random.default_rng(SEED).integers(0, len(diff), size=(RESAMPLES, len(diff)))
    means = diff[draws].mean(axis=1)
    return Interval(
        diff.mean(axis=0), np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)
    )


def best_sumy(results: dict[str, Result]) -> str:
    return max(SUMY, key=lambda name: results[name].rouge[0])


def best_baseline(results: dict[str, Result]) -> str:
    return max(BASELINES, key=lambda name: results[name].rouge[0])


def table(title: str, results: dict[str, Result], budget: Budget) -> None:
    print(f"\n{title}")
    print(f"{'method':14} {'R1':>6} {'R2':>6} {'RL':>6} {'words':>6} {'capt%':>6} {'art/s':>7}")
    for name, r in results.items():
        shown = f"{LEAD}-{'W' if budget.in_words else 'N'}" if name == LEAD else name
        print(
            f"{shown:14} {r.rouge[0]:6.2f} {r.rouge[1]:6.2f} {r.rouge[2]:6.2f} {r.words:6.1f} "
            f"{r.furniture:6.1f} {r.per_second:7.1f}"
        )
    ours = results[DEFAULT]
    for name in dict.fromkeys((best_baseline(results), LEAD, best_sumy(results))):
        interval = paired_interval(ours, results[name])
        cells = "  ".join(f"{m} {interval.cell(i)}" for i, m in enumerate(METRICS))
        print(f"  {DEFAULT} - {name:13} {cells}")


@dataclass(frozen=True)
class Target:
    label: str
    met: bool
    detail: str


def targets_for(set_name: str, budget: Budget, results: dict[str, Result]) -> list[Target]:
    """The issue's quality targets that apply to this set and word budget."""
    ours = results[DEFAULT]
    vs_lead = paired_interval(ours, results[LEAD])
    label = f"{set_name} {budget.label}"
    if set_name.startswith("cnndm"):
        met = bool((vs_lead.high >= 0).all())
        return [Target(label, met, "not significantly worse than Lead-W on R1, R2 and RL")]
    if set_name.startswith("bbc"):
        top = best_sumy(results)
        vs_sumy = paired_interval(ours, results[top])
        return [
            Target(label, bool((vs_lead.low > 0).all()), "significantly better than Lead-W"),
            Target(label, bool((vs_sumy.high >= 0).all()), f"not significantly worse than {top}"),
        ]
    if set_name.startswith("xsum") and budget.label == "reference words":
        met = bool(ours.rouge[0] >= results[LEAD].rouge[0])
        return [Target(label, met, "at least Lead-W on R1")]
    return []


Condition = tuple[str, Sequence[dict[str, Any]], Budget, dict[str, Result]]


def lead_weight_table(conditions: list[Condition]) -> None:
    """The default at other values of `summary.lead_weight`: R1/R2/RL minus Lead-W's and the
    best sumy method's, and how many quality targets each value meets."""
    print("\nsummary.lead_weight: the default minus Lead-W | minus the best sumy (R1/R2/RL)")
    for weight in LEAD_WEIGHTS:
        run = our_method(DEFAULT, lead_weight=weight)
        cells, met, total = [], 0, 0
        for name, articles, budget, results in conditions:
            ours = evaluate(articles, run, budget)
            trial = {**results, DEFAULT: ours}
            checks = targets_for(name, budget, trial)
            met += sum(t.met for t in checks)
            total += len(checks)
            lead_diff = ours.rouge - results[LEAD].rouge
            sumy_diff = ours.rouge - results[best_sumy(results)].rouge
            cells.append(
                f"{name.split('_')[0]}/{budget.label.split()[0]} "
                + "/".join(f"{d:+.2f}" for d in lead_diff)
                + " | "
                + "/".join(f"{d:+.2f}" for d in sumy_diff)
            )
        print(f"{weight:<5}  " + "   ".join(cells) + f"   met {met} of {total}")


def best_seconds(
    articles: Sequence[dict[str, Any]], runs: dict[str, Run], rounds: int
) -> dict[str, float]:
    """Fastest of `rounds` passes of each run over `articles` at the blurb budget, interleaved.

    Our term cache is emptied before every pass, so no pass reuses words stemmed in an earlier
    one: each is timed as in a fresh process (sumy keeps no such cache).
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            clear_cache()
            start = time.perf_counter()
            for article in articles:
                run(article, BLURB_WORDS, None)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--limit", type=int, default=0, help="articles per set (0: all)")
    parser.add_argument("--sets", default="", help="comma-separated set prefixes (default: all)")
    parser.add_argument(
        "--lead-weights",
        action="store_true",
        help=f"also score the default at summary.lead_weight = {LEAD_WEIGHTS}",
    )
    args = parser.parse_args()
    runs = methods()
    targets: list[Target] = []
    furniture: list[str] = []
    every_article: list[dict[str, Any]] = []
    conditions: list[Condition] = []
    started = time.perf_counter()
    wanted = [name for name in args.sets.split(",") if name]
    for path in sorted(args.data.glob("*_dev.jsonl")):
        if wanted and not any(path.stem.startswith(name) for name in wanted):
            continue
        with path.open(encoding="utf-8") as lines:
            articles = [json.loads(line) for line in lines if line.strip()]
        if args.limit:
            articles = articles[: args.limit]
        every_article.extend(articles)
        for budget in budgets_for(articles):
            results = {name: evaluate(articles, run, budget) for name, run in runs.items()}
            table(f"{path.stem}, {budget.label} ({len(articles)} articles)", results, budget)
            if budget.in_words:
                targets.extend(targets_for(path.stem, budget, results))
                conditions.append((path.stem, articles, budget, results))
            if results[DEFAULT].furniture:
                furniture.append(f"{path.stem} {budget.label} {results[DEFAULT].furniture:.1f}%")
    timed = best_seconds(
        every_article, {name: runs[name] for name in (DEFAULT, SPEED_BASELINE)}, SPEED_ROUNDS
    )
    ratio = timed[SPEED_BASELINE] / timed[DEFAULT]
    targets.append(
        Target(
            "no caption or boilerplate line",
            not furniture,
            "in any summary of the default"
            + (f" (found: {', '.join(furniture)})" * bool(furniture)),
        )
    )
    targets.append(
        Target(
            "speed",
            ratio >= SPEED_TARGET,
            f"{DEFAULT} {timed[DEFAULT]:.2f} s, {SPEED_BASELINE} {timed[SPEED_BASELINE]:.2f} s "
            f"for {len(every_article)} articles at {BLURB_WORDS} words, raw text to summary "
            f"(best of {SPEED_ROUNDS} alternating rounds): {ratio:.1f}x (target "
            f"{SPEED_TARGET:.0f}x)",
        )
    )
    print("\nTargets (one method, one setting for every set; word budgets)")
    for target in targets:
        print(f"{'MET   ' if target.met else 'MISSED'} {target.label:28} {target.detail}")
    met = sum(target.met for target in targets)
    if args.lead_weights:
        lead_weight_table(conditions)
    print(f"targets met: {met} of {len(targets)}; bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
