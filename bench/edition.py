"""The whole build at scale, and what the rendered edition weighs and costs.

    .venv/bin/python bench/edition.py [--articles 1000000] [--threads 100000] [--layout-only]

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
  200 bodies repeat the 15 sample articles behind a lead paragraph of their own, so word caches
  are warmer than on a real day);
- peak memory of build + render (tracemalloc, in a second run; tracing slows it down).

And once (all that `--layout-only` runs): what a reader sees of a day of 30 articles and 10
threads in each language, as headless Chromium lays it out at 375 px (height; target: at most
4,500 px), the HTML bytes of a copy on days of 10, 30, 60 and 200 articles per language and what
had to be folded to stay under the 100,000-byte limit, and the compile cost of an edition
against the per-recipient substitution. Each generated article of a day is a story of its own
(a made-up company, place and figure lead it), so same-story folding leaves them apart.
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
from newsletter.languages import LANGUAGES
from newsletter.render import RenderedEdition, personalize, render_edition
from newsletter.render.shape import MAX_THREADS
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


def _sample_bodies() -> list[dict[str, Any]]:
    path = resources.files("newsletter.sample_content") / "articles.jsonl"
    lines = path.read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


_SYLLABLES = ("ka", "ro", "ve", "lin", "tor", "mar", "sa", "den", "vi", "gor", "nel", "tu", "bra")
_RU_SYLLABLES = ("ка", "ро", "ве", "лин", "тор", "мар", "са", "ден", "ви", "гор", "нель", "ту")
_EN_VERBS = ("to deliver", "unveils", "tests", "wins order for", "upgrades", "halts work on")
_EN_ITEMS = ("patrol boats", "radars", "trainer jets", "armoured trucks", "drones", "howitzers")
_RU_VERBS = ("поставит", "показала", "испытала", "получила заказ на", "модернизирует")
_RU_ITEMS = ("катера", "радары", "самолёты", "бронемашины", "беспилотники", "гаубицы")


def _name(rng: random.Random, syllables: tuple[str, ...]) -> str:
    return "".join(rng.choice(syllables) for _ in range(3)).capitalize()


def story(i: int, sample: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    """(title, body) of a made-up story of its own: a company, a place, a person and a figure
    no other article shares lead it (two stories share at most a verb and an item, too little
    to be taken for one), then the sample's body follows, so blurbs are of real length."""
    n = rng.randrange(4, 400)
    ru = sample["lang"] == "ru"
    firm, town, person = (_name(rng, _RU_SYLLABLES if ru else _SYLLABLES) for _ in range(3))
    verb = rng.choice(_RU_VERBS if ru else _EN_VERBS)
    item = rng.choice(_RU_ITEMS if ru else _EN_ITEMS)
    if ru:
        title = f"«{firm}» {verb} {n} {item} для {town}"
        lead = f"«{firm}» {verb} {n} {item} для {town}, сообщил {person}."
    else:
        title = f"{firm} {verb} {n} {item} for {town}"
        lead = f"{firm} {verb} {n} {item} for {town}, {person} said."
    return title, f"{lead}\n\n{sample['body']}"


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
                title, body = story(i, sample, rng) if on_day else (sample["title"], "")
                chunk.append(
                    {
                        "url": f"{BASE_URL}/articles/{i}",
                        "title": title,
                        # Only the day's bodies are summarized; the rest only need to exist.
                        "body": body if on_day else sample["body"][:300],
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
                session=session, start=start, end=end, limit=edition.DAY_THREADS
            )
            assert len(articles) == DAY_ARTICLES and len(threads) == DAY_THREADS

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
        f"ORDER BY last_activity_at DESC, id LIMIT {edition.DAY_THREADS}",
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


def build_and_render(engine: Engine, settings: Settings) -> tuple[float, float]:
    began = time.perf_counter()
    edition.build(engine=engine, settings=settings, day=DAY)
    built = time.perf_counter()
    content = edition.load_content(engine=engine, settings=settings, day=DAY)
    for lang in LANGUAGES:
        render_edition(content, lang=lang, site_name=settings.site_name, base_url=BASE_URL)
    return built - began, time.perf_counter() - built


def measure_store(label: str, url: str, small_url: str, n: int, threads: int) -> None:
    settings = Settings(database_url=url, base_url=BASE_URL, secret_key=secrets.token_hex(32))
    engine, small = make_engine(url), make_engine(small_url)
    for e in (engine, small):
        upgrade(e)
    print(f"\n== {label} ==")
    generation = fill(engine, settings, n, threads)
    print(f"generation: {generation:.1f} s for {n:,} articles, {threads:,} threads")
    fill(small, settings, 1_000, max(DAY_THREADS * 2, 100))
    # First, as the daily job runs it: a cold process, caches empty.
    build, rendering = build_and_render(engine, settings)
    items = f"{DAY_ARTICLES} + up to {MAX_THREADS}"
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


def layout_day(folder: Path, per_language: int, threads: int) -> EditionContent:
    """One day of `per_language` made-up stories in each language (the sample bodies behind
    leads of their own) and `threads` of the sample threads moved to that day, ingested and
    built by the product in a store of its own."""
    settings = Settings(
        database_url=f"sqlite:///{folder / f'layout-{per_language}.sqlite3'}",
        base_url=BASE_URL,
        secret_key=secrets.token_hex(32),
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    rng = random.Random(per_language)
    samples = _sample_bodies()
    start, _ = day_bounds(DAY, settings.timezone)
    records: list[dict[str, Any]] = []
    for i in range(per_language):
        for lang in LANGUAGES:
            own = [s for s in samples if s["lang"] == lang]
            sample = own[i % len(own)]
            title, body = story(i, sample, rng)
            records.append(
                {
                    "type": "article",
                    "url": f"{BASE_URL}/articles/{lang}-{i}",
                    "title": title,
                    "body": body,
                    "published_at": (start + timedelta(minutes=30 + i * 997 % 1380)).isoformat(),
                    "lang": lang,
                    "author": sample.get("author"),
                    "image_url": f"{BASE_URL}/images/{lang}-{i}.jpg",
                    "tags": sample.get("tags", []),
                }
            )
    path = resources.files("newsletter.sample_content") / "threads.jsonl"
    sample_threads = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    for k in range(threads):
        thread = dict(sample_threads[k % len(sample_threads)])
        posts = [
            {**p, "posted_at": f"{DAY.isoformat()}T{p['posted_at'][11:]}"} for p in thread["posts"]
        ]
        thread |= {
            "url": f"{thread['url']}-{k}",
            "reply_to": None,
            "posts": posts,
            "last_activity_at": max(p["posted_at"] for p in posts),
        }
        records.append(thread)
    source = folder / f"layout-{per_language}.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    edition.ingest(engine=engine, settings=settings, paths=[source])
    edition.build(engine=engine, settings=settings, day=DAY)
    content = edition.load_content(engine=engine, settings=settings, day=DAY)
    engine.dispose()
    return content


HEIGHT_TARGET = 4_500
PHONE = 375


def phone_heights(content: EditionContent) -> dict[str, int]:
    """CSS pixels of each language's copy, whole page, at 375 px in headless Chromium (the
    product's own browser set-up; images drawn as 16:9 placeholders, nothing fetched)."""
    from newsletter.render.screenshots import chromium, offline

    heights = {}
    with chromium() as browser:
        for lang in LANGUAGES:
            html, _ = personalize(
                _render(content, lang),
                unsubscribe_url=f"{BASE_URL}/unsubscribe/{secrets.token_urlsafe(32)}",
                preferences_url=f"{BASE_URL}/preferences/{secrets.token_urlsafe(32)}",
            )
            page = browser.new_page(viewport={"width": PHONE, "height": 800})
            page.route("**/*", offline)
            page.set_content(html, wait_until="load")
            heights[lang] = int(page.evaluate("document.documentElement.scrollHeight"))
            page.close()
    return heights


def layout(folder: Path) -> None:
    print("\n== what a reader gets ==")
    days = {n: layout_day(folder, n, 10) for n in (15, 30)}
    for n, label in ((15, "a 30-article day (15 per language)"), (30, "30 articles per language")):
        for lang, height in phone_heights(days[n]).items():
            verdict = "within" if height <= HEIGHT_TARGET else "OVER"
            print(
                f"{label} + 10 threads, {lang} edition: {height:,} px high at {PHONE} px "
                f"({verdict} the {HEIGHT_TARGET:,} px target)"
            )
    day30 = days[30]
    for n in (10, 30, 60, 200):
        content = day30 if n == 30 else layout_day(folder, n, 10)
        for lang in LANGUAGES:
            rendered = _render(content, lang)
            print(
                f"{n} articles per language + 10 threads, {lang}: {rendered.size:,} bytes of HTML "
                f"with the longest personal links (limit 100,000); {rendered.fitting()}"
            )
    compile_s = _median_seconds(lambda: _render(day30, "ru"), 5)
    rendered = _render(day30, "ru")
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
    parser.add_argument(
        "--layout-only", action="store_true", help="only what a reader gets: heights and sizes"
    )
    args = parser.parse_args()
    if args.layout_only:
        with tempfile.TemporaryDirectory() as tmp:
            layout(Path(tmp))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        measure_store(
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
    with tempfile.TemporaryDirectory() as tmp:
        layout(Path(tmp))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS, generation included: {peak_rss:.0f} MiB")


if __name__ == "__main__":
    main()
