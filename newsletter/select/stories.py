"""Same story twice: two articles of one day about one event, found by what their titles and
leads share.

Two reports of one event name the same things: the company, the product, the place, the figure
("90 carriers"). Two unrelated reports of a defence site share its house words ("defence",
"contract", "ministry"). So a pair is one story only when it shares several terms that are
neither house words nor common that day, weighted by how rare each is among the day's articles.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.summarize.terms import content_terms

# Words nearly every article of the site uses: sharing them says nothing about the event.
_HOUSE_WORDS = """
    defence defense military army armed forces force ministry minister contract contracts
    deal deals company companies firm firms industry industrial system systems weapon weapons
    arms equipment new first development develop state government country countries national
    programme program project plan plans report reports production produce supply supplies
    оборона оборонный оборонного оборонной оборонные военный военного военные армия армии
    вооружённые вооруженные силы министерство министр минобороны контракт контракта контракты
    сделка компания компании предприятие предприятия промышленность промышленности система
    системы оружие вооружение вооружения техника техники новый новая новые новых первый
    разработка разработки государство государственный страна страны программа проект план
    производство поставка поставки
"""
HOUSE_TERMS: frozenset[str] = content_terms(_HOUSE_WORDS)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")

# A pair is one story when it shares at least this many distinctive terms and their
# rarity-weighted overlap (cosine) reaches the threshold.
MIN_SHARED = 3
MIN_SIMILARITY = 0.25


@dataclass(frozen=True)
class StoryText:
    """What the comparison reads of an article: its title and lead, in its language."""

    title: str
    lead: str
    lang: str


def terms(text: StoryText) -> frozenset[str]:
    """Distinctive terms: content stems and figures, house words left out."""
    words = f"{text.title} {text.lead}"
    return (content_terms(words) | frozenset(_NUMBER.findall(words))) - HOUSE_TERMS


def _weights(bags: Sequence[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency over the day: a term in most articles weighs little."""
    df = Counter(term for bag in bags for term in bag)
    n = len(bags)
    return {term: math.log(1 + n / count) for term, count in df.items()}


def similarity(a: frozenset[str], b: frozenset[str], weights: dict[str, float]) -> float:
    """Cosine of the two term sets, each term weighted by its rarity."""
    shared = sum(weights[t] ** 2 for t in a & b)
    norm = math.sqrt(sum(weights[t] ** 2 for t in a) * sum(weights[t] ** 2 for t in b))
    return shared / norm if norm else 0.0


def same_story(
    a: frozenset[str], b: frozenset[str], weights: dict[str, float]
) -> tuple[bool, float]:
    score = similarity(a, b, weights)
    return len(a & b) >= MIN_SHARED and score >= MIN_SIMILARITY, score


def stories(texts: Sequence[StoryText]) -> list[int]:
    """For each article, the index of the first article of its story (itself when alone).
    Only articles of one language are compared: a translation shares no words to match."""
    bags = [terms(t) for t in texts]
    weights = _weights(bags)
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if texts[i].lang == texts[j].lang and same_story(bags[i], bags[j], weights)[0]:
                a, b = root(i), root(j)
                parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(texts))]
