"""The subscription pages over real HTTP (see tests/web_site.py for the harness)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import Engine, select, text

from newsletter.content import ArticleRecord, IngestBatch
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.edition import build
from newsletter.store.db import make_engine, session_scope
from newsletter.store.models import (
    Delivery,
    DeliveryStatus,
    EditionStatus,
    Subscriber,
    SubscriberStatus,
    new_link_key,
)
from newsletter.store.queries import get_edition, get_subscriber, store_batch
from subscribers import add_subscriber, forget, make_token, record_change, unsubscribe_url
from tests.conftest import received
from tests.web_site import DAY, Site, open_site, wait_for


@pytest.fixture
def site(sqlite_url: str, smtp_server: SavingSmtpServer) -> Iterator[Site]:
    with open_site(sqlite_url, smtp_server) as opened:
        yield opened


def _text(response: httpx.Response) -> str:
    """The page's words, without markup, for assertions on what a person reads."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


# --- double opt-in ---


def test_subscribe_confirm_and_history(database_url: str, smtp_server: SavingSmtpServer) -> None:
    with open_site(database_url, smtp_server) as site:
        answer = site.subscribe(" Reader@Example.ORG ", lang="ru")
        assert answer.status_code == 200
        assert "Check your inbox" in answer.text
        site.mails(1)
        stored = site.subscriber("reader@example.org")
        assert stored is not None
        assert (stored.email, stored.lang, stored.status) == (
            "Reader@example.org",
            "ru",
            SubscriberStatus.PENDING,
        )

        (message,) = received(smtp_server)
        assert message["To"].addresses[0].addr_spec == "Reader@example.org"
        assert message["Subject"] == "Подтвердите подписку на VPK News"
        assert message["Auto-Submitted"] == "auto-generated"
        html = message.get_body(preferencelist=("html",))
        assert html is not None
        (link,) = site.confirm_links()
        assert f'href="{link}"' in html.get_content()

        confirmed = site.http.get(link)
        assert confirmed.status_code == 200
        assert "You are subscribed" in confirmed.text
        assert site.http.get(link).status_code == 200  # opening it again changes nothing
        stored = site.subscriber("reader@example.org")
        assert stored is not None and stored.status is SubscriberStatus.ACTIVE
        assert stored.confirmed_at is not None
        assert site.history("reader@example.org") == [
            (None, "pending", "subscribe form, from 127.0.0.1"),
            ("pending", "active", "confirmation link"),
        ]


def test_the_answer_does_not_tell_who_is_on_the_list(site: Site) -> None:
    with session_scope(site.engine) as session:
        add_subscriber(session=session, email="active@example.org")
        forget(session=session, email="gone@example.org")
    site.subscribe("pending@example.org")
    site.mails(1)
    pages = {
        email: _text(site.subscribe(email))
        for email in (
            "new@example.org",
            "active@example.org",
            "pending@example.org",
            "gone@example.org",
        )
    }
    assert len(set(pages.values())) == 1, pages
    # New gets an email; pending got one just now (no second within minutes); active and
    # forgotten get none.
    site.mails(2)
    wait_for(lambda: not site.queued(), "the queue to empty")
    recipients = [m["To"].addresses[0].addr_spec for m in received(site.smtp)]
    assert recipients == ["pending@example.org", "new@example.org"]
    assert site.subscriber("gone@example.org") is None


def test_resubscribing_after_leaving_needs_a_new_confirmation(site: Site) -> None:
    site.subscribe("ann@example.org")
    site.http.get(site.confirm_links(1)[0])
    site.http.post(
        f"/unsubscribe/{site.token('unsubscribe', 'ann@example.org')}",
        data={"List-Unsubscribe": "One-Click"},
    )
    first_link = site.confirm_links()[0]
    gone = site.http.get(first_link)  # the old link no longer speaks for them
    assert gone.status_code == 410
    assert "subscribe again" in gone.text

    site.subscribe("ann@example.org")
    assert len(site.confirm_links(2)) == 2
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.status is SubscriberStatus.PENDING
    site.http.get(site.confirm_links()[1])
    assert [new for _, new, _ in site.history("ann@example.org")] == [
        "pending",
        "active",
        "unsubscribed",
        "pending",
        "active",
    ]


