"""`newsletter demo`: the main job end to end on embedded defaults."""

import json
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from importlib import resources
from pathlib import Path

from newsletter.demo import DEMO_SUBSCRIBERS, run_demo


def _day_articles() -> dict[str, str]:
    """URL → language of the bundled articles of the demo day (JSON Lines and the Atom feed)."""
    folder = resources.files("newsletter.sample_content")
    records = [
        json.loads(line)
        for line in (folder / "articles.jsonl").read_text("utf-8").split("\n")
        if line
    ]
    return {r["url"]: r["lang"] for r in records if r["published_at"].startswith("2024-12-23")}


def test_the_demo_delivers_a_readable_edition_to_every_subscriber(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "out")
    assert result.report.sent == len(DEMO_SUBSCRIBERS)
    assert sorted(p.name.split("-", 1)[1] for p in result.messages) == sorted(
        f"{email}.eml" for email, _, _ in DEMO_SUBSCRIBERS
    )
    for eml in result.messages:
        message = message_from_bytes(eml.read_bytes(), policy=default)
        html = eml.with_suffix(".html").read_text("utf-8")
        sent = message.get_body(preferencelist=("html",)).get_content()
        assert html == sent.replace("\r\n", "\n")
    # Run twice in the same folder: starts again from nothing, never mails twice into one run.
    again = run_demo(tmp_path / "out")
    assert again.report.sent == len(DEMO_SUBSCRIBERS)
    assert len(list((tmp_path / "out" / "mail").glob("*.eml"))) == len(DEMO_SUBSCRIBERS)


def test_each_language_gets_only_its_stories_top_story_first_and_in_the_subject(
    tmp_path: Path,
) -> None:
    result = run_demo(tmp_path / "out")
    articles = _day_articles()
    langs = {email: lang for email, _, lang in DEMO_SUBSCRIBERS}
    seen = set()
    for eml in result.messages:
        message = message_from_bytes(eml.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        lang = langs[message["To"].addresses[0].addr_spec]
        html = eml.with_suffix(".html").read_text("utf-8")
        own = [url for url, article_lang in articles.items() if article_lang == lang]
        other = [url for url, article_lang in articles.items() if article_lang != lang]
        assert own and all(f'href="{url}"' in html for url in own)
        assert not any(url in html for url in other), lang
        # The subject starts with the first top story's headline, which opens the edition.
        first_story = html.index('<h3 lang="')
        headline = html[html.index(">", html.index("<a ", first_story)) + 1 :].split("</a>")[0]
        assert message["Subject"].startswith(" ".join(headline.split()))
        assert message["Content-Language"] == lang
        seen.add(lang)
    assert seen == {"en", "ru"}
