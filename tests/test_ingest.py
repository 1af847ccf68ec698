"""Reading input files: the real exported page, JSON Lines, RSS and Atom, and every rejection."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from newsletter.errors import InputError
from newsletter.ingest import read_file
from newsletter.ingest.html_text import html_to_text

FIXTURES = Path(__file__).parent / "fixtures"
SITE_PAGE = FIXTURES / "site-page-2024-12-23.txt"
MOSCOW = ZoneInfo("Europe/Moscow")
PUBLISHED = datetime(2024, 12, 23, 21, 0)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def page_text(discussion: str, *, body: str = "First paragraph.\n\nSecond paragraph.") -> str:
    return (
        f"\nA test title\n\nImage source: example.com\n\n{body}\n\nIvan Petrov\n\n"
        "The rights to this material belong to\n"
        "The material is placed by the copyright holder in the public domain\n"
        "  • The news mentions\n"
        f"  • Discussion\n{discussion}"
    )


# The real page ------------------------------------------------------------------------------


def test_real_page_article() -> None:
    batch = read_file(SITE_PAGE, tz=MOSCOW, published_at=PUBLISHED)

    (article,) = batch.articles
    assert article.title == "The Asian case of Belarus"
    assert article.author == "Nikolai Krylov"
    assert article.lang == "en"
    assert article.published_at == datetime(2024, 12, 23, 21, 0, tzinfo=MOSCOW)
    assert article.image_url is None
    assert re.fullmatch(r"urn:newsletter:page:[0-9a-f]{16}", article.url)
    paragraphs = article.body.split("\n\n")
    assert len(paragraphs) == 13
    assert paragraphs[0].startswith("A Belarusian military delegation led by Defense Minister")
    assert paragraphs[-1].endswith("the gateway to the EU for Asia and China.")
    for noise in ("Image source", "belvpo.com", "Nikolai Krylov", "rights", "public domain", "•"):
        assert noise not in article.body
    assert batch.source == str(SITE_PAGE)


def test_real_page_discussion() -> None:
    threads = read_file(SITE_PAGE, tz=MOSCOW, published_at=PUBLISHED).threads

    assert len(threads) == 15
    assert [t.comments for t in threads] == [8550, 6601, 67, 2, 1, 1, 1, 1, 0, 0, 3, 1, 1, 2756, 1]
    first, last = threads[0], threads[-1]
    assert first.title == "Минобороны: Все авиаудары в Сирии пришлись по позициям боевиков"
    assert first.last_activity_at == datetime(2024, 12, 23, 20, 15, tzinfo=MOSCOW)
    assert last.title == "Израиль нанес массированные авиаудары по Йемену"
    assert last.last_activity_at == datetime(2024, 12, 21, 13, 42, tzinfo=MOSCOW)
    assert all(t.url is None and t.posts == () for t in threads)
    assert all(re.fullmatch(r"urn:newsletter:discussion:[0-9a-f]{16}", t.key) for t in threads)
    replies = {t.title: t.reply_to for t in threads if t.reply_to}
    assert replies == {
        'Ответ на "«Прототип бомбардировщика ПАК-ДА может быть близок к завершению»: британский'
        ' министр оценил состояние стратегической авиации РФ"': "«Прототип бомбардировщика ПАК-ДА"
        " может быть близок к завершению»: британский министр оценил состояние стратегической"
        " авиации РФ",
        'Ответ на "В «Ростехе» рассказали о высокой оценке ЦРУ технических возможностей танка'
        ' Т-34"': "В «Ростехе» рассказали о высокой оценке ЦРУ технических возможностей танка Т-34",
        'Ответ на "Военный эксперт рассказал о преимуществах российских танков перед западными"': (
            "Военный эксперт рассказал о преимуществах российских танков перед западными"
        ),
    }


def test_real_page_keys_are_stable_across_reexports(tmp_path: Path) -> None:
    first = read_file(SITE_PAGE, tz=MOSCOW, published_at=PUBLISHED)
    reexport = SITE_PAGE.read_text(encoding="utf-8").replace("23.12 20:15", "23.12 22:40")
    reexport = reexport.replace("  • 8550\n", "  • 8561\n")
    second = read_file(write(tmp_path, "page.txt", reexport), tz=MOSCOW, published_at=PUBLISHED)

    assert second.articles[0].url == first.articles[0].url
    assert [t.key for t in second.threads] == [t.key for t in first.threads]
    assert second.threads[0].comments == 8561
    assert second.threads[0].last_activity_at == datetime(2024, 12, 23, 22, 40, tzinfo=MOSCOW)


def test_page_needs_published_at() -> None:
    with pytest.raises(
        InputError, match="page: an exported page carries no date: pass --published-at"
    ):
        read_file(SITE_PAGE, tz=MOSCOW)


def test_page_aware_published_at_and_explicit_url_and_lang(tmp_path: Path) -> None:
    copy = tmp_path / "page.txt"
    shutil.copyfile(SITE_PAGE, copy)
    published = datetime(2024, 12, 23, 18, 0, tzinfo=UTC)

    batch = read_file(copy, tz=MOSCOW, published_at=published, lang="ru", url="https://x.org/a")

    assert batch.articles[0].url == "https://x.org/a"
    assert batch.articles[0].lang == "ru"
    assert batch.articles[0].published_at == published


# Synthetic pages: year, language, malformed lists ---------------------------------------------


def test_page_year_rolls_over_on_a_january_page(tmp_path: Path) -> None:
    discussion = (
        "  • 02.01 05:00\n  • 4\nEarly tomorrow\n"
        "  • 01.01 09:00\n  • 1\nNew year thread\n"
        "  • 31.12 23:50\n  • 7\nOld year thread"
    )
    path = write(tmp_path, "page.txt", page_text(discussion))

    threads = read_file(path, tz=MOSCOW, published_at=datetime(2025, 1, 1, 10, 0)).threads

    assert [t.last_activity_at for t in threads] == [
        datetime(2025, 1, 2, 5, 0, tzinfo=MOSCOW),
        datetime(2025, 1, 1, 9, 0, tzinfo=MOSCOW),
        datetime(2024, 12, 31, 23, 50, tzinfo=MOSCOW),
    ]


def test_page_duplicate_titles_keep_the_most_recent(tmp_path: Path) -> None:
    discussion = "  • 22.12 10:00\n  • 5\nSame thread\n  • 23.12 11:00\n  • 9\nSame  thread"
    path = write(tmp_path, "page.txt", page_text(discussion))

    (thread,) = read_file(path, tz=MOSCOW, published_at=PUBLISHED).threads

    assert (thread.comments, thread.last_activity_at.day) == (9, 23)


def test_russian_page(tmp_path: Path) -> None:
    text = (
        "\nЗаголовок\n\nИсточник изображения: example.ru\n\nПервый абзац о танках.\n\n"
        "Второй абзац.\n\nИван Петров\n\nПрава на данный материал принадлежат\n"
        "Материал размещён правообладателем в открытом доступе\n"
        "  • Обсуждение\n  • 23.12 10:00\n  • 3\nОтвет на «Танки»\n"
    )
    path = write(tmp_path, "page.txt", text)

    batch = read_file(path, tz=MOSCOW, published_at=PUBLISHED)

    article = batch.articles[0]
    assert (article.title, article.author, article.lang) == ("Заголовок", "Иван Петров", "ru")
    assert article.body == "Первый абзац о танках.\n\nВторой абзац."
    assert batch.threads[0].reply_to == "Танки"


@pytest.mark.parametrize(
    ("discussion", "message"),
    [
        (
            "  • 23.12 10:00\nNo count here",
            "line 16: date line is not followed by a '• COUNT' line",
        ),
        ("  • 23.12 10:00\n  • many\nTitle", "line 17: comment count is not an integer: 'many'"),
        ("  • 31.02 10:00\n  • 1\nTitle", "line 16: invalid date '31.02 10:00'"),
        (
            "Title first\n  • 23.12 10:00\n  • 1",
            "line 16: expected '• DD.MM HH:MM', got 'Title first'",
        ),
        ("  • 23.12 10:00\n  • 1\n", "line 17: count line is not followed by a title line"),
    ],
)
def test_page_malformed_discussion(tmp_path: Path, discussion: str, message: str) -> None:
    path = write(tmp_path, "page.txt", page_text(discussion))

    with pytest.raises(InputError, match=re.escape(f"{path}: {message}")):
        read_file(path, tz=MOSCOW, published_at=PUBLISHED)


def test_page_without_rights_line(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "Just some notes\n\nwith no footer.\n")

    with pytest.raises(InputError, match=r"page: no rights line"):
        read_file(path, tz=MOSCOW, published_at=PUBLISHED)


# JSON Lines -----------------------------------------------------------------------------------

ARTICLE: dict[str, Any] = {
    "type": "article",
    "url": "https://example.com/news/1",
    "title": "Tanks &amp; drones\t at   the expo",
    "body": "<p>First &laquo;paragraph&raquo;.</p><p>Second <b>bold</b> one.<br>Same one.</p>",
    "published_at": "2024-12-23T10:00:00+03:00",
    "lang": "en",
    "author": "Jane Doe",
    "tags": ["expo", "drones"],
}
THREAD: dict[str, Any] = {
    "type": "thread",
    "url": "https://example.com/forum/7",
    "title": "Which drone is best?",
    "last_activity_at": "2024-12-23T12:30:00Z",
    "comments": 2,
    "reply_to": "Tanks & drones",
    "posts": [{"author": "ivan", "body": "Mine.", "posted_at": "2024-12-23T12:30:00+00:00"}],
}


def jsonl(tmp_path: Path, *records: dict[str, Any] | str) -> Path:
    lines = (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records)
    return write(tmp_path, "export.jsonl", "\n".join(lines) + "\n")


def test_jsonl_article_and_thread(tmp_path: Path) -> None:
    path = jsonl(tmp_path, ARTICLE, "", "   ", THREAD)

    batch = read_file(path, tz=MOSCOW)

    (article,) = batch.articles
    assert article.title == "Tanks & drones at the expo"
    assert article.body == "First «paragraph».\n\nSecond bold one.\nSame one."
    assert article.published_at == datetime(2024, 12, 23, 7, 0, tzinfo=UTC)
    assert article.published_at.utcoffset() == timedelta(hours=3)
    assert (article.author, article.tags, article.image_url) == (
        "Jane Doe",
        ("expo", "drones"),
        None,
    )
    (thread,) = batch.threads
    assert (thread.key, thread.url, thread.comments) == (THREAD["url"], THREAD["url"], 2)
    assert thread.reply_to == "Tanks & drones"
    assert thread.last_activity_at == datetime(2024, 12, 23, 12, 30, tzinfo=UTC)
    assert thread.posts[0].author == "ivan" and thread.posts[0].body == "Mine."


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"type": "article", "url": ', "line 2: invalid JSON: Expecting value (column 28)"),
        ({**ARTICLE, "url": "https://x.org/2", "title": None}, "line 2: missing field 'title'"),
        (
            {**ARTICLE, "url": "https://x.org/2", "published_at": "2024-12-23T10:00:00"},
            "line 2: field 'published_at' has no UTC offset: '2024-12-23T10:00:00'",
        ),
        (
            {**ARTICLE, "url": "https://x.org/2", "lang": "de"},
            "line 2: field 'lang' must be one of en, ru, got 'de'",
        ),
        (
            {**ARTICLE, "url": "https://x.org/2", "title": "Big <b>news</b>"},
            "line 2: title contains HTML markup: 'Big <b>news</b>'",
        ),
        (
            {**THREAD, "title": "<script>alert(1)</script>"},
            "line 2: title contains HTML markup",
        ),
        (
            {**ARTICLE, "url": "https://x.org/2", "title": "Two\nlines"},
            "line 2: title contains a line break: 'Two\\nlines'",
        ),
        (
            {**ARTICLE, "url": "https://x.org/2", "author": "A\rB"},
            "line 2: author contains a line break",
        ),
        (ARTICLE, "line 2: duplicate url 'https://example.com/news/1' (first on line 1)"),
        (
            {**ARTICLE, "type": "video"},
            "line 2: unknown type 'video' (expected 'article' or 'thread')",
        ),
        (
            {**ARTICLE, "url": "ftp://x.org/2"},
            "line 2: url is not an absolute http(s) URL: 'ftp://x.org/2'",
        ),
        (
            {**ARTICLE, "url": "https://x.org/2", "body": "<p> </p>"},
            "line 2: field 'body' has no text",
        ),
        (
            {**THREAD, "comments": -1},
            "line 2: field 'comments' must be between 0 and 2147483647, got -1",
        ),
        ({**THREAD, "comments": "2"}, "line 2: field 'comments' must be an integer, got str"),
        (
            {**THREAD, "posts": [{"author": "ivan", "body": "Hi"}]},
            "line 2: posts[0]: missing field 'posted_at'",
        ),
        ("[1, 2]", "line 2: expected a JSON object"),
    ],
)
def test_jsonl_rejects(tmp_path: Path, bad_line: dict[str, Any] | str, message: str) -> None:
    path = jsonl(tmp_path, ARTICLE, bad_line, THREAD)

    with pytest.raises(InputError, match=re.escape(f"{path}: {message}")):
        read_file(path, tz=MOSCOW)


# Feeds ----------------------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Defence news</title><link>https://example.com/</link><language>ru-RU</language>
<item>
  <title>Танки &amp; дроны</title>
  <link>https://example.com/news/1</link>
  <description>&lt;p&gt;Первый &amp;amp; абзац.&lt;/p&gt;&lt;p&gt;Второй.&lt;/p&gt;</description>
  <pubDate>Mon, 23 Dec 2024 10:00:00 +0300</pubDate>
  <author>desk@example.com (Иван Петров)</author>
  <category>Армия</category><category>Дроны</category>
  <enclosure url="https://example.com/i/1.jpg" type="image/jpeg" length="100"/>
</item>
<item>
  <title>Second story</title>
  <link>https://example.com/news/2</link>
  <description>Plain text body.</description>
  <pubDate>Mon, 23 Dec 2024 11:00:00 GMT</pubDate>
  <media:thumbnail url="https://example.com/i/2.jpg"/>
</item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Forum</title><id>urn:x</id><updated>2024-12-23T10:00:00Z</updated>
  <entry>
    <title type="html">Drones &amp;amp; tanks</title>
    <id>urn:x:1</id>
    <link href="https://example.com/a/1"/>
    <updated>2024-12-23T10:00:00Z</updated>
    <author><name>Jane Doe</name></author>
    <category term="uav"/>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>One.</p><p>Two.</p></div></content>
  </entry>
</feed>
"""


