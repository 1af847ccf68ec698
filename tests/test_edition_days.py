"""Whole days through the store: threads ranked by the day's activity on the shared sample page
(one export, then a second one), each reader's language edition as delivered, and the readers
skipped because their edition was empty."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from html import unescape
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

import newsletter
from newsletter import edition, pipeline
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.delivery.smtp import SmtpTransport
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import session_scope
from subscribers import add_subscriber
from subscribers.consent import update_preferences
from tests.conftest import received

DAY = date(2024, 12, 23)
SAMPLES = Path(newsletter.__file__).parent / "sample_content"
# The site's own export, shared by the project: <repo>/../shared, as in CI.
SHARED_PAGE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "site-page-2024-12-23.txt"
)
SYRIA = "Минобороны: Все авиаудары в Сирии пришлись по позициям боевиков"


def _ingest_page(engine: Engine, settings: Settings, page: Path) -> None:
    edition.ingest(
        engine=engine,
        settings=settings,
        paths=[page],
        published_at=datetime.fromisoformat("2024-12-23T09:00:00+03:00"),
    )


def _later_export(tmp_path: Path, counts: dict[str, int]) -> Path:
    """The same page exported again later: only the comment counts of the listed threads moved
    (each count sits on the line before the thread's title)."""
    lines = SHARED_PAGE.read_text("utf-8").splitlines()
    for i, line in enumerate(lines):
        if line in counts:
            lines[i - 1] = re.sub(r"\d+", str(counts[line]), lines[i - 1])
    later = tmp_path / "site-page-2024-12-23-later.txt"
    later.write_text("\n".join(lines), "utf-8")
    return later


def test_one_export_ranks_the_days_threads_in_the_sites_order(
    engine: Engine, settings: Settings
) -> None:
    _ingest_page(engine, settings, SHARED_PAGE)
    ranked = edition.build(engine=engine, settings=settings, day=DAY).ranking.threads
    # No posts, no earlier export: latest activity first, whatever the all-time counts.
    assert [t.title for t in ranked][:3] == [
        SYRIA,
        "Without carrot and stick. Russia has deprived America of its usual levers of influence",
        "Lessons from Syria",
    ]
    assert all(t.activity is None for t in ranked)


def test_a_second_export_ranks_threads_by_their_growth_and_drops_the_quiet_ones(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _ingest_page(engine, settings, SHARED_PAGE)
    # 8,550 all-time comments, 3 of them since: not the day's most discussed.
    counts = {SYRIA: 8553, "Lessons from Syria": 67 + 40}
    counts |= {'Россия готова к дуэли "Орешника" и западных ПВО - Путин': 2 + 12}
    _ingest_page(engine, settings, _later_export(tmp_path, counts))
    result = edition.build(engine=engine, settings=settings, day=DAY)
    assert [(t.title, t.activity) for t in result.ranking.threads] == [
        ("Lessons from Syria", 40),
        ('Россия готова к дуэли "Орешника" и западных ПВО - Путин', 12),
        (SYRIA, 3),
    ]
    content = edition.load_content(engine=engine, settings=settings, day=DAY)
    assert content.threads[0].title == "Lessons from Syria"


def _day_of_both_languages(engine: Engine, settings: Settings) -> None:
    edition.ingest(
        engine=engine,
        settings=settings,
        paths=[SAMPLES / "articles.jsonl", SAMPLES / "threads.jsonl"],
    )
    with session_scope(engine) as session:
        add_subscriber(session=session, email="en@example.org", lang="en")
        add_subscriber(session=session, email="ru@example.org", lang="ru")
        both = add_subscriber(session=session, email="both@example.org", lang="ru")
        session.flush()
        update_preferences(
            session=session,
            subscriber_id=both.id,
            lang="ru",
            sections=(),
            offered=(),
            other_languages=True,
        )
    edition.build(engine=engine, settings=settings, day=DAY)
    with SmtpTransport(settings.smtp) as transport:
        pipeline.send(engine=engine, settings=settings, day=DAY, transport=transport)


def _html_of(server: SavingSmtpServer) -> dict[str, str]:
    out = {}
    for message in received(server):
        html = message.get_body(preferencelist=("html",))
        assert html is not None
        out[message["To"].addresses[0].addr_spec] = unescape(html.get_content())
    return out


ENGLISH = {
    "https://vpk-news.example/articles/vigil-x-radar-counter-drone",
    "https://vpk-news.example/articles/hanoi-defence-expo-wrap-up",
}
RUSSIAN = {"https://vpk-news.example/articles/podlodka-novoy-serii-zakladka"}


def test_each_language_edition_holds_its_stories_and_the_other_only_when_asked(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    _day_of_both_languages(engine, settings)
    html = _html_of(smtp_server)
    assert all(url in html["en@example.org"] for url in ENGLISH)
    assert not any(url in html["en@example.org"] for url in RUSSIAN)
    assert "By Андрей" not in html["en@example.org"] and "Автор:" not in html["en@example.org"]
    assert all(url in html["ru@example.org"] for url in RUSSIAN)
    assert not any(url in html["ru@example.org"] for url in ENGLISH)
    # Opted in: the English stories as headlines, under their own heading, after its own.
    both = html["both@example.org"]
    assert all(url in both for url in ENGLISH | RUSSIAN)
    assert both.index("Заголовки на английском") > both.index("podlodka-novoy-serii-zakladka")
    assert "Заголовки на английском" not in html["ru@example.org"]


def test_a_thread_replying_to_an_article_is_shown_under_it_not_in_the_list(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    _day_of_both_languages(engine, settings)
    en = _html_of(smtp_server)["en@example.org"]
    radar = en.index("Vigil-X radar enters service")
    comments = en.index("67 comments")
    assert radar < comments < en.index("Most discussed")
    assert 'Reply to "Vigil-X' not in en  # not again in "Most discussed"
    # The Russian reader has no Vigil-X article: the thread is in their list.
    assert 'Reply to "Vigil-X' in _html_of(smtp_server)["ru@example.org"]


def test_readers_with_an_empty_edition_are_skipped_and_status_counts_them(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    day = tmp_path / "english-only.jsonl"
    record = {
        "type": "article",
        "url": "https://vpk-news.example/articles/only-english",
        "title": "Only an English story today",
        "body": "Nothing happened in Russian today. This is the only story.",
        "published_at": "2024-12-23T10:00:00+03:00",
        "lang": "en",
    }
    day.write_text(json.dumps(record) + "\n", "utf-8")
    edition.ingest(engine=engine, settings=settings, paths=[day])
    with session_scope(engine) as session:
        add_subscriber(session=session, email="en@example.org", lang="en")
        add_subscriber(session=session, email="ru@example.org", lang="ru")
    edition.build(engine=engine, settings=settings, day=DAY)
    with SmtpTransport(settings.smtp) as transport:
        report = pipeline.send(engine=engine, settings=settings, day=DAY, transport=transport)
    assert (report.sent, report.skipped, report.skipped_empty) == (1, 1, 1)
    assert [m["To"].addresses[0].addr_spec for m in received(smtp_server)] == ["en@example.org"]
    env = {
        "NEWSLETTER_DATABASE_URL": settings.database_url,
        "NEWSLETTER_TIMEZONE": settings.timezone.key,
    }
    status = CliRunner().invoke(app, ["status", "--date", "2024-12-23"], env=env)
    assert status.exit_code == 0, status.output
    assert "1 readers skipped: their edition was empty" in " ".join(status.stdout.split())


def test_build_explain_prints_each_signals_share(engine: Engine, settings: Settings) -> None:
    edition.ingest(
        engine=engine,
        settings=settings,
        paths=[SAMPLES / "articles.jsonl", SAMPLES / "threads.jsonl"],
    )
    env = {
        "NEWSLETTER_DATABASE_URL": settings.database_url,
        "NEWSLETTER_BASE_URL": settings.require_base_url(),
    }
    out = CliRunner().invoke(app, ["build", "--date", "2024-12-23", "--explain"], env=env)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert re.match(r"\s+en: [\d,]+ bytes of HTML; nothing folded", lines[1])
    header = next(i for i, line in enumerate(lines) if "discussion" in line)
    assert lines[header].split() == [
        "#",
        "lang",
        "score",
        "discussion",
        "coverage",
        "section",
        "recency",
        "title",
    ]
    first = lines[header + 1]
    assert first.split()[:3] == ["1", "en", "2.84"]
    assert first.endswith("Vigil-X radar enters service as counter-drone sensor for air bases")
    shares = [int(cell.rstrip("%")) for cell in first.split()[3:7]]
    assert shares[0] > 50 and sum(shares) in (99, 100, 101)
    assert any("+5  Беспилотники против ПВО: итоги года" in line for line in lines)


def test_headers_carry_a_numeric_zone_and_a_subject_folded_without_doubled_spaces(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    _day_of_both_languages(engine, settings)
    for path in smtp_server.saved:
        if path.suffix != ".eml":
            continue
        raw = path.read_bytes().decode("ascii")
        date_line = next(line for line in raw.splitlines() if line.startswith("Date: "))
        assert re.fullmatch(r"Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", date_line)
    en = next(
        m for m in received(smtp_server) if m["To"].addresses[0].addr_spec == "en@example.org"
    )
    # The em dash is an encoded word after plain ASCII: folded there, it must not gain a space.
    assert "air bases — and" in en["Subject"]
    assert "  " not in en["Subject"]