def test_the_form_does_not_mail_someone_who_complained(site: Site) -> None:
    site.subscribe("ann@example.org")
    site.http.get(site.confirm_links(1)[0])
    with session_scope(site.engine) as session:
        stored = get_subscriber(session=session, email="ann@example.org")
        assert stored is not None
        record_change(
            session=session, subscriber=stored, status=SubscriberStatus.COMPLAINED, cause="ARF"
        )
    site.subscribe("ann@example.org")  # anyone can type their address into the form
    wait_for(lambda: not site.queued(), "the queue to empty")
    assert len(site.confirm_links()) == 1
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.status is SubscriberStatus.COMPLAINED


def test_an_expired_confirmation_link(site: Site) -> None:
    site.subscribe("ann@example.org")
    (link,) = site.confirm_links(1)
    site.clock.advance(7 * DAY + 60)
    expired = site.http.get(link)
    assert expired.status_code == 410
    assert "This link has expired" in expired.text
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.status is SubscriberStatus.PENDING
    # A new request after the resend pause gives a fresh link that works.
    site.subscribe("ann@example.org")
    assert site.http.get(site.confirm_links(2)[1]).status_code == 200


@pytest.mark.parametrize("path", ["confirm", "unsubscribe", "preferences"])
def test_tampered_links_get_a_clear_page(site: Site, path: str) -> None:
    site.subscribe("ann@example.org")
    token = site.confirm_links(1)[0].rsplit("/", 1)[1] if path == "confirm" else None
    token = token or site.token(path, "ann@example.org")
    payload, _, signature = token.rpartition(".")
    other = make_token(secret="another-secret-0123456789", purpose=path, key=new_link_key())
    for bad in (f"{payload}.{signature[:-3]}abc", "x" * 40, other, f"{token}x"):
        page = site.http.get(f"/{path}/{bad}")
        assert page.status_code == 400, bad
        assert "This link is not valid" in page.text
        assert "Traceback" not in page.text


def test_a_link_made_for_another_purpose_is_refused(site: Site) -> None:
    site.subscribe("ann@example.org")
    unsubscribe = site.token("unsubscribe", "ann@example.org")
    assert site.http.get(f"/confirm/{unsubscribe}").status_code == 400
    assert site.http.get(f"/preferences/{unsubscribe}").status_code == 400
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.status is SubscriberStatus.PENDING


# --- form safety ---


def test_a_form_without_its_csrf_token_or_cookie_is_refused(site: Site) -> None:
    token = site.csrf("/subscribe")
    no_token = site.http.post("/subscribe", data={"email": "a@example.org", "lang": "en"})
    assert no_token.status_code == 403
    with httpx.Client(base_url=site.base) as stranger:  # has the field, not the cookie
        no_cookie = stranger.post(
            "/subscribe", data={"email": "a@example.org", "lang": "en", "csrf": token}
        )
    assert no_cookie.status_code == 403
    assert "did not come from this site" in no_cookie.text
    site.subscribe("ann@example.org")
    prefs = f"/preferences/{site.token('preferences', 'ann@example.org')}"
    wrong_page = site.http.post(prefs, data={"lang": "ru", "csrf": token})
    assert wrong_page.status_code == 403  # a token signed for another page
    assert site.mails(1) == 1
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.lang == "en"


def test_rate_limit_per_client(sqlite_url: str, smtp_server: SavingSmtpServer) -> None:
    with open_site(sqlite_url, smtp_server, per_hour=3) as site:
        for n in range(3):
            assert site.subscribe(f"user{n}@example.org").status_code == 200
        limited = site.subscribe("user3@example.org")
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) == 1200  # one attempt per 20 minutes
        assert site.subscriber("user3@example.org") is None
        site.rate_clock.advance(1200)
        assert site.subscribe("user3@example.org").status_code == 200
        assert site.subscribe("user4@example.org").status_code == 429


@pytest.mark.parametrize(
    "email",
    [
        "ann@example.org\r\nBcc: everyone@example.org",
        "ann@example.org\nSubject: hi",
        "<script>alert(1)</script>@example.org",
        "not-an-address",
    ],
)
def test_bad_addresses_are_refused_and_shown_escaped(site: Site, email: str) -> None:
    refused = site.subscribe(email)
    assert refused.status_code == 400
    assert "<script>" not in refused.text
    assert 'id="problem"' in refused.text
    assert site.mails() == 0
    with session_scope(site.engine) as session:
        assert session.scalars(select(Subscriber)).first() is None