def test_rss(tmp_path: Path) -> None:
    batch = read_file(write(tmp_path, "feed.rss", RSS), tz=MOSCOW)

    first, second = batch.articles
    assert first.title == "Танки & дроны"
    assert first.body == "Первый & абзац.\n\nВторой."
    assert first.published_at == datetime(2024, 12, 23, 7, 0, tzinfo=UTC)
    assert first.lang == "ru"
    assert first.author == "desk@example.com (Иван Петров)"
    assert first.tags == ("Армия", "Дроны")
    assert first.image_url == "https://example.com/i/1.jpg"
    assert (second.body, second.image_url) == ("Plain text body.", "https://example.com/i/2.jpg")


def test_atom_detected_by_content_and_lang_override(tmp_path: Path) -> None:
    path = write(tmp_path, "feed.txt", ATOM)

    (article,) = read_file(path, tz=MOSCOW).articles
    (overridden,) = read_file(path, tz=MOSCOW, lang="ru").articles

    assert article.title == "Drones & tanks"
    assert article.body == "One.\n\nTwo."
    assert article.published_at == datetime(2024, 12, 23, 10, 0, tzinfo=UTC)
    assert (article.lang, article.author, article.tags) == ("en", "Jane Doe", ("uav",))
    assert overridden.lang == "ru"


