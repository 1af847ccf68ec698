"""The whole daily job on embedded defaults: a fresh SQLite file, the bundled sample content,
a local SMTP server that saves what it receives. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from newsletter import edition, pipeline
from newsletter.config import Settings, SmtpSettings
from newsletter.delivery import SendReport
from newsletter.delivery.smtp import SmtpTransport
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from subscribers import add_subscriber

DEMO_DAY = date(2024, 12, 23)
SAMPLE_FILES = ("articles.jsonl", "threads.jsonl", "feed-rss.xml", "feed-atom.xml")
DEMO_SUBSCRIBERS = (
    ("reader@vpk-news.example", "Alex Reader", "en"),
    ("chitatel@vpk-news.example", "Иван Читатель", "ru"),
    ("analyst@vpk-news.example", None, "en"),
)


@dataclass(frozen=True)
class DemoResult:
    database: Path
    report: SendReport
    messages: list[Path]


def run_demo(out_dir: Path, day: date = DEMO_DAY) -> DemoResult:
    """Start from nothing in `out_dir`, run the day end to end, return where the mail went."""
    out_dir.mkdir(parents=True, exist_ok=True)
    database = out_dir / "newsletter-demo.sqlite3"
    for stale in (database, *database.parent.glob(f"{database.name}-*")):
        stale.unlink(missing_ok=True)
    mail_dir = out_dir / "mail"
    for old in mail_dir.glob("*.*"):
        old.unlink()
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    with SavingSmtpServer(mail_dir) as server:
        settings = Settings(
            database_url=f"sqlite:///{database}",
            from_address="VPK News <digest@vpk-news.example>",
            base_url="http://127.0.0.1:8000",
            secret_key=secrets.token_hex(32),
            smtp=SmtpSettings(host=server.host, port=server.port),
        )
        samples = resources.files("newsletter.sample_content")
        with resources.as_file(samples) as folder:
            edition.ingest(
                engine=engine, settings=settings, paths=[folder / n for n in SAMPLE_FILES]
            )
        with session_scope(engine) as session:
            for email, name, lang in DEMO_SUBSCRIBERS:
                add_subscriber(session=session, email=email, name=name, lang=lang)
        with SmtpTransport(settings.smtp) as transport:
            report = pipeline.run(engine=engine, settings=settings, day=day, transport=transport)
        messages = server.saved
    engine.dispose()
    return DemoResult(database, report, messages)
