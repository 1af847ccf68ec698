"""Confirmation emails go through a queue in the database that `newsletter serve`'s background
sender drains: the subscribe form answers at once whatever the address and whatever the relay
does, and no confirmation is lost to a relay's idle timeout, a slow or down relay, a restart,
an internationalised address or a race."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dkim
import httpx
from sqlalchemy import event, func, select

from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import session_scope
from newsletter.store.models import Subscriber, SubscriberStatus
from subscribers import add_subscriber, forget
from tests.conftest import received
from tests.smtp_faults import Faults, FaultySmtpServer
from tests.web_site import KEYS, open_site, wait_for

QUICK_RETRY = {"confirm_backoff_seconds": 0.2}


def _dns(name: bytes, timeout: int = 5) -> bytes | None:
    """The TXT record `news2024._domainkey.vpk-news.example` would hold."""
    if name != b"news2024._domainkey.vpk-news.example.":
        return None
    pem = (KEYS / "test-public.pem").read_text().splitlines()
    return b"v=DKIM1; k=rsa; p=" + "".join(pem[1:-1]).encode()


def _dead_port() -> int:
    with socket.socket() as closed:  # a port with nothing listening once closed
        closed.bind(("127.0.0.1", 0))
        return int(closed.getsockname()[1])


def test_a_relay_that_closes_idle_connections_loses_no_confirmation(sqlite_url: str) -> None:
    # Postfix closes an idle client after 300 s with "421 4.4.2 timeout exceeded"; this relay
    # does so after 2 s, and the second sign-up comes after a quiet spell longer than that.
    with FaultySmtpServer(timeout=2) as relay, open_site(sqlite_url, relay) as site:
        assert site.subscribe("first@example.org").status_code == 200
        wait_for(lambda: "first@example.org" in relay.received, "the first confirmation")
        time.sleep(3)
        assert site.subscribe("second@example.org").status_code == 200
        wait_for(lambda: "second@example.org" in relay.received, "the second confirmation")
        assert {k: len(v) for k, v in relay.received.items()} == {
            "first@example.org": 1,
            "second@example.org": 1,
        }


def test_a_stalled_relay_slows_neither_the_form_nor_the_other_pages(sqlite_url: str) -> None:
    """45 sign-ups while the relay takes 2 s per message: every answer, and /archive and
    /preferences, come back while the relay still holds the first messages. Inside a request
    nothing waits for the relay, for a new address or a listed one."""
    addresses = [f"reader{n}@example.org" for n in range(45)]
    faults = Faults(slow=set(addresses) | {"listed@example.org"}, delay=2)
    with FaultySmtpServer(faults) as relay, open_site(sqlite_url, relay) as site:
        with session_scope(site.engine) as session:
            add_subscriber(session=session, email="listed@example.org")
        preferences = f"/preferences/{site.token('preferences', 'listed@example.org')}"

        def sign_up(email: str) -> int:
            with httpx.Client(base_url=site.base, timeout=60) as client:
                return site.subscribe(email, client=client).status_code

        with ThreadPoolExecutor(len(addresses)) as pool:
            answers = list(pool.map(sign_up, addresses))
            assert site.http.get("/archive").status_code == 200
            assert site.http.get(preferences).status_code == 200
            accepted_meanwhile = relay.accepted
        assert answers == [200] * len(addresses)
        # Waiting for the relay, 45 answers alone would take 90 s; these took a few messages'
        # time at most (a generous bound for a loaded machine).
        assert accepted_meanwhile <= 10, "the pages waited for the relay"
        # A new address and a listed one: both answered while the relay is still busy.
        new, listed = site.subscribe("new@example.org"), site.subscribe("listed@example.org")
        assert relay.accepted < len(addresses)
        assert (new.status_code, new.text) == (listed.status_code, listed.text)


def test_the_request_does_the_same_work_for_any_address(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    """The SQL run inside the request is the same for a new, a listed and a forgotten address:
    what tells them apart happens later, in the background sender's thread."""
    with open_site(sqlite_url, smtp_server) as site:
        with session_scope(site.engine) as session:
            add_subscriber(session=session, email="listed@example.org")
            forget(session=session, email="gone@example.org")
        statements: list[str] = []

        def record(*args: Any) -> None:
            if threading.current_thread().name != "confirmations":
                statements.append(args[2])

        event.listen(site.engine, "before_cursor_execute", record)
        work = {}
        for email in ("new@example.org", "listed@example.org", "gone@example.org"):
            form = {"email": email, "lang": "en", "csrf": site.csrf("/subscribe")}
            statements.clear()
            assert site.http.post("/subscribe", data=form).status_code == 200
            work[email] = list(statements)
        event.remove(site.engine, "before_cursor_execute", record)
    assert work["new@example.org"], "no SQL seen"
    assert work["new@example.org"] == work["listed@example.org"] == work["gone@example.org"]


