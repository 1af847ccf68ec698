"""`newsletter send --to`: a test copy is made as subscribers' copies are, with signed links
whose pages say they belong to a test copy and change nothing (issue 12, item 4); a preview
carries the same links. Sent through a real SMTP server (aiosmtpd) or written by `preview`;
the links followed against the Starlette app."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import httpx
from sqlalchemy import Engine, select
from starlette.applications import Starlette

from newsletter.config import Settings
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import session_scope
from newsletter.store.models import Delivery, Subscriber, SubscriberStatus
from newsletter.web import create_app
from tests.conftest import received, serving
from tests.processes import run_newsletter
from tests.smtp_faults import DAY, make_edition


def _send_to(settings: Settings, *, secret: bool = True) -> subprocess.CompletedProcess[str]:
    return _newsletter(
        settings, "send", "--date", str(DAY), "--to", "ed@example.org", secret=secret
    )


def _newsletter(
    settings: Settings, *args: str, secret: bool = True
) -> subprocess.CompletedProcess[str]:
    """The installed command in a process of its own, on `settings`."""
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": settings.database_url,
        "NEWSLETTER_FROM": str(settings.from_address),
        "NEWSLETTER_BASE_URL": str(settings.base_url),
        "NEWSLETTER_SMTP_HOST": settings.smtp.host,
        "NEWSLETTER_SMTP_PORT": str(settings.smtp.port),
    }
    if secret:
        env["NEWSLETTER_SECRET_KEY"] = str(settings.secret_key)
    return run_newsletter(env, *args)


def _links(message: EmailMessage, path: str) -> set[str]:
    found: set[str] = set()
    for part in ("plain", "html"):
        body = message.get_body(preferencelist=(part,))
        assert body is not None
        found.update(
            re.findall(rf"https://news\.example\.org(/{path}/[^\s\"<>]+)", body.get_content())
        )
    return found


def test_a_test_copys_links_work_and_say_so(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    make_edition(engine, settings, tmp_path, ["reader@example.org"])
    done = _send_to(settings)
    assert done.returncode == 0, done.stderr
    (copy,) = received(smtp_server)
    assert copy["To"].addresses[0].addr_spec == "ed@example.org"

    (unsubscribe,) = _links(copy, "unsubscribe")
    (preferences,) = _links(copy, "preferences")
    assert copy["List-Unsubscribe"] == f"<https://news.example.org{unsubscribe}>"
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    _follow_test_copy_links(engine, settings, unsubscribe, preferences)

    with session_scope(engine) as session:
        reader = session.scalars(select(Subscriber)).one()
        assert reader.status is SubscriberStatus.ACTIVE
        assert session.scalars(select(Delivery)).all() == []  # a test copy is recorded nowhere


def test_a_test_copy_needs_the_secret_key(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    make_edition(engine, settings, tmp_path, ["reader@example.org"])
    done = _send_to(settings, secret=False)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: NEWSLETTER_SECRET_KEY is not set"), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert received(smtp_server) == []


def _follow_test_copy_links(
    engine: Engine, settings: Settings, unsubscribe: str, preferences: str
) -> None:
    """Each link's page answers, says it belongs to a test copy, and changes nothing."""

    def make_app(base_url: str) -> Starlette:
        mine = dataclasses.replace(settings, base_url=base_url)
        return create_app(settings=mine, engine=engine)

    with serving(make_app) as base, httpx.Client(base_url=base) as client:
        for page in (
            client.get(unsubscribe),
            client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}),
            client.get(preferences),
        ):
            assert page.status_code == 200, page.text
            assert "This is a test copy" in page.text
            assert "nothing was changed" in page.text


def test_a_previews_links_are_a_test_copys(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    make_edition(engine, settings, tmp_path, ["reader@example.org"])
    out = tmp_path / "preview"
    done = _newsletter(settings, "preview", "--date", str(DAY), "--out", str(out))
    assert done.returncode == 0, done.stderr
    for lang in ("en", "ru"):
        stem = out / f"edition-{DAY}.{lang}"
        eml = message_from_bytes(Path(f"{stem}.eml").read_bytes(), policy=default)
        assert isinstance(eml, EmailMessage)
        (unsubscribe,) = _links(eml, "unsubscribe")
        (preferences,) = _links(eml, "preferences")
        assert eml["List-Unsubscribe"] == f"<https://news.example.org{unsubscribe}>"
        for written in (Path(f"{stem}.html"), Path(f"{stem}.txt")):
            page = written.read_text("utf-8")
            assert f"https://news.example.org{unsubscribe}" in page, written
            assert f"https://news.example.org{preferences}" in page, written
        _follow_test_copy_links(engine, settings, unsubscribe, preferences)

    with session_scope(engine) as session:
        reader = session.scalars(select(Subscriber)).one()
        assert reader.status is SubscriberStatus.ACTIVE


def test_a_preview_needs_the_secret_key(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    """Without the key no link of a preview could open a page: it says so and writes nothing."""
    make_edition(engine, settings, tmp_path, ["reader@example.org"])
    out = tmp_path / "preview"
    done = _newsletter(settings, "preview", "--date", str(DAY), "--out", str(out), secret=False)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: NEWSLETTER_SECRET_KEY is not set"), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not out.exists()
