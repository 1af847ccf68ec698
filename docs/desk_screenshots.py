"""Draw the README's pictures of the editors' desk with the product's own screenshot code
(`newsletter.render.screenshots`): the sample content in a fresh SQLite file, 22 December sent
to 150 made-up subscribers through a local SMTP server (a few of whom then bounce or
complain), 23 December a draft an editor has shaped; then the calendar, that draft's page and
the 22nd's delivery view, at 1366 px, as `newsletter serve` shows them.

    .venv/bin/python docs/desk_screenshots.py      # writes docs/screenshots/desk-*.png

Needs Playwright and the system's Chromium, like `newsletter preview --screenshots`."""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from datetime import date
from importlib import resources
from pathlib import Path

import uvicorn
from playwright.sync_api import Page

from newsletter.config import DeliverySettings, Settings, SmtpSettings
from newsletter.delivery.engine import send
from newsletter.delivery.smtp.sink import SavingSmtpServer, free_port
from newsletter.desk import accounts, actions
from newsletter.edition import build, ingest
from newsletter.render.screenshots import take_page_screenshots
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import SubscriberStatus
from newsletter.store.queries import get_subscriber
from newsletter.web import create_app
from subscribers import add_subscriber, record_change

OUT = Path(__file__).parent / "screenshots"
SENT, DRAFT = date(2024, 12, 22), date(2024, 12, 23)
EDITOR, PASSWORD = "maria.editor@vpk-news.example", "a desk password"
SAMPLE_FILES = ("articles.jsonl", "threads.jsonl", "feed-rss.xml", "feed-atom.xml")


def prepare(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    samples = resources.files("newsletter.sample_content")
    with resources.as_file(samples) as folder:
        ingest(engine=engine, settings=settings, paths=[folder / n for n in SAMPLE_FILES])
    with session_scope(engine) as session:
        for n in range(150):
            add_subscriber(
                session=session, email=f"reader{n:03}@example.org", lang="ru" if n % 3 else "en"
            )
        accounts.add_editor(session=session, email=EDITOR, password=PASSWORD)
    build(engine=engine, settings=settings, day=SENT)
    actions.approve(engine=engine, day=SENT, editor=EDITOR)
    send(engine=engine, settings=settings, day=SENT)
    with session_scope(engine) as session:
        for n, status, cause in (
            (4, SubscriberStatus.BOUNCED, "bounce report: 5.1.1 user unknown"),
            (17, SubscriberStatus.BOUNCED, "bounce report: 5.1.1 mailbox disabled"),
            (58, SubscriberStatus.COMPLAINED, "complaint (ARF abuse report)"),
        ):
            subscriber = get_subscriber(session=session, email=f"reader{n:03}@example.org")
            assert subscriber is not None
            record_change(session=session, subscriber=subscriber, status=status, cause=cause)
    build(engine=engine, settings=settings, day=DRAFT)
    change = {"engine": engine, "settings": settings, "day": DRAFT, "editor": EDITOR}
    tank = "https://vpk-news.example/articles/mbt-upgrade-remote-turret"
    actions.change_item(**change, url=tank, action="pin")  # type: ignore[arg-type]
    actions.change_item(
        **change,  # type: ignore[arg-type]
        url="https://vpk-news.example/articles/hanoi-defence-expo-wrap-up",
        action="exclude",
    )
    actions.change_edition(
        **change,  # type: ignore[arg-type]
        subjects={"ru": "Главное за 23 декабря: «Стриж-Д», подлодка и самолёты"},
        note="The next edition comes on 27 December: the desk takes a short Christmas break.",
    )
    engine.dispose()


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder, SavingSmtpServer(Path(folder) / "mail") as smtp:
        settings = Settings(
            database_url=f"sqlite:///{folder}/desk.sqlite3",
            from_address="VPK News <digest@vpk-news.example>",
            base_url=base,
            secret_key=secrets.token_hex(32),
            smtp=SmtpSettings(host=smtp.host, port=smtp.port),
            # Slow enough that the chart has a shape: 150 messages over about 5 seconds.
            delivery=DeliverySettings(connections=1, rate_per_second=30),
        )
        prepare(settings)
        engine = make_engine(settings.database_url)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings=settings, engine=engine),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="off",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)

        def sign_in(page: Page) -> None:
            page.goto(f"{base}/desk/login")
            page.fill("#email", EDITOR)
            page.fill("#password", PASSWORD)
            with page.expect_navigation():
                page.click("button[type=submit]")

        written = take_page_screenshots(
            [
                (f"{base}/desk", OUT / "desk-calendar.png"),
                (f"{base}/desk/edition/{DRAFT}?lang=en&view=desktop", OUT / "desk-edition.png"),
                (f"{base}/desk/edition/{SENT}/delivery", OUT / "desk-delivery.png"),
            ],
            before=sign_in,
        )
        server.should_exit = True
        thread.join(10)
        engine.dispose()
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
