"""What keeps the pages from being abused: HEAD never acts, redirects never follow the Host
header, the rate limit trusts X-Forwarded-For only from a configured proxy and keeps a bounded
table, and forms are refused from other sites and when replayed or stale."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import session_scope
from newsletter.web.security import AttemptLimit
from subscribers import add_subscriber, unsubscribe_url
from tests.web_site import Clock, Site, open_site


@pytest.fixture
def site(sqlite_url: str, smtp_server: SavingSmtpServer) -> Iterator[Site]:
    with open_site(sqlite_url, smtp_server) as opened:
        yield opened


def _form(site: Site, email: str, client: httpx.Client | None = None) -> dict[str, str]:
    return {"email": email, "lang": "en", "csrf": site.csrf("/subscribe", client)}


# --- HEAD and redirects ---


def test_head_shows_the_form_and_spends_nothing(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    with open_site(sqlite_url, smtp_server, per_hour=1) as site:
        for _ in range(3):
            head = site.http.head("/subscribe")
            assert head.status_code == 200 and head.content == b""
        assert site.subscribe("ann@example.org").status_code == 200  # the one attempt left
        assert site.subscribe("bob@example.org").status_code == 429
        token = site.token("unsubscribe", "ann@example.org")
        assert site.http.head(f"/unsubscribe/{token}").status_code == 200
        stored = site.stored("ann@example.org")
        assert stored.status.value == "pending"  # HEAD did not unsubscribe


def test_a_trailing_slash_redirects_to_the_base_url_not_the_host_header(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    with open_site(sqlite_url, smtp_server, base_path="/newsletter") as site:
        moved = site.http.get(
            "/subscribe/?lang=ru", headers={"Host": "evil.example"}, follow_redirects=False
        )
        assert moved.status_code in (307, 308)
        assert moved.headers["location"] == f"{site.base}/newsletter/subscribe?lang=ru"
        assert site.http.get("/nowhere/", follow_redirects=False).status_code == 404


# --- the rate limit's client address ---


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_configured(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    with open_site(sqlite_url, smtp_server, per_hour=2) as limited:
        answers = [
            limited.http.post(
                "/subscribe",
                data=_form(limited, f"user{n}@example.org"),
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(3)
        ]
    assert answers == [200, 200, 429]


def test_a_configured_proxy_gives_each_client_its_own_limit(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    trusted = {"trusted_proxies": ("127.0.0.1",)}
    with open_site(sqlite_url, smtp_server, per_hour=1, app=trusted) as site:

        def post(n: int, forwarded: str) -> int:
            form = _form(site, f"user{n}@example.org")
            headers = {"X-Forwarded-For": forwarded}
            return site.http.post("/subscribe", data=form, headers=headers).status_code

        # Real client addresses are keys; the proxy's own entry is the rightmost one.
        assert [post(n, f"203.0.113.{n}") for n in range(3)] == [200, 200, 200]
        assert post(3, "203.0.113.1") == 429
        assert post(4, "198.51.100.7, 203.0.113.2") == 429  # the client forged the first entry
        # Values that are not addresses are no keys: they count as the proxy itself.
        assert [post(n, value) for n, value in enumerate(("junk", "x" * 50, "unknown"), 5)] == [
            200,
            429,
            429,
        ]


def test_the_limiter_table_stays_bounded() -> None:
    clock = Clock(0.0)
    limit = AttemptLimit(2, clock, max_clients=100)
    for n in range(1000):
        assert limit.allow(f"client{n}") == 0
        clock.advance(0.001)
    assert len(limit) <= 100
    assert limit.allow("client999") == 0  # the recent ones are still counted
    assert limit.allow("client999") > 0


def test_clients_whose_bucket_refilled_are_forgotten() -> None:
    clock = Clock(0.0)
    limit = AttemptLimit(60, clock)
    for n in range(50):
        limit.allow(f"client{n}")
    clock.advance(120)  # one token a minute: every bucket is full again
    limit.allow("late")
    assert len(limit) == 1


# --- CSRF ---


def test_forms_from_another_site_are_refused(site: Site) -> None:
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another site's page too
    ):
        form = _form(site, "ann@example.org")
        refused = site.http.post("/subscribe", data=form, headers=headers)
        assert refused.status_code == 403, headers
        assert "did not come from this site" in refused.text
    # Our own pages, as browsers send them (with no-referrer, older ones say Origin: null).
    for same in (
        {"Origin": site.base, "Sec-Fetch-Site": "same-origin"},
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "null"},
        {"Origin": site.base},
    ):
        form = _form(site, "ann@example.org")
        assert site.http.post("/subscribe", data=form, headers=same).status_code == 200, same


def test_a_foreign_origin_is_refused_whatever_sec_fetch_site_says(site: Site) -> None:
    """Both of the browser's words must say this site: a same-origin Sec-Fetch-Site does not
    excuse an Origin of another site."""
    form = _form(site, "ann@example.org")
    refused = site.http.post(
        "/subscribe",
        data=form,
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    assert "did not come from this site" in refused.text


def test_a_form_token_works_once(site: Site) -> None:
    form = _form(site, "ann@example.org")
    assert site.http.post("/subscribe", data=form).status_code == 200
    replayed = site.http.post("/subscribe", data=form)
    assert replayed.status_code == 403


def test_a_form_token_expires_within_hours(site: Site) -> None:
    form = _form(site, "ann@example.org")
    site.clock.advance(3 * 3600)
    assert site.http.post("/subscribe", data=form).status_code == 403


def test_a_cookie_the_client_chose_is_not_the_nonce(site: Site) -> None:
    planted = "attacker-chosen-nonce-0123456789"
    with httpx.Client(base_url=site.base, cookies={"newsletter_csrf": planted}) as client:
        page = client.get("/subscribe")
        cookie = page.headers.get("set-cookie", "")
        assert planted not in cookie
        assert re.search(r"newsletter_csrf=[^;]+", cookie), cookie
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        # The token is good with the server's cookie only, not with the planted one.
        attacker = httpx.Client(base_url=site.base, cookies={"newsletter_csrf": planted})
        with attacker:
            forged = attacker.post(
                "/subscribe",
                data={"email": "ann@example.org", "lang": "en", "csrf": token.group(1)},
            )
        assert forged.status_code == 403


def test_one_click_unsubscribe_from_a_mail_client_stays_exempt(site: Site) -> None:
    with session_scope(site.engine) as session:
        add_subscriber(session=session, email="ann@example.org")
    ann = site.stored("ann@example.org")
    assert site.settings.secret_key
    url = unsubscribe_url(base_url=site.base, secret=site.settings.secret_key, key=ann.link_key)
    with httpx.Client() as mail_client:
        done = mail_client.post(
            url,
            files={"List-Unsubscribe": (None, "One-Click")},
            headers={"Origin": "https://mail.example", "Sec-Fetch-Site": "cross-site"},
        )
    assert done.status_code == 200
    assert site.stored("ann@example.org").status.value == "unsubscribed"
