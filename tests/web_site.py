"""The subscription pages as tests drive them: `newsletter serve`'s app under uvicorn on
127.0.0.1 (lifespan on, so its background sender runs), httpx, a real SMTP server and a real
database. Clocks are passed in, so expiry and rate limits are tested without waiting; mail is
waited for, as it leaves from the background."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from sqlalchemy import Engine, select
from starlette.applications import Starlette

from newsletter.config import DkimSettings, Settings, SmtpSettings, WebSettings
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Subscriber, SubscribeRequest, SubscriberEvent
from newsletter.store.queries import get_subscriber
from newsletter.web import create_app
from subscribers import make_token
from tests.conftest import FIXTURES, received, serving

DAY = 24 * 3600
KEYS = FIXTURES / "dkim"


class Relay(Protocol):
    host: str
    port: int


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """Poll until `condition()` is true (the background sender works on its own time)."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


@dataclass
class Site:
    base: str
    http: httpx.Client
    engine: Engine
    settings: Settings
    smtp: Relay
    clock: Clock
    rate_clock: Clock

    def csrf(self, path: str, client: httpx.Client | None = None) -> str:
        page = (client or self.http).get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)

    def subscribe(
        self, email: str, lang: str = "en", client: httpx.Client | None = None
    ) -> httpx.Response:
        token = self.csrf("/subscribe", client)
        return (client or self.http).post(
            "/subscribe", data={"email": email, "lang": lang, "csrf": token}
        )

    def mails(self, count: int | None = None) -> int:
        """How many messages arrived; with `count`, first wait until that many have."""
        assert isinstance(self.smtp, SavingSmtpServer)
        server = self.smtp
        if count is not None:
            wait_for(lambda: len(server.saved) >= count, f"{count} messages")
            time.sleep(0.1)  # and no more than that
        return len(server.saved)

    def confirm_links(self, count: int | None = None) -> list[str]:
        assert isinstance(self.smtp, SavingSmtpServer)
        self.mails(count)
        links = []
        for message in received(self.smtp):
            text = message.get_body(preferencelist=("plain",))
            assert text is not None
            links += re.findall(rf"{re.escape(self.base)}/confirm/\S+", text.get_content())
        return links

    def subscriber(self, email: str) -> Subscriber | None:
        with session_scope(self.engine) as session:
            return get_subscriber(session=session, email=email)

    def stored(self, email: str) -> Subscriber:
        """The subscriber, once the background sender has taken their request in."""
        found: Subscriber = wait_for(lambda: self.subscriber(email), f"{email} to be stored")
        return found

    def history(self, email: str) -> list[tuple[str | None, str, str]]:
        stored = self.stored(email)
        with session_scope(self.engine) as session:
            events = session.scalars(
                select(SubscriberEvent)
                .where(SubscriberEvent.subscriber_id == stored.id)
                .order_by(SubscriberEvent.id)
            )
            return [
                (e.old_status.value if e.old_status else None, e.new_status.value, e.cause)
                for e in events
            ]

    def queued(self) -> int:
        """Subscription requests the background sender has still to finish."""
        with session_scope(self.engine) as session:
            return len(
                session.scalars(
                    select(SubscribeRequest.id).where(SubscribeRequest.failed_at.is_(None))
                ).all()
            )

    def request_row(self, email: str, *, tried: bool = False) -> SubscribeRequest | None:
        """The queued request for `email`; with `tried`, only once it has been tried."""
        with session_scope(self.engine) as session:
            query = select(SubscribeRequest).where(SubscribeRequest.email == email)
            if tried:
                query = query.where(SubscribeRequest.attempts > 0)
            return session.scalars(query).first()

    def token(self, purpose: str, email: str) -> str:
        stored = self.stored(email)
        assert self.settings.secret_key
        return make_token(secret=self.settings.secret_key, purpose=purpose, key=stored.link_key)


@contextmanager
def open_site(
    database_url: str,
    smtp: Relay,
    *,
    per_hour: int = 1000,
    sections: tuple[str, ...] = (),
    smtp_port: int | None = None,
    base_path: str = "",
    dkim: bool = False,
    web: dict[str, Any] | None = None,
    app: dict[str, Any] | None = None,
    secret_key: str | None = None,
) -> Iterator[Site]:
    """The site on `database_url`, mailing through `smtp`. `web` sets more WebSettings fields,
    `app` more arguments of create_app; `base_path` puts the base URL under a path, as behind
    a proxy."""
    engine = make_engine(database_url)
    upgrade(engine)
    clock, rate_clock = Clock(time.time()), Clock(1000.0)
    made: dict[str, Settings] = {}
    key = secret_key or secrets.token_hex(32)

    def make_app(base_url: str) -> Starlette:
        settings = Settings(
            database_url=database_url,
            from_address="VPK News <digest@vpk-news.example>",
            base_url=base_url + base_path,
            secret_key=key,
            smtp=SmtpSettings(host=smtp.host, port=smtp_port or smtp.port),
            web=WebSettings(subscribe_per_hour=per_hour, sections=sections, **(web or {})),
            dkim=DkimSettings(
                selector="news2024", domain="vpk-news.example", key_path=KEYS / "test-private.pem"
            )
            if dkim
            else DkimSettings(),
        )
        made["settings"] = settings
        return create_app(
            settings=settings, engine=engine, clock=clock, rate_clock=rate_clock, **(app or {})
        )

    with serving(make_app) as base, httpx.Client(base_url=base, timeout=60) as http:
        yield Site(base, http, engine, made["settings"], smtp, clock, rate_clock)
    engine.dispose()
