"""Thread extracts: representative posts' sentences with their authors, short, stored with the
edition at build time and read back as `PostExcerpt` records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine

import newsletter
from newsletter import edition
from newsletter.config import Settings
from newsletter.content import PostExcerpt, PostRecord
from newsletter.languages import detect_language
from newsletter.summarize import split_sentences, summarize_thread

SAMPLES = Path(newsletter.__file__).parent / "sample_content"
AT = datetime(2024, 12, 23, 12, 0, tzinfo=UTC)


def posts(*pairs: tuple[str, str]) -> list[PostRecord]:
    return [PostRecord(author=author, body=body, posted_at=AT) for author, body in pairs]


THREAD = posts(
    ("anna", "Hello all. Has anyone seen the photos from the yard?"),
    (
        "boris",
        "The new frigate has a larger hangar for two helicopters. The frigate hangar is the main "
        "change from the previous frigate class, and the helicopters matter most.",
    ),
    ("carl", "Nice weather today here."),
    ("dina", "A frigate with two helicopters in the hangar changes how the fleet hunts subs."),
)


def test_extract_picks_representative_posts_not_only_the_first() -> None:
    extract = summarize_thread(THREAD, lang="en", title="New frigate hangar", max_posts=2)
    assert [e.author for e in extract] == ["boris", "dina"]
    for excerpt, post in zip(extract, (THREAD[1], THREAD[3]), strict=True):
        assert all(
            s in split_sentences(post.body, "en") for s in split_sentences(excerpt.text, "en")
        )


def test_extract_is_short_and_never_cuts_a_sentence() -> None:
    long_sentence = "The frigate hangar " + "and the frigate deck " * 20 + "matter."
    thread = posts(("eve", long_sentence), *[(p.author, p.body) for p in THREAD])
    extract = summarize_thread(thread, lang="en", title="Frigate", max_chars=200)
    assert 1 <= len(extract) <= 3
    for excerpt in extract:
        assert len(excerpt.text) <= 200
        assert excerpt.author != "eve"  # its only sentence is too long to quote whole


def test_empty_threads_give_no_extract() -> None:
    assert summarize_thread([], lang="en") == ()
    assert summarize_thread(posts(("x", ""), ("y", "Ok.")), lang="en") == ()
    assert summarize_thread(THREAD, lang="en", max_posts=0) == ()


def test_language_is_guessed_from_the_script() -> None:
    assert detect_language("Учения ПВО зимой: кто что видел? Yes") == "ru"
    assert detect_language("Hypersonic glide vehicles: hype or real threat? Да") == "en"
    assert detect_language("") == "en"


def test_build_stores_extracts_and_the_content_reads_them_back(
    engine: Engine, settings: Settings
) -> None:
    edition.ingest(
        engine=engine,
        settings=settings,
        paths=[SAMPLES / "articles.jsonl", SAMPLES / "threads.jsonl"],
    )
    edition.build(engine=engine, settings=settings, day=date(2024, 12, 23))
    content = edition.load_content(engine=engine, settings=settings, day=date(2024, 12, 23))
    for lang in ("en", "ru"):
        with_posts = [t for t in content.threads if t.extract_for(lang)]
        assert with_posts, "the sample threads have posts"
        for thread in with_posts:
            extract = thread.extract_for(lang)
            assert 1 <= len(extract) <= 3
            assert all(isinstance(e, PostExcerpt) and e.author and e.text for e in extract)
            assert all(len(e.text) <= 240 for e in extract)
        assert any(len({e.author for e in t.extract_for(lang)}) > 1 for t in with_posts)
    # A thread with posts in both languages is quoted in each reader's own.
    mixed = next(t for t in content.threads if t.title == "Lessons of the year for air defence")
    for lang in ("en", "ru"):
        assert {detect_language(e.text) for e in mixed.extract_for(lang)} == {lang}
