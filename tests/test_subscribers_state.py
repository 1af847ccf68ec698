"""States and their history, signed links that expire, and the
migration that brings existing lists into the history table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Subscriber, SubscriberEvent, SubscriberStatus, new_link_key
from subscribers import (
    Confirmed,
    ExpiredToken,
    InvalidToken,
    add_subscriber,
    confirm,
    confirm_url,
    make_timed_token,
    preferences_url,
    read_timed_token,
    read_token,
    record_change,
    request_subscription,
    unsubscribe,
)
from subscribers.queries import history_of
from tests.conftest import downgrade

SECRET = "3f1c0a9e8b7d6c5f4e3d2c1b0a998877"
WEEK = timedelta(days=7)
T0 = 1_750_000_000.0


# --- signed links ---

KEY = new_link_key()


def test_a_timed_token_works_until_it_expires() -> None:
    token = make_timed_token(secret=SECRET, purpose="confirm", key=KEY, clock=lambda: T0)
    within = T0 + WEEK.total_seconds() - 1
    read = read_timed_token(
        secret=SECRET, purpose="confirm", token=token, max_age=WEEK, clock=lambda: within
    )
    assert read.key == KEY
    with pytest.raises(ExpiredToken, match="the confirm link has expired"):
        read_timed_token(
            secret=SECRET,
            purpose="confirm",
            token=token,
            max_age=WEEK,
            clock=lambda: T0 + WEEK.total_seconds() + 1,
        )


def test_a_tampered_or_misdirected_timed_token_is_invalid_not_expired() -> None:
    token = make_timed_token(secret=SECRET, purpose="confirm", key=KEY, clock=lambda: T0)
    for bad, purpose in ((token[:-2] + "xx", "confirm"), (token, "preferences")):
        with pytest.raises(InvalidToken) as caught:
            read_timed_token(
                secret=SECRET, purpose=purpose, token=bad, max_age=WEEK, clock=lambda: T0
            )
        assert not isinstance(caught.value, ExpiredToken)


def test_links_carry_their_purpose() -> None:
    prefs = preferences_url(base_url="https://x.example/nl/", secret=SECRET, key=KEY)
    assert prefs.startswith("https://x.example/nl/preferences/")
    token = prefs.rsplit("/", 1)[1]
    assert read_token(secret=SECRET, purpose="preferences", token=token).key == KEY
    with pytest.raises(InvalidToken):
        read_token(secret=SECRET, purpose="unsubscribe", token=token)
    link = confirm_url(base_url="https://x.example/nl", secret=SECRET, key=KEY)
    assert link.startswith("https://x.example/nl/confirm/")


# --- states and history ---


def test_record_change_is_idempotent_and_keeps_causes_on_one_line(engine: Engine) -> None:
    with session_scope(engine) as session:
        ann = add_subscriber(session=session, email="ann@example.org")
        bounce = "bounce: 550 5.1.1\r\n<ann@example.org>: user unknown " + "x" * 400
        assert record_change(
            session=session, subscriber=ann, status=SubscriberStatus.BOUNCED, cause=bounce
        )
        assert not record_change(
            session=session, subscriber=ann, status=SubscriberStatus.BOUNCED, cause=bounce
        )
        session.flush()
        events = history_of(session=session, subscriber_id=ann.id)
        assert [(e.old_status, e.new_status) for e in events] == [
            (None, SubscriberStatus.ACTIVE),
            (SubscriberStatus.ACTIVE, SubscriberStatus.BOUNCED),
        ]
        cause = events[1].cause
        assert cause.startswith("bounce: 550 5.1.1 <ann@example.org>: user unknown x")
        assert len(cause) == 300 and "\n" not in cause


def test_consent_round_in_the_library(engine: Engine) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        first = request_subscription(
            session=session, email="Ann@Example.org", lang="ru", now=now, cause="form"
        )
        assert first is not None and (first.email, first.lang) == ("Ann@example.org", "ru")
        # Asked again at once: no second email; later: a fresh one.
        assert (
            request_subscription(
                session=session, email="ann@example.org", lang="en", now=now, cause="form"
            )
            is None
        )
        later = now + timedelta(minutes=11)
        assert (
            request_subscription(
                session=session, email="ann@example.org", lang="en", now=later, cause="form"
            )
            is not None
        )
        assert (
            confirm(session=session, subscriber_id=first.subscriber_id, now=later, cause="link")
            is Confirmed.NOW
        )
        assert (
            confirm(session=session, subscriber_id=first.subscriber_id, now=later, cause="link")
            is Confirmed.ALREADY
        )
        assert (
            request_subscription(
                session=session, email="ann@example.org", lang="ru", now=later, cause="form"
            )
            is None
        )  # active: nothing to send, language unchanged by a stranger
        assert unsubscribe(session=session, subscriber_id=first.subscriber_id, now=later, cause="c")
        assert not unsubscribe(
            session=session, subscriber_id=first.subscriber_id, now=later, cause="c"
        )
        assert (
            confirm(session=session, subscriber_id=first.subscriber_id, now=later, cause="link")
            is Confirmed.GONE
        )
        stored = session.get(Subscriber, first.subscriber_id)
        assert stored is not None and (stored.status, stored.lang) == (
            SubscriberStatus.UNSUBSCRIBED,
            "en",
        )
        assert (
            confirm(session=session, subscriber_id=10_000, now=later, cause="link")
            is Confirmed.GONE
        )


# --- migration ---


def test_the_migration_gives_existing_subscribers_a_history(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0002")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscribers (email, name, lang, status, created_at, updated_at) "
                "VALUES ('ann@example.org', NULL, 'en', 'active', :t, :t), "
                "('bob@example.org', NULL, 'ru', 'unsubscribed', :t, :t)"
            ),
            {"t": datetime(2024, 1, 1, tzinfo=UTC)},
        )
    upgrade(engine)
    with session_scope(engine) as session:
        events = session.scalars(select(SubscriberEvent).order_by(SubscriberEvent.id)).all()
        assert [(e.subscriber_id, e.old_status, e.new_status) for e in events] == [
            (1, None, SubscriberStatus.ACTIVE),
            (2, None, SubscriberStatus.UNSUBSCRIBED),
        ]
        assert events[0].cause == "on the list before history was kept"
        assert [s.sections for s in session.scalars(select(Subscriber))] == [[], []]
    downgrade(engine, "0002")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM subscribers")).scalar() == 2
        with pytest.raises(IntegrityError):  # the case-blind unique index survived
            connection.execute(
                text(
                    "INSERT INTO subscribers (email, lang, status, created_at, updated_at) "
                    "VALUES ('ANN@example.org', 'en', 'active', :t, :t)"
                ),
                {"t": datetime(2024, 1, 1, tzinfo=UTC)},
            )
    engine.dispose()
