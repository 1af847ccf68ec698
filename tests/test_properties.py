"""Property-based tests (Hypothesis) over what reaches the store (issue 11): any JSON Lines
record, feed or exported page is either stored, then built, rendered in both templates and
languages and sent, or refused with one line naming the file and the record, with nothing of it
stored; and any text in a stored title, body, author or post renders in both templates.

Derandomized (a fixed seed from each test's source) with bounded examples, so `make test` runs
the same cases every time, in seconds. A real SQLite file and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, insert, select

from newsletter import edition, pipeline
from newsletter.config import Settings, SmtpSettings
from newsletter.content import ArticleRecord, IngestBatch, PostRecord, ThreadRecord
from newsletter.delivery.compose import Messages
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import InputError, NothingToSend
from newsletter.languages import LANGUAGES
from newsletter.store import queries
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import (
    Article,
    Delivery,
    Edition,
    Post,
    Subscriber,
    SubscriberStatus,
    Thread,
)

BOUNDED = settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TZ_DAY = date(2024, 12, 23)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Settings, Path]]:
    """One SQLite file and one SMTP server for all examples of the module; each example starts
    from an empty store of content (`_empty`)."""
    folder = tmp_path_factory.mktemp("properties")
    url = f"sqlite:///{folder / 'properties.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with SavingSmtpServer(folder / "received") as server:
        config = Settings(
            database_url=url,
            from_address="VPK News <digest@vpk-news.example>",
            base_url="https://news.example.org",
            secret_key=secrets.token_hex(32),
            smtp=SmtpSettings(host=server.host, port=server.port),
        )
        with session_scope(engine) as session:
            session.execute(
                insert(Subscriber),
                [
                    {
                        "email": "reader@example.org",
                        "lang": "en",
                        "status": SubscriberStatus.ACTIVE,
                    },
                    {
                        "email": "chitatel@example.org",
                        "lang": "ru",
                        "status": SubscriberStatus.ACTIVE,
                    },
                ],
            )
        yield engine, config, folder
    engine.dispose()


def _empty(engine: Engine) -> None:
    with session_scope(engine) as session:
        for model in (Delivery, Edition, Post, Thread, Article):
            session.execute(delete(model))


def _counts(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Article, Thread, Post)
        )


def _days(engine: Engine) -> set[date]:
    """The local days of everything stored, which an edition can be built for."""
    tz = Settings().timezone
    with session_scope(engine) as session:
        moments = [*session.scalars(select(Article.published_at))]
        moments += [*session.scalars(select(Thread.last_activity_at))]
    return {m.astimezone(tz).date() for m in moments}


def _stored_or_refused(engine: Engine, config: Settings, path: Path, **options: Any) -> None:
    """The property: refused with one line naming the file and a record, nothing stored; or
    stored, and every day it touches builds, renders in both languages and is sent."""
    _empty(engine)
    try:
        edition.ingest(engine=engine, settings=config, paths=[path], **options)
    except InputError as refused:
        event("refused: " + str(refused).split(": ", 2)[-1][:40])
        message = str(refused)
        assert message.startswith(f"{path}: ") and refused.where, message
        assert "\n" not in message, message
        assert _counts(engine) == (0, 0, 0)
        return
    event("stored")
    assert _counts(engine) != (0, 0, 0)
    for day in sorted(_days(engine)):
        try:
            edition.build(engine=engine, settings=config, day=day)
        except NothingToSend:
            continue  # only threads without activity that day: nothing to send
        _renders_and_sends(engine, config, day)


def _renders_and_sends(engine: Engine, config: Settings, day: date) -> None:
    content = edition.load_content(engine=engine, settings=config, day=day)
    messages = Messages(content, config)
    for lang in LANGUAGES:
        rendered = messages.rendered(lang)
        assert rendered.html.strip() and rendered.text.strip()
    report = pipeline.send(engine=engine, settings=config, day=day)
    assert report.left == 0 and report.sent + report.skipped == 2, report


# Text as exporters produce it, and as they should not: any code point, surrogates and controls
# included, weighted towards the characters that once broke rendering.
NASTY = st.sampled_from(
    [
        "\x00",
        "\x01",
        "\x08",
        "\x0b",
        "\x0c",
        "\x1b",
        "\x7f",
        "\x85",
        "\u2028",
        "\ufeff",
        "\ufffe",
        "\uffff",
        "\ud800",
        "\udfff",
        "<",
        "&",
        "{{",
        "}}",
        "{%",
        "]]>",
        "\r",
        "\n",
        "\t",
        " ",
    ]
)
NASTY_TEXT = st.lists(st.one_of(NASTY, st.characters(blacklist_categories=())), max_size=40).map(
    "".join
)
# Letters, digits, punctuation and spaces of any script: what a title usually is.
PLAIN_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), min_size=1, max_size=40
)
ANY_TEXT = st.one_of(PLAIN_TEXT, PLAIN_TEXT, PLAIN_TEXT, NASTY_TEXT)
PROSE = st.lists(
    st.one_of(
        st.sampled_from(["The trainer flew.", "It carried two pilots.", "Он летал."]), ANY_TEXT
    ),
    min_size=1,
    max_size=6,
).map(" ".join)
GOOD_MOMENT = st.datetimes(
    min_value=datetime(2024, 12, 22), max_value=datetime(2024, 12, 24), timezones=st.just(UTC)
).map(datetime.isoformat)
MOMENT = st.one_of(
    *[GOOD_MOMENT] * 4,
    st.sampled_from(
        [
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59-14:00",
            "2024-12-23",
            "2024-12-23T10:00:00",
            "not a date",
        ]
    ),
)
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    ANY_TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _valid_or_spoilt(
    fields: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """A record of valid fields, or one with a field replaced by anything at all or left out:
    half and half, so that both ends of the property are reached often."""
    valid = st.fixed_dictionaries(fields, optional=optional)

    def spoil(record: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        names = sorted(set(fields) | set(optional))
        return st.tuples(st.sampled_from(names), JUNK, st.booleans()).map(
            lambda change: (
                {k: v for k, v in record.items() if k != change[0]}
                if change[2]
                else {**record, change[0]: change[1]}
            )
        )

    return st.one_of(valid, valid.flatmap(spoil))


ARTICLE = _valid_or_spoilt(
    {
        "type": st.just("article"),
        "url": st.integers(0, 10**6).map(lambda n: f"https://vpk-news.example/a/{n}"),
        "title": ANY_TEXT.filter(str.strip),
        "body": PROSE,
        "published_at": MOMENT,
        "lang": st.sampled_from(["en", "ru"]),
    },
    {
        "author": ANY_TEXT,
        "image_url": st.just("https://vpk-news.example/i.jpg"),
        "tags": st.lists(ANY_TEXT, max_size=3),
    },
)
POST = _valid_or_spoilt(
    {"author": ANY_TEXT.filter(str.strip), "body": PROSE, "posted_at": MOMENT}, {}
)
THREAD = _valid_or_spoilt(
    {
        "type": st.just("thread"),
        "url": st.integers(0, 10**6).map(lambda n: f"https://vpk-news.example/t/{n}"),
        "title": ANY_TEXT.filter(str.strip),
        "last_activity_at": MOMENT,
        "comments": st.one_of(st.integers(0, 10**4), st.integers(), st.just(10**40)),
    },
    {"reply_to": ANY_TEXT, "posts": st.lists(POST, max_size=3)},
)


@BOUNDED
@given(records=st.lists(st.one_of(ARTICLE, THREAD), min_size=1, max_size=3))
def test_any_json_lines_record_is_stored_rendered_and_sent_or_refused_whole(
    store: tuple[Engine, Settings, Path], records: list[dict[str, Any]]
) -> None:
    engine, config, folder = store
    path = folder / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    _stored_or_refused(engine, config, path)


@BOUNDED
@given(
    entries=st.lists(
        st.tuples(
            ANY_TEXT,
            PROSE,
            st.sampled_from(["Mon, 23 Dec 2024 09:40:00 +0300", "yesterday"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_any_feed_is_stored_rendered_and_sent_or_refused_whole(
    store: tuple[Engine, Settings, Path], entries: list[tuple[str, str, str, bool]]
) -> None:
    engine, config, folder = store
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://vpk-news.example/f/{n}</link>"
        f"<pubDate>{when}</pubDate><description>{escape(body) if plain else _cdata(body)}"
        "</description></item>"
        for n, (title, body, when, plain) in enumerate(entries)
    )
    path = folder / "feed.xml"
    path.write_bytes(
        (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>VPK</title>'
            f"<link>https://vpk-news.example/</link><description>d</description>{items}"
            "</channel></rss>"
        ).encode("utf-8", "surrogatepass")
    )
    _stored_or_refused(engine, config, path)


@BOUNDED
@given(
    title=ANY_TEXT,
    body=st.lists(PROSE, min_size=1, max_size=3),
    author=ANY_TEXT,
    discussion=st.lists(st.tuples(st.integers(1, 28), st.integers(0, 99999), ANY_TEXT), max_size=3),
)
def test_any_exported_page_is_stored_rendered_and_sent_or_refused_whole(
    store: tuple[Engine, Settings, Path],
    title: str,
    body: list[str],
    author: str,
    discussion: list[tuple[int, int, str]],
) -> None:
    engine, config, folder = store
    lines = [
        title,
        "",
        *(p + "\n" for p in body),
        author,
        "",
        "The rights to this material belong to VPK",
        "  • Discussion",
    ]
    for day, count, thread_title in discussion:
        lines += [f"  • {day:02d}.12 10:00", f"  • {count}", thread_title]
    path = folder / "page.txt"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    _stored_or_refused(engine, config, path, published_at=datetime(2024, 12, 23, 9, 0))


def _cdata(text: str) -> str:
    return f"<![CDATA[{text}]]>"


# What the store can hold: any code point but surrogates (no UTF-8 form, so no driver stores one).
STORABLE = st.lists(
    st.one_of(NASTY.filter(lambda c: not "\ud800" <= c <= "\udfff"), st.characters()),
    max_size=40,
).map("".join)


@BOUNDED
@given(title=STORABLE, body=STORABLE, author=STORABLE, post_author=STORABLE, post=STORABLE)
def test_any_stored_text_renders_in_both_templates_and_languages(
    store: tuple[Engine, Settings, Path],
    title: str,
    body: str,
    author: str,
    post_author: str,
    post: str,
) -> None:
    """Stored as an older version, a hand edit or a direct import could have stored it,
    without ingest's checks."""
    engine, config, _ = store
    _empty(engine)
    when = datetime(2024, 12, 23, 9, 0, tzinfo=UTC)
    batch = IngestBatch(
        source="direct",
        articles=(
            ArticleRecord(
                url="https://vpk-news.example/direct",
                title=title or "t",
                body=f"The trainer flew. {body}",
                published_at=when,
                lang="en",
                author=author or None,
                tags=(title,) if title.strip() else (),
            ),
        ),
        threads=(
            ThreadRecord(
                key="direct-thread",
                title=title or "t",
                last_activity_at=when,
                comments=3,
                reply_to=title or None,
                posts=(
                    PostRecord(
                        author=post_author or "a",
                        body=f"Yes. {post}",
                        posted_at=when - timedelta(hours=1),
                    ),
                ),
            ),
        ),
    )
    with session_scope(engine) as session:
        queries.store_batch(session=session, batch=batch)
    edition.build(engine=engine, settings=config, day=TZ_DAY)
    _renders_and_sends(engine, config, TZ_DAY)
