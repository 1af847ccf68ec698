"""The edition a reader gets: ranking, same-story folding, language editions, the subject line,
the preheader and the size limit. Pure functions over plain records."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from newsletter.config import EditionSettings
from newsletter.content import ArticleItem, EditionContent, PostExcerpt, ThreadItem
from newsletter.render import MAX_HTML_BYTES, personalize, render_edition, subject_line
from newsletter.render.shape import reader_edition, wants
from newsletter.select import day_bounds
from newsletter.select.ranking import (
    Candidate,
    EditorsChoice,
    ThreadActivity,
    rank_day,
    rank_threads,
)
from newsletter.select.stories import StoryText, stories

MSK = ZoneInfo("Europe/Moscow")
DAY = date(2024, 12, 23)
START, END = day_bounds(DAY, MSK)
BASE_URL = "https://vpk-news.example"


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 12, 23, hour, minute, tzinfo=MSK)


# --- same story twice ---

KESTREL = StoryText(
    "Kestrel Defence Systems signs export deal for 90 wheeled armoured carriers",
    "Kestrel Defence Systems has signed a contract to supply 90 Wolverine 8x8 armoured personnel "
    "carriers to an unnamed customer in South-East Asia, the company announced on Saturday.",
    "en",
)
# The same event as another desk wrote it: other words, the same names and figures.
KESTREL_AGAIN = StoryText(
    "South-East Asian army orders 90 Wolverine carriers from Kestrel",
    "An army in South-East Asia will receive 90 Wolverine 8x8 wheeled carriers under a $410 "
    "million agreement with Kestrel, which will build the first 30 vehicles at its main plant.",
    "en",
)
# Two unrelated reports that share the site's house words: defence, contract, ministry.
HELICOPTERS = StoryText(
    "Defence ministry signs contract for new training helicopters",
    "The defence ministry has signed a contract with Orlan Rotorcraft for twelve light training "
    "helicopters, to be delivered to the air force academy from 2026.",
    "en",
)
PATROL_BOATS = StoryText(
    "Coastal yard wins defence contract for patrol boats",
    "A coastal shipyard has won a defence contract to build four fast patrol boats for the "
    "border guard, the ministry said, with the first hull to be laid down in spring.",
    "en",
)


def test_two_reports_of_one_event_are_one_story() -> None:
    assert stories([KESTREL, HELICOPTERS, KESTREL_AGAIN, PATROL_BOATS]) == [0, 1, 0, 3]


def test_reports_sharing_only_house_words_are_two_stories() -> None:
    assert stories([HELICOPTERS, PATROL_BOATS]) == [0, 1]


def test_a_translation_is_not_matched_across_languages() -> None:
    russian = replace(KESTREL_AGAIN, lang="ru")
    assert stories([KESTREL, russian]) == [0, 1]


def test_no_two_sample_articles_are_folded_together() -> None:
    """The bundled articles are 15 different events: none may be taken for another."""
    import json
    from importlib import resources

    lines = (resources.files("newsletter.sample_content") / "articles.jsonl").read_text("utf-8")
    records = [json.loads(line) for line in lines.splitlines() if line.strip()]
    texts = [StoryText(r["title"], r["body"].split("\n\n")[0], r["lang"]) for r in records]
    assert stories(texts) == list(range(len(texts)))


# --- ranking ---


def _candidate(key: str, text: StoryText, hour: int, tags: tuple[str, ...] = ()) -> Candidate:
    return Candidate(key, text.title, text.lead, text.lang, _at(hour), tags)


def test_discussion_coverage_section_and_recency_rank_the_day() -> None:
    candidates = [
        _candidate("kestrel", KESTREL, 9, ("armour",)),
        _candidate("heli", HELICOPTERS, 22, ("aviation",)),
        _candidate("again", KESTREL_AGAIN, 10, ("armour",)),
        _candidate("boats", PATROL_BOATS, 11, ("navy",)),
    ]
    reply = ThreadActivity(
        "forum/1", f'Ответ на "{PATROL_BOATS.title}"', _at(20), PATROL_BOATS.title, posts_today=6
    )
    ranking = rank_day(
        candidates, [reply], day_start=START, day_end=END, section_weights={"navy": 0.5}
    )
    order = [a.candidate.key for a in ranking.articles]
    # boats: discussed (a thread with 6 posts) and weighted; the Kestrel story is covered
    # twice; the helicopters were published last and have nothing else.
    assert order == ["boats", "again", "kestrel", "heli"]
    boats, again, kestrel, heli = ranking.articles
    assert boats.signals["discussion"] == pytest.approx(3.0)  # log2(1 + 1 thread + 6 posts)
    assert boats.signals["section"] == 0.5
    assert boats.replies == ("forum/1",)
    assert again.signals["coverage"] == kestrel.signals["coverage"] == 1.0
    assert (again.story, kestrel.story) == (None, "again")  # the lower one folds under it
    assert heli.signals["recency"] == pytest.approx(22 / 24)
    assert sum(boats.share(s) for s in boats.signals) == pytest.approx(1.0)
    # Deterministic: the same input in another order ranks the same.
    again_ranked = rank_day(
        list(reversed(candidates)),
        [reply],
        day_start=START,
        day_end=END,
        section_weights={"navy": 0.5},
    )
    assert [a.candidate.key for a in again_ranked.articles] == order


def test_editors_pins_lead_and_exclusions_leave() -> None:
    candidates = [
        _candidate("kestrel", KESTREL, 9),
        _candidate("heli", HELICOPTERS, 22),
        _candidate("boats", PATROL_BOATS, 11),
    ]
    ranking = rank_day(
        candidates,
        [],
        day_start=START,
        day_end=END,
        section_weights={},
        choice=EditorsChoice(pinned=("kestrel",), excluded=frozenset({"heli"})),
    )
    assert [a.candidate.key for a in ranking.articles] == ["kestrel", "boats"]
    assert ranking.articles[0].pinned
    assert ranking.excluded == ("heli",)


def test_threads_rank_by_the_days_activity_not_their_all_time_count() -> None:
    old_giant = ThreadActivity("syria", "Syria", _at(20, 15), posts_today=None, growth=3)
    busy = ThreadActivity("lessons", "Lessons", _at(13, 31), posts_today=None, growth=40)
    posts = ThreadActivity("drones", "Drones", _at(11), posts_today=12)
    unknown_late = ThreadActivity("late", "Late", _at(23))
    unknown_early = ThreadActivity("early", "Early", _at(1))
    quiet = ThreadActivity("quiet", "Quiet", _at(22), growth=0)
    ranked = rank_threads([old_giant, unknown_early, quiet, busy, unknown_late, posts])
    assert [t.key for t in ranked] == ["lessons", "drones", "syria", "late", "early"]


# --- one reader's edition ---


def _article(title: str, lang: str, hour: int, **kwargs: object) -> ArticleItem:
    slug = re.sub(r"\W+", "-", title.lower()).strip("-")
    return ArticleItem(
        title=title,
        url=f"{BASE_URL}/articles/{slug}",
        summary=(f"{title} happened, and this sentence says so at some length.",),
        lang=lang,
        published_at=_at(hour),
        author="Daniel Harrow" if lang == "en" else "Андрей Ларионов",
        image_url=f"{BASE_URL}/images/{slug}.jpg",
        **kwargs,  # type: ignore[arg-type]
    )


def _day() -> EditionContent:
    en = [_article(f"English story {i}", "en", 8 + i, tags=("navy",)) for i in range(8)]
    ru = [_article(f"Русская новость {i}", "ru", 8 + i, tags=("uav",)) for i in range(3)]
    en[6] = replace(en[6], story=en[0].url, title="English story 0, told again")
    reply = ThreadItem(
        title='Reply to "English story 1"',
        url=f"{BASE_URL}/forum/t/1",
        comments=12,
        last_activity_at=_at(21),
        reply_to="English story 1",
        activity=4,
        reply_to_url=en[1].url,
        extract=(PostExcerpt("redhawk", "A post in English."),),
        extracts=(
            ("en", (PostExcerpt("redhawk", "A post in English."),)),
            ("ru", (PostExcerpt("Бывалый", "Сообщение по-русски."),)),
        ),
    )
    other = replace(reply, title="Общий форум", url=f"{BASE_URL}/forum/t/2", reply_to=None)
    other = replace(other, reply_to_url=None, comments=8550, activity=3)
    ranked = (en[0], ru[0], en[1], en[2], ru[1], en[3], en[4], en[5], en[6], en[7], ru[2])
    return EditionContent(DAY, ranked, (reply, other))


def test_each_language_gets_its_own_stories_and_the_other_only_on_request() -> None:
    content = _day()
    en = reader_edition(content, lang="en")
    assert [s.article.title for s in en.top] == [f"English story {i}" for i in range(5)]
    assert [s.article.title for s in en.headlines] == ["English story 5", "English story 7"]
    assert en.other_language == ()
    ru = reader_edition(content, lang="ru")
    assert {s.article.lang for s in (*ru.top, *ru.headlines)} == {"ru"}
    both = reader_edition(content, lang="ru", other_languages=True)
    assert [s.article.title for s in both.other_language][:2] == [
        "English story 0",
        "English story 1",
    ]


def test_the_same_story_is_folded_under_its_first_and_a_reply_thread_under_its_article() -> None:
    en = reader_edition(_day(), lang="en")
    first, second = en.top[0], en.top[1]
    assert [a.title for a in first.also] == ["English story 0, told again"]
    assert second.discussion is not None and second.discussion.comments == 12
    # Shown under its article, so not again in "Most discussed".
    assert [t.title for t in en.threads] == ["Общий форум"]
    # A Russian reader does not get that article: the thread stays in the list.
    assert len(reader_edition(_day(), lang="ru").threads) == 2


def test_sections_choose_articles_and_an_empty_choice_is_an_empty_edition() -> None:
    content = _day()
    assert reader_edition(content, lang="ru", sections=("navy",)).top == ()
    nothing = replace(content, threads=())
    assert reader_edition(nothing, lang="ru", sections=("navy",)).empty
    assert not reader_edition(nothing, lang="ru", sections=("navy",), other_languages=True).empty


@pytest.mark.parametrize(
    ("chosen", "tags", "expected"),
    [
        ((), ("navy",), True),  # no choice: everything
        ((), (), True),
        (("navy",), ("Navy", "industry"), True),  # any one tag will do, in any case
        (("navy", "uav"), ("armour",), False),
        (("navy",), (), True),  # untagged: no section could have left it out
    ],
)
def test_wants(chosen: tuple[str, ...], tags: tuple[str, ...], expected: bool) -> None:
    assert wants(chosen, tags) is expected


# --- subject and preheader ---


@pytest.mark.parametrize(
    ("lang", "more", "tail"),
    [
        ("en", 1, "and 1 more story"),
        ("en", 7, "and 7 more stories"),
        ("ru", 1, "и ещё 1 новость"),
        ("ru", 3, "и ещё 3 новости"),
        ("ru", 7, "и ещё 7 новостей"),
        ("ru", 21, "и ещё 21 новость"),
    ],
)
def test_the_subject_is_the_top_headline_and_a_plural_tail(lang: str, more: int, tail: str) -> None:
    articles = tuple(_article(f"Story {i}", lang, 9) for i in range(more + 1))
    edition = reader_edition(EditionContent(DAY, articles), lang=lang)
    assert subject_line(edition) == f"Story 0 — {tail}"
    assert subject_line(edition, template="{more}: {headline}") == f"{tail}: Story 0"


def test_a_lone_story_has_no_tail_and_a_long_headline_keeps_the_tail() -> None:
    alone = reader_edition(EditionContent(DAY, (_article("Only one", "en", 9),)), lang="en")
    assert subject_line(alone) == "Only one"
    long_title = "Deliveries of " + " ".join(["air-defence systems"] * 20)
    articles = (_article(long_title, "en", 9), _article("Second", "en", 9))
    subject = subject_line(reader_edition(EditionContent(DAY, articles), lang="en"))
    assert len(subject) <= 150
    assert subject.startswith("Deliveries of air-defence")
    assert subject.endswith("… — and 1 more story")


def test_the_preheader_lists_the_next_headlines_hidden_without_a_text_colour() -> None:
    rendered = render_edition(_day(), lang="en", site_name="VPK News", base_url=BASE_URL)
    hidden = re.search(r'<div style="display:none;[^"]*">([^<]*)</div>', rendered.html)
    assert hidden is not None
    assert hidden.group(1).startswith("English story 1 · English story 2 · English story 3")
    # A colour on hidden text is what SpamAssassin's HTML_FONT_LOW_CONTRAST looks for.
    assert "color" not in hidden.group(0)
    assert "English story 0" not in hidden.group(1)  # it is in the subject already


def test_only_the_first_top_story_has_an_image_and_headlines_have_no_blurb() -> None:
    rendered = render_edition(_day(), lang="en", site_name="VPK News", base_url=BASE_URL)
    assert rendered.html.count("<img") == 1
    assert "english-story-0.jpg" in rendered.html
    assert rendered.html.count("happened, and this sentence says so") == 5
    assert "Also today" in rendered.html and "Also:" in rendered.html
    assert "12 comments" in rendered.html


# --- never clipped ---


def _big_day(n: int, *, words: int = 55) -> EditionContent:
    """n articles per language of realistic length (Russian letters weigh two bytes), tags of
    four sections, and ten busy threads with quotes."""
    sentence = "Завод передал заказчику партию модернизированных машин после испытаний. "
    english = "The plant handed the customer a batch of upgraded vehicles after trials. "
    articles = []
    for i in range(n):
        for lang, text in (("ru", sentence), ("en", english)):
            body = " ".join((text * (words // 10 + 1)).split()[:words])
            articles.append(
                ArticleItem(
                    title=f"Авиазавод передал заказчику партию самолётов № {i}"
                    if lang == "ru"
                    else f"Aircraft plant hands over a batch of upgraded transports, part {i}",
                    url=f"{BASE_URL}/articles/{lang}-vta-samolety-partiya-{i:04d}",
                    summary=(body,),
                    lang=lang,
                    published_at=_at(9) + timedelta(minutes=i),
                    author="Наталья Крупенина" if lang == "ru" else "Daniel Harrow",
                    image_url=f"{BASE_URL}/images/vta-samolety-partiya-{i:04d}.jpg",
                    tags=(("aviation", "navy", "armour", "industry")[i % 4],),
                )
            )
    threads = tuple(
        ThreadItem(
            title=f"Корветы 22800: сроки, часть {i}",
            url=f"{BASE_URL}/forum/t/{i}",
            comments=8550,
            last_activity_at=_at(20),
            activity=10 - i,
            extract=(PostExcerpt("Сергей К.", "Сроки сдвигаются третий год подряд. " * 5),),
        )
        for i in range(10)
    )
    return EditionContent(DAY, tuple(articles), threads)


@pytest.mark.parametrize("n", [60, 200])
@pytest.mark.parametrize("other", [False, True])
def test_a_big_day_stays_under_the_limit_with_its_top_stories_intact(n: int, other: bool) -> None:
    content = _big_day(n)
    long_link = f"{BASE_URL}/unsubscribe/" + "k" * 200
    for lang in ("en", "ru"):
        rendered = render_edition(
            content, lang=lang, site_name="VPK News", base_url=BASE_URL, other_languages=other
        )
        html, _ = personalize(rendered, unsubscribe_url=long_link, preferences_url=long_link)
        assert len(html.encode()) < MAX_HTML_BYTES, (lang, len(html.encode()))
        assert rendered.folded == 0  # the five top stories keep their blurbs
        assert html.count("after trials." if lang == "en" else "после испытаний.") >= 5
        edition = reader_edition(content, lang=lang, other_languages=other)
        for story in edition.top:
            assert story.article.title in html


def test_headlines_that_do_not_fit_are_left_to_the_archive_page_with_a_link() -> None:
    content = _big_day(400)
    for lang, more in (("en", "more stories on the site"), ("ru", "на сайте")):
        rendered = render_edition(content, lang=lang, site_name="VPK News", base_url=BASE_URL)
        assert rendered.size < MAX_HTML_BYTES
        assert (rendered.folded, rendered.left_out > 0) == (0, True)
        archive = f"{BASE_URL}/archive/2024-12-23?lang={lang}"
        link = re.search(rf'href="{re.escape(archive)}"[^>]*>([^<]*)</a>', rendered.html)
        assert link is not None and more in link.group(1), link
        assert f"{rendered.left_out}" in link.group(1)
        assert f"{archive}" in rendered.text
        # The headlines kept are the best-ranked ones.
        shown = reader_edition(content, lang=lang).headlines
        assert shown[0].article.title in rendered.html
        assert shown[-1].article.title not in rendered.html


def test_the_lowest_top_stories_become_headlines_only_when_they_alone_are_too_big() -> None:
    content = _big_day(8, words=2500)  # blurbs no real day has: each top story is ~17 KB
    rendered = render_edition(content, lang="ru", site_name="VPK News", base_url=BASE_URL)
    assert rendered.size < MAX_HTML_BYTES
    assert rendered.folded > 0
    assert "top stories made headlines" in rendered.fitting()
    edition = reader_edition(content, lang="ru")
    assert edition.top[0].article.title in rendered.html


def test_a_small_day_folds_nothing_and_says_so() -> None:
    rendered = render_edition(_day(), lang="en", site_name="VPK News", base_url=BASE_URL)
    assert (rendered.folded, rendered.left_out, rendered.fitting()) == (0, 0, "nothing folded")


def test_the_subject_setting_is_used_by_the_renderer() -> None:
    shape = EditionSettings(top_stories=2, subject="{headline} [{more}]")
    rendered = render_edition(
        _day(), lang="en", site_name="VPK News", base_url=BASE_URL, shape=shape
    )
    assert rendered.subject == "English story 0 [and 6 more stories]"
    assert rendered.html.count("happened, and this sentence says so") == 2
