"""The whole build at scale, and what the rendered edition weighs and costs.

    .venv/bin/python bench/edition.py [--articles 1000000] [--threads 100000] [--keep DIR]

Fills a fresh SQLite file (and a fresh PostgreSQL database when NEWSLETTER_TEST_PG_URL is set)
with generated articles spread over ten years and generated threads, the measured day
(2024-12-23) holding 200 articles with real-length bodies in both languages and 50 active
threads. Generation is not the measured figure (printed anyway). Then, per store:

- `build` whole (pick, summarize, store the items), then rendering both languages from the
  stored edition, first thing in the process as the daily job does; target: under 2 s;
- picking the day (the two queries `build` runs), median of 40 interleaved runs, with 10^6
  stored articles and with 10^3 in a second store built the same way, their ratio (target:
  about 1), and the store's query plans, which show why: both queries are range scans of the
  `published_at` / `last_activity_at` indexes, so they read the day's rows and nothing else;
- summarizing the day's articles again with the default method, as `build` does (the day's
  200 bodies repeat the 15 sample articles, so word caches are warmer than on a real day);
- peak memory of build + render (tracemalloc, in a second run; tracing slows it down).

And once: the HTML bytes of editions of 10, 30 and 60 of the day's articles (Gmail clips above
102 KB), and the compile cost of an edition against the per-recipient substitution.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from rich.progress import Progress
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from newsletter import edition
from newsletter.config import Settings
from newsletter.content import EditionContent
from newsletter.render import RenderedEdition, personalize, render_edition
from newsletter.select import day_bounds
from newsletter.store import queries
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Article, Post, Thread
from newsletter.summarize import summarize

DAY = date(2024, 12, 23)
DAY_ARTICLES = 200
DAY_THREADS = 50
YEARS = 10
CHUNK = 20_000
BASE_URL = "https://vpk-news.example"
TARGET_SECONDS = 2.0
PG_ENV = "NEWSLETTER_TEST_PG_URL"
LANGUAGES = ("en", "ru")


def _sample_bodies() -> list[dict[str, Any]]:
    path = resources.files("newsletter.sample_content") / "articles.jsonl"
    lines = path.read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _rows(
    n: int, threads: int, settings: Settings, rng: random.Random
) -> tuple[Iterator[list[dict[str, Any]]], Iterator[list[dict[str, Any]]]]:
    """Chunks of article rows and of thread + post rows. The day gets exactly DAY_ARTICLES
    articles with real bodies and DAY_THREADS threads; nothing else falls on it."""
    start, end = day_bounds(DAY, settings.timezone)
    first = start - timedelta(days=365 * YEARS - 1)
    span = int((end - first).total_seconds())
    samples = _sample_bodies()
    now = datetime.now(UTC)

    def moment(on_day: bool) -> datetime:
        if on_day:
            return start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
        while True:
            at = first + timedelta(seconds=rng.randrange(span))
            if not start <= at < end:
                return at

    def articles() -> Iterator[list[dict[str, Any]]]:
        for lo in range(0, n, CHUNK):
            chunk = []
            for i in range(lo, min(lo + CHUNK, n)):
                on_day = i < DAY_ARTICLES
                sample = samples[i % len(samples)]
                chunk.append(
                    {
                        "url": f"{BASE_URL}/articles/{i}",
                        "title": f"{sample['title']} ({i})",
                        # Only the day's bodies are summarized; the rest only need to exist.
                        "body": sample["body"] if on_day else sample["body"][:300],
                        "published_at": moment(on_day),
                        "lang": sample["lang"],
                        "author": sample.get("author"),
                        "image_url": f"{BASE_URL}/images/{i}.jpg",
                        "tags": sample.get("tags", []),
                        "updated_at": now,
                    }
                )
            yield chunk

    def thread_rows() -> Iterator[list[dict[str, Any]]]:
        for lo in range(0, threads, CHUNK):
            chunk = []
            for i in range(lo, min(lo + CHUNK, threads)):
                at = moment(i < DAY_THREADS)
                chunk.append(
                    {
                        "id": i + 1,
                        "key": f"{BASE_URL}/forum/t/{i}",
                        "url": f"{BASE_URL}/forum/t/{i}",
                        "title": f"Discussion {i}: lessons of the year",
                        "last_activity_at": at,
                        "comments": rng.randrange(2000),
                        "reply_to": None,
                        "updated_at": now,
                    }
                )
            yield chunk

    return articles(), thread_rows()


def _posts(threads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "thread_id": t["id"],
            "position": p,
            "author": f"reader{p}",
            "body": "Cheap drones changed how air defence is planned. "
            "Interceptors must now cost less than what they shoot down.",
            "posted_at": t["last_activity_at"] - timedelta(minutes=10 * (2 - p)),
        }
        for t in threads
        for p in range(2)
    ]


def fill(engine: Engine, settings: Settings, n: int, threads: int, seed: int = 7) -> float:
    """Bulk inserts (Core executemany in chunks); returns the seconds taken."""
    began = time.perf_counter()
    articles, thread_chunks = _rows(n, threads, settings, random.Random(seed))
    with Progress(transient=True) as progress:
        task = progress.add_task(
            f"generating {n:,} articles, {threads:,} threads", total=n + threads
        )
        with engine.begin() as connection:
            for chunk in articles:
                connection.execute(insert(Article), chunk)
                progress.advance(task, len(chunk))
            for chunk in thread_chunks:
                connection.execute(insert(Thread), chunk)
                connection.execute(insert(Post), _posts(chunk))
                progress.advance(task, len(chunk))
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
        else:
            with engine.begin() as c:
                c.execute(text("ANALYZE"))
    return time.perf_counter() - began


def _median_seconds(action: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        timings.append(time.perf_counter() - began)
    return statistics.median(timings)


def pick_seconds(engines: tuple[Engine, Engine], settings: Settings) -> tuple[float, float]:
    """Median seconds of picking the day in each store, runs interleaved so that whatever else
    the machine does at the time weighs on both alike."""
    start, end = day_bounds(DAY, settings.timezone)

    def pick(engine: Engine) -> None:
        with session_scope(engine) as session:
            articles = queries.articles_published_between(session=session, start=start, end=end)
            threads = queries.threads_active_between(
                session=session, start=start, end=end, limit=edition.MAX_THREADS
            )
            assert len(articles) == DAY_ARTICLES and len(threads) == edition.MAX_THREADS

    timings: tuple[list[float], list[float]] = ([], [])
    for run in range(41):
        for engine, spent in zip(engines, timings, strict=True):
            began = time.perf_counter()
            pick(engine)
            if run:  # the first run of each only warms the caches
                spent.append(time.perf_counter() - began)
    return statistics.median(timings[0]), statistics.median(timings[1])


def query_plans(engine: Engine, settings: Settings) -> list[str]:
    """How the store runs the two picking queries: index range scans, not table scans."""
    start, end = day_bounds(DAY, settings.timezone)
    if engine.dialect.name == "sqlite":  # kept as zone-less UTC text, see UTCDateTime
        start, end = (t.astimezone(UTC).replace(tzinfo=None) for t in (start, end))
    explain = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
    statements = (
        "SELECT * FROM articles WHERE published_at >= :start AND published_at < :end "
        "ORDER BY published_at DESC, id",
        "SELECT * FROM threads WHERE last_activity_at >= :start AND last_activity_at < :end "
        "ORDER BY comments DESC, last_activity_at DESC, id LIMIT 10",
    )
    lines: list[str] = []
    with engine.connect() as connection:
        for statement in statements:
            rows = connection.execute(text(f"{explain} {statement}"), {"start": start, "end": end})
            lines.extend(str(row[-1]) for row in rows)
    return lines


def summarize_seconds(engine: Engine, settings: Settings) -> float:
    start, end = day_bounds(DAY, settings.timezone)
    with session_scope(engine) as session:
        bodies = [
            (a.body, a.lang, a.title)
            for a in queries.articles_published_between(session=session, start=start, end=end)
        ]
    began = time.perf_counter()
    for body, lang, title in bodies:
        summarize(
            body,
            lang=lang,
            max_words=settings.summary.words,
            title=title,
            lead_weight=settings.summary.lead_weight,
        )
    return time.perf_counter() - began


def build_and_render(engine: Engine, settings: Settings) -> tuple[float, float, EditionContent]:
    began = time.perf_counter()
    edition.build(engine=engine, settings=settings, day=DAY)
    built = time.perf_counter()
    content = edition.load_content(engine=engine, settings=settings, day=DAY)
    for lang in LANGUAGES:
        render_edition(content, lang=lang, site_name=settings.site_name, base_url=BASE_URL)
    return built - began, time.perf_counter() - built, content


def measure_store(label: str, url: str, small_url: str, n: int, threads: int) -> EditionContent:
    settings = Settings(database_url=url, base_url=BASE_URL, secret_key=secrets.token_hex(32))
    engine, small = make_engine(url), make_engine(small_url)
    for e in (engine, small):
        upgrade(e)
    print(f"\n== {label} ==")
    generation = fill(engine, settings, n, threads)
    print(f"generation: {generation:.1f} s for {n:,} articles, {threads:,} threads")
    fill(small, settings, 1_000, max(DAY_THREADS * 2, 100))
    # First, as the daily job runs it: a cold process, caches empty.
    build, rendering, content = build_and_render(engine, settings)
    items = f"{DAY_ARTICLES} + {edition.MAX_THREADS}"
    print(f"build (pick + summarize + store {items} items): {build:.2f} s")
    print(f"rendering en + ru (load + Jinja2 + MJML): {rendering:.2f} s")
    total = build + rendering
    verdict = "within" if total < TARGET_SECONDS else "OVER"
    print(f"whole build + render: {total:.2f} s ({verdict} the {TARGET_SECONDS:.0f} s target)")
    big_pick, small_pick = pick_seconds((engine, small), settings)
    print(
        f"picking the day: {big_pick * 1000:.2f} ms with {n:,} stored, "
        f"{small_pick * 1000:.2f} ms with 1,000 stored: ratio {big_pick / small_pick:.2f}"
    )
    for line in query_plans(engine, settings):
        print(f"  plan: {line}")
    summarizing = summarize_seconds(engine, settings)
    print(f"summarizing {DAY_ARTICLES} articles again (default method, warm): {summarizing:.2f} s")
    tracemalloc.start()
    build_and_render(engine, settings)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak memory of build + render: {peak / 2**20:.1f} MiB traced (tracemalloc)")
    for e in (engine, small):
        e.dispose()
    return content


@contextmanager
def _pg_database(base: str) -> Iterator[str]:
    name = f"newsletter_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _render(content: EditionContent, lang: str) -> RenderedEdition:
    return render_edition(content, lang=lang, site_name="VPK News", base_url=BASE_URL)


def sizes_and_costs(content: EditionContent) -> None:
    print("\n== rendered edition ==")
    for n in (10, 30, 60):
        part = replace(content, articles=content.articles[:n])
        sizes = [
            len(
                render_edition(
                    part, lang=lang, site_name="VPK News", base_url=BASE_URL
                ).html.encode()
            )
            for lang in LANGUAGES
        ]
        print(
            f"HTML of {n} articles + {len(content.threads)} threads: "
            f"en {sizes[0]:,} bytes, ru {sizes[1]:,} bytes (Gmail clips above 102,000)"
        )
    part = replace(content, articles=content.articles[:30])
    compile_s = _median_seconds(lambda: _render(part, "ru"), 5)
    rendered = _render(part, "ru")
    recipient_s = _median_seconds(
        lambda: personalize(
            rendered,
            unsubscribe_url=f"{BASE_URL}/unsubscribe/{secrets.token_urlsafe(32)}",
            preferences_url=f"{BASE_URL}/preferences/{secrets.token_urlsafe(32)}",
        ),
        1000,
    )
    print(
        f"30 articles, ru: compile {compile_s * 1000:.1f} ms per edition, "
        f"personalize {recipient_s * 1e6:.1f} µs per recipient: "
        f"a recipient costs 1/{compile_s / recipient_s:,.0f} of a compile"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        content = measure_store(
            "SQLite",
            f"sqlite:///{folder / 'big.sqlite3'}",
            f"sqlite:///{folder / 'small.sqlite3'}",
            args.articles,
            args.threads,
        )
    base = os.environ.get(PG_ENV)
    if base:
        with _pg_database(base) as big, _pg_database(base) as small:
            measure_store("PostgreSQL", big, small, args.articles, args.threads)
    else:
        print(f"\n(PostgreSQL skipped: set {PG_ENV} to measure it too)")
    sizes_and_costs(content)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS, generation included: {peak_rss:.0f} MiB")


if __name__ == "__main__":
    main()
