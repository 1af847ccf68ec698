"""`newsletter send --to`: a test copy is made as subscribers' copies are, with signed links
whose pages say they belong to a test copy and change nothing (issue 12, item 4). Sent through
a real SMTP server (aiosmtpd); its links followed against the Starlette app."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from email.message import EmailMessage
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
from tests.smtp_faults import DAY, make_edition


def _send_to(settings: Settings, *, secret: bool = True) -> subprocess.CompletedProcess[str]:
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
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "send", "--date", str(DAY), "--to", "ed@example.org"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