def test_confirmations_are_dkim_signed(sqlite_url: str, smtp_server: SavingSmtpServer) -> None:
    with open_site(sqlite_url, smtp_server, dkim=True) as site:
        site.subscribe("ann@example.org", lang="ru")
        site.mails(1)
    (path,) = smtp_server.saved
    raw = path.read_bytes()
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
    assert dkim.verify(raw, dnsfunc=_dns), raw[:800]
    assert not dkim.verify(raw.replace(b"Subject: ", b"Subject: Re: ", 1), dnsfunc=_dns)


def test_internationalised_addresses_get_their_confirmation(
    sqlite_url: str, tmp_path: Path
) -> None:
    with (
        SavingSmtpServer(tmp_path / "utf8", enable_SMTPUTF8=True) as relay,
        open_site(sqlite_url, relay, dkim=True) as site,
    ):
        for email in ("josé@example.com", "пользователь@пример.рф"):
            answer = site.subscribe(email)
            assert answer.status_code == 200, answer.text
            assert "Check your inbox" in answer.text
        links = site.confirm_links(2)
        recipients = sorted(str(m["To"]) for m in received(relay))
        assert recipients == ["josé@example.com", "пользователь@xn--e1afmkfd.xn--p1ai"]
        for path in relay.saved:
            assert dkim.verify(path.read_bytes(), dnsfunc=_dns)
        for link in links:
            assert site.http.get(link).status_code == 200
        for email in ("josé@example.com", "пользователь@пример.рф"):
            stored = site.subscriber(email)
            assert stored is not None and stored.status is SubscriberStatus.ACTIVE


def test_a_relay_without_smtputf8_leaves_the_request_reported_not_a_500(
    sqlite_url: str, tmp_path: Path
) -> None:
    with (
        SavingSmtpServer(tmp_path / "ascii", enable_SMTPUTF8=False) as relay,
        open_site(sqlite_url, relay, web=QUICK_RETRY) as site,
    ):
        answer = site.subscribe("josé@example.com")
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        failed = wait_for(
            lambda: (row := site.request_row("josé@example.com")) and row.failed_at and row,
            "the request to be reported failed",
        )
        assert failed.reply_code == 553 and "SMTPUTF8" in (failed.last_error or "")
        stored = site.subscriber("josé@example.com")
        # Pending, and free to ask again: a relay that learns SMTPUTF8 can still reach them.
        assert stored is not None and stored.status is SubscriberStatus.PENDING
        assert stored.confirmation_sent_at is None
        assert site.mails() == 0


def test_a_temporary_refusal_is_retried_with_back_off(sqlite_url: str) -> None:
    faults = Faults(rcpt={"ann@example.org": "451 4.3.0 try again later"})
    faults.times["ann@example.org"] = 2
    with (
        FaultySmtpServer(faults) as relay,
        open_site(sqlite_url, relay, web=QUICK_RETRY) as site,
    ):
        site.subscribe("ann@example.org")
        wait_for(lambda: "ann@example.org" in relay.received, "the confirmation")
        assert relay.refused("ann@example.org") == 2
        wait_for(lambda: not site.queued(), "the queue to empty")


def test_a_request_made_while_the_relay_is_down_is_sent_after_a_restart(
    database_url: str, smtp_server: SavingSmtpServer
) -> None:
    down = _dead_port()
    with open_site(database_url, smtp_server, smtp_port=down, web=QUICK_RETRY) as site:
        assert site.subscribe("ann@example.org").status_code == 200
        wait_for(lambda: site.request_row("ann@example.org", tried=True), "a first try")
        key = site.settings.secret_key
    # `newsletter serve` restarted, the relay back: the queued request goes out.
    with open_site(database_url, smtp_server, secret_key=key, web=QUICK_RETRY) as site:
        (link,) = site.confirm_links(1)
        assert site.http.get(link).status_code == 200
        wait_for(lambda: not site.queued(), "the queue to empty")


def test_twenty_concurrent_submissions_of_one_new_address(
    database_url: str, smtp_server: SavingSmtpServer
) -> None:
    with open_site(database_url, smtp_server) as site:
        clients = [httpx.Client(base_url=site.base, timeout=60) for _ in range(20)]
        tokens = [site.csrf("/subscribe", client) for client in clients]
        start = threading.Barrier(len(clients))

        def submit(n: int) -> int:
            start.wait()
            form = {"email": "race@example.org", "lang": "en", "csrf": tokens[n]}
            return clients[n].post("/subscribe", data=form).status_code

        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(submit, range(len(clients))))
        for client in clients:
            client.close()
        assert answers == [200] * len(clients)
        site.mails(1)
        wait_for(lambda: not site.queued(), "the queue to empty")
        assert site.mails() == 1
        with session_scope(site.engine) as session:
            count = session.scalar(select(func.count()).select_from(Subscriber))
        assert count == 1
