"""`newsletter demo`: the main job end to end on embedded defaults."""

from email import message_from_bytes
from email.policy import default
from pathlib import Path

from newsletter.demo import DEMO_SUBSCRIBERS, run_demo


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
        assert "Vigil-X radar enters service" in html
    # Run twice in the same folder: starts again from nothing, never mails twice into one run.
    again = run_demo(tmp_path / "out")
    assert again.report.sent == len(DEMO_SUBSCRIBERS)
    assert len(list((tmp_path / "out" / "mail").glob("*.eml"))) == len(DEMO_SUBSCRIBERS)