def test_malformed_feed(tmp_path: Path) -> None:
    path = write(tmp_path, "feed.xml", "\n<rss version='2.0'>\n<channel><item></channel></rss>")

    with pytest.raises(
        InputError, match=re.escape(f"{path}: line 3: not a well-formed feed: mismatched tag")
    ):
        read_file(path, tz=MOSCOW)


def test_feed_entry_without_date_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path, "feed.xml", re.sub(r"<pubDate>Mon, 23 Dec 2024 11:00:00 GMT</pubDate>", "", RSS)
    )

    with pytest.raises(
        InputError, match=re.escape("entry 2 ('Second story'): entry has no published")
    ):
        read_file(path, tz=MOSCOW)


def test_feed_title_with_markup(tmp_path: Path) -> None:
    path = write(
        tmp_path, "feed.atom", ATOM.replace("Drones &amp;amp; tanks", "&lt;b&gt;Drones&lt;/b&gt;")
    )

    with pytest.raises(
        InputError, match=re.escape("entry 1 ('<b>Drones</b>'): title contains HTML markup")
    ):
        read_file(path, tz=MOSCOW)


def test_html_to_text_keeps_paragraphs() -> None:
    markup = (
        "<div><h2>Head</h2>Intro text\n  wrapped<script>var x = 1;</script>"
        "<ul><li>one</li><li>two &amp; three</li></ul></div>plain\n\nlast"
    )

    assert (
        html_to_text(markup) == "Head\n\nIntro text wrapped\n\none\n\ntwo & three\n\nplain\n\nlast"
    )


