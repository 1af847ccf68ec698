"""Delivery tests' helpers. A fault-injecting SMTP server on 127.0.0.1 (aiosmtpd): chosen
recipients get 4xx or 5xx replies, dropped connections mid-DATA or slow replies; it counts what
it accepted per recipient, with the Message-IDs, so tests can hold the ledger against what
really arrived. And a small edition with subscribers to send, and the environment of a
`newsletter` process that sends it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy import Engine, insert

from newsletter import edition
from newsletter.config import Settings
from newsletter.delivery.smtp.sink import free_port
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Subscriber, SubscriberStatus

_MESSAGE_ID = re.compile(rb"^Message-ID: *(\S+)", re.MULTILINE | re.IGNORECASE)


@dataclass
class Faults:
    """Per recipient address: `rcpt` and `data` map to a reply, `times` how often it is given
    (absent: always); `drop` lists addresses whose connection is closed mid-DATA (once each);
    `slow` delays every reply to those addresses' RCPT by `delay` seconds."""

    rcpt: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    times: dict[str, int] = field(default_factory=dict)
    drop: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    delay: float = 0.2


class _Handler:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.received: dict[str, list[bytes]] = defaultdict(list)
        self.sessions = 0
        self.accepted = 0
        self.refused: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def _fault(self, table: dict[str, str], address: str) -> str | None:
        reply = table.get(address)
        if reply is None:
            return None
        with self.lock:
            left = self.faults.times.get(address)
            if left is not None:
                if left <= 0:
                    return None
                self.faults.times[address] = left - 1
            self.refused[address] += 1
        return reply

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.faults.slow:
            await asyncio.sleep(self.faults.delay)
        reply = self._fault(self.faults.rcpt, address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0]
        reply = self._fault(self.faults.data, address)
        if reply is not None:
            return reply
        data: bytes = envelope.original_content or envelope.content
        match = _MESSAGE_ID.search(data)
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.received[recipient].append(match.group(1) if match else b"")
                self.accepted += 1
        return "250 Message accepted"


class _FaultySMTP(SMTP):
    def _timeout_cb(self) -> None:
        # As Postfix does after its idle timeout (smtpd_timeout, 300 s): a 421 the client reads
        # as the reply to its next command, then the connection closes.
        if self.transport is not None:
            self.transport.write(b"421 4.4.2 relay.example Error: timeout exceeded\r\n")
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    async def smtp_DATA(self, arg: str) -> None:
        handler: _Handler = self.event_handler
        envelope = self.envelope
        if envelope is not None and envelope.rcpt_tos:
            address = envelope.rcpt_tos[0]
            with handler.lock:
                drop = address in handler.faults.drop
                handler.faults.drop.discard(address)
            if drop:
                await self.push("354 End data with <CR><LF>.<CR><LF>")
                await self._reader.readline()  # part of the message arrives, then the line dies
                assert self.transport is not None
                self.transport.abort()
                return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _FaultySMTP(self.handler, **self.SMTP_kwargs)


class FaultySmtpServer:
    """`with FaultySmtpServer(faults) as server:` listens on server.host:server.port."""

    def __init__(
        self, faults: Faults | None = None, *, port: int | None = None, **smtp_options: Any
    ) -> None:
        """`port`: listen where an earlier server did (a relay restarting)."""
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.running = False
        self._handler = _Handler(faults or Faults())
        self._controller = _Controller(
            self._handler, hostname=self.host, port=self.port, **smtp_options
        )

    @property
    def faults(self) -> Faults:
        return self._handler.faults

    @property
    def received(self) -> dict[str, list[bytes]]:
        """Recipient → the Message-IDs of the copies accepted for them, in arrival order."""
        with self._handler.lock:
            return {k: list(v) for k, v in self._handler.received.items()}

    @property
    def accepted(self) -> int:
        """How many copies were accepted in all."""
        return self._handler.accepted

    @property
    def sessions(self) -> int:
        return self._handler.sessions

    def refused(self, address: str) -> int:
        return self._handler.refused[address]

    def __enter__(self) -> FaultySmtpServer:
        self._controller.start()
        self.running = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop listening (again: a no-op)."""
        if self.running:
            self._controller.stop()
            self.running = False


DAY = date(2024, 12, 23)
_ARTICLE = {
    "type": "article",
    "url": "https://vpk-news.example/articles/t9",
    "title": "T-9 trainer flies",
    "body": "The T-9 trainer made its first flight on Monday. It carried two pilots.\n\n"
    "The programme aims to replace older trainers by 2027. Deliveries start next year.",
    "published_at": "2024-12-23T09:40:00+03:00",
    "lang": "en",
}
# Each reader gets their own language's stories: the Russian readers need one.
_RUSSIAN_ARTICLE = {
    "type": "article",
    "url": "https://vpk-news.example/articles/t9-ru",
    "title": "Учебный самолёт Т-9 совершил первый полёт",
    "body": "Учебный самолёт Т-9 совершил первый полёт в понедельник. На борту было два пилота.",
    "published_at": "2024-12-23T09:45:00+03:00",
    "lang": "ru",
}


def make_edition(engine: Engine, settings: Settings, tmp_path: Path, emails: list[str]) -> None:
    """An edition of DAY with one article in each language and active subscribers with these
    addresses (every third one reads Russian and has a Cyrillic name)."""
    source = tmp_path / "day.jsonl"
    source.write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in (_ARTICLE, _RUSSIAN_ARTICLE)),
        "utf-8",
    )
    edition.ingest(engine=engine, settings=settings, paths=[source])
    edition.build(engine=engine, settings=settings, day=DAY)
    with session_scope(engine) as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": email,
                    "name": f"Читатель {n}" if n % 3 == 0 else f"Reader {n}",
                    "lang": "ru" if n % 3 == 0 else "en",
                    "status": SubscriberStatus.ACTIVE,
                }
                for n, email in enumerate(emails)
            ],
        )


def sender_store(url: str) -> tuple[Engine, Settings]:
    """A migrated store and the settings of a sender using it, with a fresh secret key."""
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(
        database_url=url,
        from_address="VPK News <digest@vpk-news.example>",
        base_url="https://news.example.org",
        secret_key=secrets.token_hex(32),
    )
    return engine, settings


def cli_env(settings: Settings, server: FaultySmtpServer, **delivery: str) -> dict[str, str]:
    """The environment of a `newsletter` process sending with `settings` to `server`;
    `delivery` sets delivery.* settings (`max_attempts="2"` → NEWSLETTER_DELIVERY_MAX_ATTEMPTS)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NEWSLETTER_DATABASE_URL": settings.database_url,
        "NEWSLETTER_FROM": settings.require_from(),
        "NEWSLETTER_BASE_URL": settings.require_base_url(),
        "NEWSLETTER_SECRET_KEY": settings.require_secret_key(),
        "NEWSLETTER_SMTP_HOST": server.host,
        "NEWSLETTER_SMTP_PORT": str(server.port),
        **{f"NEWSLETTER_DELIVERY_{name.upper()}": value for name, value in delivery.items()},
    }
