"""Every link in a mail binds to the subscriber's own random key, which is never reused and dies
with their row: an erased person's old links never act on whoever comes next (issue 11, item 2).
The links are taken from what the product really mailed, through a real SMTP server."""

from __future__ import annotations

import hmac
import mailbox
import re
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from itsdangerous import URLSafeSerializer
from sqlalchemy import Engine, select, text

from newsletter import pipeline
from newsletter.config import Settings
from newsletter.delivery.bounces.mailbox import import_bounces
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import LINK_KEY_LENGTH, Subscriber, SubscriberStatus
from subscribers import (
    add_subscriber,
    forget,
    read_token,
    record_change,
    subscriber_for_link,
)
from tests.conftest import FIXTURES, downgrade, received
from tests.smtp_faults import DAY, make_edition
from tests.web_site import Site, open_site


def _links(message: EmailMessage, base: str, path: str) -> list[str]:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return re.findall(rf"{re.escape(base)}/{path}/[^\s>]+", body.get_content())


def _mailed_links(site: Site, email: str) -> tuple[str, str, str]:
    """(confirm, unsubscribe, preferences) links the product mailed to a new subscriber."""
    before = len(site.smtp.saved)
    site.subscribe(email)
    site.mails(before + 1)  # the confirmation leaves from the background
    (confirmation,) = received(site.smtp)[before:]
    (confirm,) = _links(confirmation, site.base, "confirm")
    assert site.http.get(confirm).status_code == 200
    pipeline.send(engine=site.engine, settings=site.settings, day=DAY)
    (edition,) = [
        m for m in received(site.smtp)[before + 1 :] if m["To"].addresses[0].addr_spec == email
    ]
    (unsubscribe,) = _links(edition, site.base, "unsubscribe")
    (preferences,) = _links(edition, site.base, "preferences")
    assert edition["List-Unsubscribe"] == f"<{unsubscribe}>"
    return confirm, unsubscribe, preferences