def test_field_and_body_caps(site: Site) -> None:
    token = site.csrf("/subscribe")
    long = site.http.post(
        "/subscribe", data={"email": "a" * 310 + "@example.org", "lang": "en", "csrf": token}
    )
    assert long.status_code == 400
    assert "longer than 320 characters" in long.text
    huge = site.http.post(
        "/subscribe", data={"email": "a@example.org", "lang": "en", "csrf": token, "x": "y" * 20000}
    )
    assert huge.status_code == 413
    token = site.csrf("/subscribe")  # a form token works once
    twice = site.http.post(
        "/subscribe",
        content=f"email=a@example.org&email=b@example.org&lang=en&csrf={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400
    assert site.mails() == 0


def test_pages_forbid_scripts_framing_and_referers(site: Site) -> None:
    page = site.http.get("/subscribe")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_unknown_pages_and_methods_get_a_page(site: Site) -> None:
    missing = site.http.get("/nowhere")
    assert missing.status_code == 404 and "There is no page here" in missing.text
    assert site.http.delete("/subscribe").status_code == 405


def test_a_relay_that_is_down_keeps_the_request_queued(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    import socket

    with socket.socket() as closed:  # a port with nothing listening
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
    with open_site(sqlite_url, smtp_server, smtp_port=dead) as site:
        answer = site.subscribe("ann@example.org")
        assert answer.status_code == 200  # the same page: an error only for new addresses
        assert "Check your inbox" in answer.text  # would tell who is on the list
        # The request stays queued and is tried again later (see test_web_queue.py).
        request = wait_for(lambda: site.request_row("ann@example.org", tried=True), "a try")
        assert request.failed_at is None and "cannot connect" in (request.last_error or "")
        stored = site.subscriber("ann@example.org")
        assert stored is not None and stored.status is SubscriberStatus.PENDING


def test_a_broken_database_gets_an_error_page_not_a_traceback(site: Site) -> None:
    site.subscribe("ann@example.org")
    engine = make_engine(site.settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE subscriber_events"))
    engine.dispose()
    broken = site.http.get(site.confirm_links(1)[0])
    assert broken.status_code == 500
    assert "Please try again later" in broken.text
    assert "Traceback" not in broken.text and "subscriber_events" not in broken.text


# --- unsubscribe ---


def test_one_click_unsubscribe_is_idempotent(site: Site) -> None:
    with session_scope(site.engine) as session:
        add_subscriber(session=session, email="ann@example.org")
    ann = site.subscriber("ann@example.org")
    assert ann is not None and site.settings.secret_key
    url = unsubscribe_url(base_url=site.base, secret=site.settings.secret_key, key=ann.link_key)
    page = site.http.get(url)
    assert page.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    # As mail clients send it (RFC 8058): multipart/form-data, no cookie, no CSRF token.
    with httpx.Client() as mail_client:
        for _ in range(3):  # replayed
            done = mail_client.post(url, files={"List-Unsubscribe": (None, "One-Click")})
            assert done.status_code == 200
        urlencoded = mail_client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert urlencoded.status_code == 200
        assert mail_client.post(url).status_code == 400  # not a one-click request
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED
    assert stored.unsubscribed_at is not None
    assert site.history("ann@example.org") == [
        (None, "active", "added by the operator"),
        ("active", "unsubscribed", "one-click unsubscribe (mail client)"),
    ]
    assert "You are unsubscribed" in site.http.get(url).text


def test_unsubscribing_an_erased_subscriber_is_quietly_done(site: Site) -> None:
    site.subscribe("ann@example.org")
    token = site.token("unsubscribe", "ann@example.org")
    with session_scope(site.engine) as session:
        forget(session=session, email="ann@example.org")
    gone = site.http.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert gone.status_code == 200


# --- preferences ---


def _articles(engine: Engine) -> None:
    when = datetime.now(UTC)
    batch = IngestBatch(
        source="test",
        articles=(
            ArticleRecord("https://x.example/1", "T1", "B.", when, "en", tags=("navy", "UAV")),
            ArticleRecord("https://x.example/2", "T2", "B.", when, "ru", tags=("air defence",)),
        ),
    )
    with session_scope(engine) as session:
        store_batch(session=session, batch=batch)


def test_preferences_offer_the_tags_in_the_store(site: Site) -> None:
    _articles(site.engine)
    site.subscribe("ann@example.org")
    path = f"/preferences/{site.token('preferences', 'ann@example.org')}"
    page = site.http.get(path)
    offered = re.findall(r'name="sections" value="([^"]+)"', page.text)
    assert offered == ["air defence", "navy", "uav"]
    token = site.csrf(path)
    saved = site.http.post(
        path, data={"lang": "ru", "sections": ["navy", "air defence"], "csrf": token}
    )
    assert saved.status_code == 200 and "Your preferences are saved" in saved.text
    stored = site.subscriber("ann@example.org")
    assert stored is not None
    assert (stored.lang, stored.sections) == ("ru", ["air defence", "navy"])
    assert re.findall(r'value="([^"]+)" checked', saved.text) == ["ru", "air defence", "navy"]

    token = site.csrf(path)  # a form token works once
    unknown = site.http.post(path, data={"lang": "en", "sections": ["cooking"], "csrf": token})
    assert unknown.status_code == 400 and "not one of the sections on offer" in unknown.text
    token = site.csrf(path)
    bad_lang = site.http.post(path, data={"lang": "de", "csrf": token})
    assert bad_lang.status_code == 400
    stored = site.subscriber("ann@example.org")
    assert stored is not None and (stored.lang, stored.sections) == ("ru", ["air defence", "navy"])


def test_the_other_languages_headlines_are_off_until_ticked(site: Site) -> None:
    site.subscribe("ann@example.org")
    path = f"/preferences/{site.token('preferences', 'ann@example.org')}"
    page = site.http.get(path)
    assert re.search(r'name="other_languages" value="yes">', page.text)  # shown, not ticked
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.other_languages is False
    token = site.csrf(path)
    saved = site.http.post(path, data={"lang": "en", "other_languages": "yes", "csrf": token})
    assert re.search(r'name="other_languages" value="yes" checked', saved.text)
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.other_languages is True
    # Unticked, the browser sends nothing for it: that is "no". A form token works once.
    site.http.post(path, data={"lang": "en", "csrf": site.csrf(path)})
    stored = site.subscriber("ann@example.org")
    assert stored is not None and stored.other_languages is False


def test_configured_sections_are_offered(sqlite_url: str, smtp_server: SavingSmtpServer) -> None:
    with open_site(sqlite_url, smtp_server, sections=("navy", "space")) as site:
        _articles(site.engine)
        site.subscribe("ann@example.org")
        page = site.http.get(f"/preferences/{site.token('preferences', 'ann@example.org')}")
        assert re.findall(r'name="sections" value="([^"]+)"', page.text) == ["navy", "space"]


# --- archive ---


def test_the_archive_shows_only_sent_editions(site: Site) -> None:
    _articles(site.engine)
    today = datetime.now(site.settings.timezone).date()
    build(engine=site.engine, settings=site.settings, day=today)
    listing = site.http.get("/archive")
    assert "No edition has been sent yet" in listing.text
    assert site.http.get(f"/archive/{today}").status_code == 404  # a draft is not public
    with session_scope(site.engine) as session:
        edition = get_edition(session=session, edition_date=today)
        assert edition is not None
        edition.status = EditionStatus.SENDING
        edition_id = edition.id
    # Nobody has it yet: it may still be built again, or never go out.
    assert site.http.get(f"/archive/{today}").status_code == 404
    with session_scope(site.engine) as session:
        reader = Subscriber(email="first@example.org")
        session.add(reader)
        session.flush()
        session.add(
            Delivery(edition_id=edition_id, subscriber_id=reader.id, status=DeliveryStatus.SENT)
        )
    # "View in browser" works from the first message out, not only after the last.
    assert site.http.get(f"/archive/{today}").status_code == 200
    with session_scope(site.engine) as session:
        edition = get_edition(session=session, edition_date=today)
        assert edition is not None
        edition.status = EditionStatus.SENT
    listing = site.http.get("/archive")
    assert f"/archive/{today}?lang=ru" in listing.text
    for lang, own, other in (("en", "T1", "T2"), ("ru", "T2", "T1")):
        page = site.http.get(f"/archive/{today}", params={"lang": lang})
        assert page.status_code == 200
        assert own in page.text and "<script" not in page.text
        assert f">{other}<" not in page.text  # each language's page holds its own stories
        assert f"{site.base}/unsubscribe" in page.text
    assert site.http.get("/archive/2024-13-45").status_code == 404
    assert site.http.get(f"/archive/{date(2001, 1, 1)}").status_code == 404