# Whole files ----------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.jsonl", "\n  \n")

    with pytest.raises(InputError, match=re.escape(f"{path}: file: the file is empty")):
        read_file(path, tz=MOSCOW)


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "page.txt"
    path.write_bytes(b"\nTitle\n\nBody \xff here\n")

    with pytest.raises(InputError, match=re.escape(f"{path}: line 4: not valid UTF-8")):
        read_file(path, tz=MOSCOW, published_at=PUBLISHED)


def test_invalid_utf8_in_a_utf8_feed(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS.encode("utf-8").replace(b"Second", b"Sec\xe9nd"))

    with pytest.raises(InputError, match=re.escape(f"{path}: line 14: not valid UTF-8")):
        read_file(path, tz=MOSCOW)


def test_feed_in_a_declared_legacy_encoding(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS.replace('encoding="utf-8"', 'encoding="windows-1251"').encode("cp1251"))

    assert read_file(path, tz=MOSCOW).articles[0].title == "Танки & дроны"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.jsonl: file: cannot read: No such file"):
        read_file(tmp_path / "missing.jsonl", tz=MOSCOW)


def test_unknown_lang_argument(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"lang: must be one of en, ru, got 'de'"):
        read_file(SITE_PAGE, tz=MOSCOW, published_at=PUBLISHED, lang="de")