def test_an_erased_subscribers_links_do_not_act_on_the_next_one(
    sqlite_url: str, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    """SQLite gives a new row the highest id again once that row is deleted."""
    with open_site(sqlite_url, smtp_server) as site:
        make_edition(site.engine, site.settings, tmp_path, ["first@example.org"])
        confirm, unsubscribe, preferences = _mailed_links(site, "ann@example.org")
        ann = site.subscriber("ann@example.org")
        assert ann is not None
        with session_scope(site.engine) as session:
            forget(session=session, email="ann@example.org")
        site.subscribe("bob@example.org")
        bob = site.stored("bob@example.org")
        assert bob is not None and bob.id == ann.id, "SQLite reused the id: the case to test"

        page = site.http.get(preferences)
        assert "bob@example.org" not in page.text
        assert page.status_code == 410

        confirmed = site.http.get(confirm)
        assert confirmed.status_code == 410
        bob = site.subscriber("bob@example.org")
        assert bob is not None and bob.status is SubscriberStatus.PENDING, "confirmed by Ann's link"

        with session_scope(site.engine) as session:
            stored = session.get(type(bob), bob.id)
            assert stored is not None
            record_change(
                session=session, subscriber=stored, status=SubscriberStatus.ACTIVE, cause="test"
            )
        site.http.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        bob = site.subscriber("bob@example.org")
        assert bob is not None and bob.status is SubscriberStatus.ACTIVE, (
            "unsubscribed by Ann's link"
        )


def test_a_complaint_about_an_erased_subscribers_mail_does_not_name_the_next_one(
    sqlite_url: str, smtp_server: SavingSmtpServer, tmp_path: Path
) -> None:
    """A redacted complaint is matched by the Message-ID alone: it must not find whoever took
    over the erased subscriber's row id."""
    with open_site(sqlite_url, smtp_server) as site:
        make_edition(site.engine, site.settings, tmp_path, ["first@example.org"])
        _mailed_links(site, "ann@example.org")
        (ann_copy,) = [
            m
            for m in received(site.smtp)
            if m["To"].addresses[0].addr_spec == "ann@example.org" and m["Auto-Submitted"] is None
        ]
        with session_scope(site.engine) as session:
            forget(session=session, email="ann@example.org")
        before = len(site.smtp.saved)
        site.subscribe("bob@example.org")
        site.mails(before + 1)
        site.http.get(_links(received(site.smtp)[-1], site.base, "confirm")[0])
        bob = site.subscriber("bob@example.org")
        assert bob is not None and bob.status is SubscriberStatus.ACTIVE

        report = (FIXTURES / "bounces" / "arf-redacted.eml").read_bytes()
        box = mailbox.mbox(tmp_path / "complaints.mbox")
        box.add(
            report.replace(b"MESSAGE_ID_FOR(hidden@isp.example)", ann_copy["Message-ID"].encode())
        )
        box.flush()
        import_bounces(
            engine=site.engine, settings=site.settings, path=tmp_path / "complaints.mbox"
        )
        bob = site.subscriber("bob@example.org")
        assert bob is not None and bob.status is SubscriberStatus.ACTIVE, "Ann's complaint hit Bob"


def _legacy_message_id(secret: str, edition_id: int, subscriber_id: int) -> str:
    """A Message-ID as sending made them before link keys (signed over the row id)."""
    text = f"message-id:{edition_id}:{subscriber_id}".encode()
    tag = hmac.new(secret.encode(), text, "sha256").hexdigest()[:16]
    return f"<{DAY:%Y%m%d}.{subscriber_id}.{tag}@vpk-news.example>"


def test_links_mailed_before_keys_keep_working_for_their_row_only(
    database_url: str, tmp_path: Path
) -> None:
    """Rows on the list at the migration get a random key each and keep honouring the links and
    Message-IDs already mailed with their row id; a row that later takes over an id does not."""
    engine = make_engine(database_url)
    upgrade(engine, "0003")
    secret = secrets.token_hex(32)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscribers (email, lang, status, created_at, updated_at, sections) "
                "VALUES ('ann@example.org', 'en', 'active', :t, :t, '[]'), "
                "('bob@example.org', 'en', 'active', :t, :t, '[]')"
            ),
            {"t": datetime(2024, 1, 1, tzinfo=UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO editions (edition_date, status, subject, created_at, updated_at) "
                "VALUES (:d, 'sent', 'S', :t, :t)"
            ),
            {"d": DAY, "t": datetime(2024, 1, 1, tzinfo=UTC)},
        )
        ids = {e: i for e, i in connection.execute(text("SELECT email, id FROM subscribers"))}
        edition_id = connection.execute(text("SELECT id FROM editions")).scalar_one()
    # What the old make_token signed: the row id.
    old_token = URLSafeSerializer(secret, salt="unsubscribe").dumps(ids["bob@example.org"])
    upgrade(engine)

    with session_scope(engine) as session:
        rows = session.scalars(select(Subscriber)).all()
        assert {len(row.link_key) for row in rows} == {LINK_KEY_LENGTH}
        assert len({row.link_key for row in rows}) == len(rows)
        assert all(row.legacy_id_links for row in rows)
        link = read_token(secret=secret, purpose="unsubscribe", token=old_token)
        found = subscriber_for_link(session=session, link=link)
        assert found is not None and found.email == "bob@example.org"

    settings = Settings(database_url=database_url, secret_key=secret)
    mbox = tmp_path / "complaints.mbox"
    report = (FIXTURES / "bounces" / "arf-redacted.eml").read_bytes()
    box = mailbox.mbox(mbox)
    box.add(
        report.replace(
            b"MESSAGE_ID_FOR(hidden@isp.example)",
            _legacy_message_id(secret, edition_id, ids["ann@example.org"]).encode(),
        )
    )
    box.flush()
    assert import_bounces(engine=engine, settings=settings, path=mbox).complained == 1

    with session_scope(engine) as session:
        forget(session=session, email="bob@example.org")
        carol = add_subscriber(session=session, email="carol@example.org")
        assert len(carol.link_key) == LINK_KEY_LENGTH and not carol.legacy_id_links
        if engine.dialect.name == "sqlite":
            assert carol.id == ids["bob@example.org"]
        assert subscriber_for_link(session=session, link=link) is None
    engine.dispose()


def test_downgrading_the_link_keys_keeps_everything_else(engine: Engine) -> None:
    """SQLite rebuilds a table to drop a column the old way, and with foreign keys on, dropping
    the old table deletes every history entry with it."""
    with session_scope(engine) as session:
        add_subscriber(session=session, email="ann@example.org")
    downgrade(engine, "0003")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM subscriber_events")).scalar() == 1
        columns = connection.execute(text("SELECT * FROM subscribers")).keys()
        assert "link_key" not in columns and "legacy_id_links" not in columns
    upgrade(engine)
    with session_scope(engine) as session:
        ann = session.scalars(select(Subscriber)).one()
        assert len(ann.link_key) == LINK_KEY_LENGTH and ann.legacy_id_links
