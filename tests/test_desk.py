"""The editors' desk over real HTTP (uvicorn on 127.0.0.1, httpx), a real database and SMTP
server: who may see and do what, and that editors' changes outlive a rebuild."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text
from starlette.applications import Starlette

from newsletter.config import EditionSettings, Settings, SmtpSettings
from newsletter.content import ArticleRecord, IngestBatch
from newsletter.delivery.smtp import SmtpTransport
from newsletter.delivery.smtp.sink import SavingSmtpServer, free_port
from newsletter.desk import accounts, actions
from newsletter.edition import build, ingest, load_content
from newsletter.edition.choices import article_sentences
from newsletter.errors import EditionStateError
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Article, EditorAction, ItemOverride
from newsletter.store.queries import get_edition, store_batch
from newsletter.web import create_app
from newsletter.web.desk.session import FAILURES_PER_ACCOUNT, FAILURES_PER_CLIENT, SESSION_HOURS
from tests.conftest import downgrade, serving
from tests.smtp_faults import sender_store
from tests.web_site import Clock

DAY = date(2024, 12, 23)
SAMPLE_FILES = ("articles.jsonl", "threads.jsonl", "feed-rss.xml", "feed-atom.xml")
EDITOR = "editor@vpk-news.example"
PASSWORD = "correct horse battery"
HANOI = "https://vpk-news.example/articles/hanoi-defence-expo-wrap-up"
VIGIL = "https://vpk-news.example/articles/vigil-x-radar-counter-drone"
TANK = "https://vpk-news.example/articles/mbt-upgrade-remote-turret"
STRIZH = "https://vpk-news.example/articles/bpla-strizh-dalnost"


def sample_day(engine: Engine, settings: Settings) -> None:
    """The bundled sample content, the edition of 23 December 2024 built, one editor."""
    samples = resources.files("newsletter.sample_content")
    with resources.as_file(samples) as folder:
        ingest(engine=engine, settings=settings, paths=[folder / n for n in SAMPLE_FILES])
    build(engine=engine, settings=settings, day=DAY)
    with session_scope(engine) as session:
        accounts.add_editor(session=session, email=EDITOR, password=PASSWORD)


@dataclass
class DeskSite:
    base: str
    http: httpx.Client
    engine: Engine
    settings: Settings
    clock: Clock

    def token(self, path: str) -> str:
        page = self.http.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)

    def sign_in(self, email: str = EDITOR, password: str = PASSWORD) -> httpx.Response:
        token = self.token("/desk/login")
        return self.http.post(
            "/desk/login", data={"email": email, "password": password, "csrf": token}
        )

    def act(self, path: str, **data: str) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.token(path), **data})

    def actions(self) -> list[str]:
        with session_scope(self.engine) as session:
            return [a.action for a in session.scalars(select(EditorAction))]


@contextmanager
def open_desk(database_url: str, smtp: SavingSmtpServer, **app: Any) -> Iterator[DeskSite]:
    """The desk on a fresh store holding the sample day; `app`: more of `create_app`'s
    arguments (`trusted_proxies`)."""
    engine = make_engine(database_url)
    upgrade(engine)
    clock = Clock(time.time())
    made: dict[str, Settings] = {}

    def make_app(base_url: str) -> Starlette:
        settings = Settings(
            database_url=database_url,
            from_address="VPK News <digest@vpk-news.example>",
            base_url=base_url,
            secret_key=secrets.token_hex(32),
            smtp=SmtpSettings(host=smtp.host, port=smtp.port),
        )
        made["settings"] = settings
        return create_app(settings=settings, engine=engine, clock=clock, **app)

    with serving(make_app) as base, httpx.Client(base_url=base, timeout=60) as http:
        sample_day(engine, made["settings"])
        yield DeskSite(base, http, engine, made["settings"], clock)
    engine.dispose()


@pytest.fixture
def desk(sqlite_url: str, smtp_server: SavingSmtpServer) -> Iterator[DeskSite]:
    with open_desk(sqlite_url, smtp_server) as opened:
        yield opened


EDITION = f"/desk/edition/{DAY.isoformat()}"


def test_pages_and_actions_need_a_session(desk: DeskSite) -> None:
    for path in ("/desk", EDITION, f"{EDITION}/email", f"{EDITION}/delivery"):
        answer = desk.http.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"{desk.base}/desk/login"
    # A token from the sign-in page does not make an action without a session.
    token = desk.token("/desk/login")
    refused = desk.http.post(EDITION, data={"csrf": token, "action": "exclude", "url": HANOI})
    assert refused.status_code == 403
    assert desk.actions() == []


def test_sign_in_sets_a_protected_session_cookie(desk: DeskSite) -> None:
    answer = desk.sign_in()
    assert answer.status_code == 303
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "newsletter_desk" in v
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/desk" in cookie
    assert f"Max-Age={SESSION_HOURS * 3600}" in cookie
    calendar = desk.http.get("/desk")
    assert calendar.status_code == 200
    assert 'data-day="2024-12-23"' in calendar.text
    assert "default-src 'none'" in calendar.headers["content-security-policy"]
    assert "<script" not in calendar.text


def test_actions_need_the_pages_token_and_a_same_origin_request(desk: DeskSite) -> None:
    desk.sign_in()
    form = {"action": "exclude", "url": HANOI}
    assert desk.http.post(EDITION, data=form).status_code == 403  # no token
    forged = desk.http.post(EDITION, data={**form, "csrf": "eyJub3QiOiJvdXJzIn0.forged"})
    assert forged.status_code == 403
    # A token of another page does not work here.
    other = desk.http.post(EDITION, data={**form, "csrf": desk.token("/desk")})
    assert other.status_code == 403
    cross = desk.http.post(
        EDITION,
        data={**form, "csrf": desk.token(EDITION)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    elsewhere = desk.http.post(
        EDITION,
        data={**form, "csrf": desk.token(EDITION)},
        headers={"Origin": "https://attacker.example"},
    )
    assert elsewhere.status_code == 403
    assert desk.actions() == []
    done = desk.act(EDITION, **form)
    assert done.status_code == 200 and 'id="notice"' in done.text
    assert desk.actions() == ["exclude"]


def test_cross_site_posts_to_desk_actions_are_refused(desk: DeskSite) -> None:
    """The desk's actions and sign-in pass the site's one CSRF check (`Csrf`), the public
    forms' own: a request another site's page made is refused even with a good token."""
    foreign = (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another site
        {"Origin": "https://attacker.example"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "https://attacker.example"},
    )
    for headers in foreign:
        token = desk.token("/desk/login")
        refused = desk.http.post(
            "/desk/login",
            data={"email": EDITOR, "password": PASSWORD, "csrf": token},
            headers=headers,
        )
        assert refused.status_code == 403, headers
        assert "did not come from this site" in refused.text
        assert "newsletter_desk" not in refused.headers.get("set-cookie", "")
    desk.sign_in()
    posts = (
        (EDITION, {"action": "exclude", "url": HANOI}),
        (EDITION, {"action": "approve"}),
        ("/desk", {"action": "signout"}),
    )
    for path, form in posts:
        for headers in foreign:
            refused = desk.http.post(path, data={**form, "csrf": desk.token(path)}, headers=headers)
            assert refused.status_code == 403, (path, form, headers)
            assert "did not come from this site" in refused.text
    assert desk.actions() == []
    assert desk.http.get("/desk").status_code == 200  # still signed in: no sign-out went through


def test_wrong_passwords_beyond_the_limit_are_refused(desk: DeskSite) -> None:
    for _ in range(FAILURES_PER_ACCOUNT):
        assert desk.sign_in(password="wrong password!").status_code == 403
    refused = desk.sign_in()  # the right password, too late
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "newsletter_desk" not in refused.headers.get("set-cookie", "")
    assert desk.http.get("/desk").status_code == 303
    desk.clock.advance(16 * 60)  # the failures age out
    assert desk.sign_in().status_code == 303


def _fail_sign_ins(desk: DeskSite, forwarded_for: list[str]) -> list[int]:
    """A wrong sign-in as each X-Forwarded-For in turn, each for another address, so that only
    the limit per client can refuse one; the answers' status codes."""
    codes = []
    for n, forwarded in enumerate(forwarded_for):
        token = desk.token("/desk/login")
        answer = desk.http.post(
            "/desk/login",
            data={"email": f"nobody{n}@example.org", "password": "wrong password!", "csrf": token},
            headers={"X-Forwarded-For": forwarded},
        )
        codes.append(answer.status_code)
    return codes


def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_limit(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    """The clients behind the site's reverse proxy (127.0.0.1 here) are told apart by the
    X-Forwarded-For it adds, as the subscribe form's limit tells them apart."""
    with open_desk(sqlite_url, smtp_server, trusted_proxies=("127.0.0.1",)) as desk:
        one, other = "203.0.113.7", "198.51.100.7"
        codes = _fail_sign_ins(desk, [one] * (FAILURES_PER_CLIENT + 1))
        assert codes == [403] * FAILURES_PER_CLIENT + [429]
        assert _fail_sign_ins(desk, [other]) == [403]  # a wrong password, not the limit
        token = desk.token("/desk/login")
        signed_in = desk.http.post(
            "/desk/login",
            data={"email": EDITOR, "password": PASSWORD, "csrf": token},
            headers={"X-Forwarded-For": f"{one}, {other}"},  # the proxy's entry is the rightmost
        )
        assert signed_in.status_code == 303


def test_an_untrusted_peer_cannot_spread_its_sign_ins_over_made_up_clients(
    desk: DeskSite,
) -> None:
    """Without a trusted proxy X-Forwarded-For is whatever the client wrote: the limit counts
    the peer's own address, whatever it claims."""
    made_up = [f"203.0.113.{n}" for n in range(FAILURES_PER_CLIENT + 1)]
    assert _fail_sign_ins(desk, made_up) == [403] * FAILURES_PER_CLIENT + [429]


def test_a_removed_editor_is_signed_out(desk: DeskSite) -> None:
    desk.sign_in()
    token = desk.token(EDITION)
    with session_scope(desk.engine) as session:
        accounts.remove_editor(session=session, email=EDITOR)
    assert desk.http.get("/desk").status_code == 303
    refused = desk.http.post(EDITION, data={"csrf": token, "action": "exclude", "url": HANOI})
    assert refused.status_code == 403
    assert desk.actions() == []


def test_sign_out_ends_the_session_and_sessions_expire(desk: DeskSite) -> None:
    desk.sign_in()
    old = desk.http.cookies["newsletter_desk"]
    assert desk.act("/desk", action="signout").status_code == 303
    assert "newsletter_desk" not in desk.http.cookies
    replayed = httpx.get(f"{desk.base}/desk", headers={"Cookie": f"newsletter_desk={old}"})
    assert replayed.status_code == 303  # signing out ended the session, not only the cookie
    desk.sign_in()
    assert desk.http.get("/desk").status_code == 200
    desk.clock.advance(SESSION_HOURS * 3600 + 1)
    assert desk.http.get("/desk").status_code == 303


def test_edition_page_shows_preview_size_text_and_history(desk: DeskSite) -> None:
    desk.sign_in()
    page = desk.http.get(EDITION, params={"lang": "ru", "view": "phone"})
    assert page.status_code == 200
    assert 'src="' + f"{desk.base}{EDITION}/email?lang=ru" in page.text
    assert 'width="375"' in page.text
    assert "bytes</strong> of the 100,000 allowed" in page.text
    assert "Разработчик показал" in page.text  # the Russian articles and text part
    frame = desk.http.get(f"{EDITION}/email", params={"lang": "ru"})
    assert frame.status_code == 200 and frame.text.startswith("<!doctype html>")
    assert "frame-ancestors 'self'" in frame.headers["content-security-policy"]
    assert "sandbox" in frame.headers["content-security-policy"]


def test_the_previews_links_open_a_test_copys_pages(desk: DeskSite) -> None:
    """The framed email and the text part link where a test copy does: signed links whose
    pages answer, say they belong to a test copy, and change nothing."""
    desk.sign_in()
    frame = desk.http.get(f"{EDITION}/email", params={"lang": "en"}).text
    text = desk.http.get(EDITION, params={"lang": "en"}).text
    for kind in ("unsubscribe", "preferences"):
        (link,) = set(re.findall(rf'href="{re.escape(desk.base)}(/{kind}/[^"]+)"', frame))
        assert f"{desk.base}{link}" in text  # the text part shown beside it
        page = desk.http.get(link)
        assert page.status_code == 200, page.text
        assert "This is a test copy" in page.text and "nothing was changed" in page.text


def test_rebuild_after_new_articles_keeps_editors_changes(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    engine, settings = sender_store(sqlite_url)
    sample_day(engine, settings)
    change = dict(engine=engine, settings=settings, day=DAY, editor=EDITOR)
    actions.change_item(**change, url=HANOI, action="exclude")  # type: ignore[arg-type]
    actions.change_item(**change, url=TANK, action="pin")  # type: ignore[arg-type]
    content = load_content(engine=engine, settings=settings, day=DAY)
    tank = next(a for a in content.articles if a.url == TANK)
    body = _body(engine, TANK)
    two = tuple(article_sentences(body, "en")[3:5])
    assert two and set(two) != set(tank.summary)
    with pytest.raises(actions.DeskError, match="not the article's own"):
        actions.change_item(**change, url=TANK, action="sentences", sentences=("Made up.",))  # type: ignore[arg-type]
    actions.change_item(**change, url=TANK, action="sentences", sentences=two)  # type: ignore[arg-type]
    actions.change_edition(**change, subjects={"ru": "Главное за день"}, note="Hello & <b>")  # type: ignore[arg-type]

    late = "https://vpk-news.example/articles/late-evening-story"
    with session_scope(engine) as session:
        store_batch(
            session=session,
            batch=IngestBatch(
                "late.jsonl",
                articles=(
                    ArticleRecord(
                        url=late,
                        title="Late evening: shipyard launches a second patrol boat",
                        body="The shipyard launched its second patrol boat on Monday evening. "
                        "The boat will begin sea trials in the spring after fitting out.",
                        published_at=datetime.fromisoformat("2024-12-23T22:30:00+03:00"),
                        lang="en",
                    ),
                ),
            ),
        )
    result = build(engine=engine, settings=settings, day=DAY)
    assert result.rebuilt
    content = load_content(engine=engine, settings=settings, day=DAY)
    urls = [a.url for a in content.articles]
    assert late in urls  # the new article joins the ranking
    assert HANOI not in urls
    assert next(a.url for a in content.articles if a.lang == "en") == TANK
    assert next(a for a in content.articles if a.url == TANK).summary == two
    assert dict(content.subjects) == {"ru": "Главное за день"}
    assert content.note == "Hello & <b>"
    with session_scope(engine) as session:
        kept = session.scalars(select(ItemOverride).order_by(ItemOverride.id)).all()
        assert [(o.item_url, o.excluded, o.pin) for o in kept] == [
            (HANOI, True, None),
            (TANK, False, 0),
        ]
    engine.dispose()


def _body(engine: Engine, url: str) -> str:
    with session_scope(engine) as session:
        article = session.scalars(select(Article).where(Article.url == url)).one()
        return article.body


def test_moves_and_approval_freeze_the_edition(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    settings = Settings(
        database_url=sqlite_url,
        from_address="VPK News <digest@vpk-news.example>",
        base_url="https://news.example.org",
        secret_key=secrets.token_hex(32),
        edition=EditionSettings(require_approval=True),
    )
    sample_day(engine, settings)

    def english() -> list[str | None]:
        content = load_content(engine=engine, settings=settings, day=DAY)
        return [a.url for a in content.articles if a.lang == "en"]

    before = english()
    second = before[1]
    assert isinstance(second, str)
    actions.change_item(
        engine=engine, settings=settings, day=DAY, url=second, editor=EDITOR, action="up"
    )
    assert english() == [before[1], before[0], *before[2:]]
    # Already first: another "up" changes nothing and is not stored as a move past the top.
    actions.change_item(
        engine=engine, settings=settings, day=DAY, url=second, editor=EDITOR, action="up"
    )
    assert english()[0] == second
    actions.change_item(
        engine=engine, settings=settings, day=DAY, url=second, editor=EDITOR, action="down"
    )
    assert english() == before

    actions.approve(engine=engine, day=DAY, editor=EDITOR)
    with pytest.raises(EditionStateError, match="approved"):
        build(engine=engine, settings=settings, day=DAY)
    with pytest.raises(EditionStateError, match="withdraw"):
        actions.change_item(
            engine=engine, settings=settings, day=DAY, url=second, editor=EDITOR, action="pin"
        )
    actions.withdraw(engine=engine, day=DAY, editor=EDITOR)
    with session_scope(engine) as session:
        edition = get_edition(session=session, edition_date=DAY)
        assert edition is not None and edition.status.value == "draft"
        log = session.scalars(select(EditorAction).order_by(EditorAction.id)).all()
        assert [(a.action, a.before, a.after) for a in log] == [
            ("up", "place 2", "place 1"),
            ("up", "place 1", "place 1"),
            ("down", "place 1", "place 2"),
            ("approve", "draft", "approved"),
            ("withdraw", "approved", "draft"),
        ]
    engine.dispose()


def test_editor_accounts(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with session_scope(engine) as session:
        editor = accounts.add_editor(session=session, email="Ed@Example.org", password=PASSWORD)
        assert editor.password_hash.startswith("$argon2id$")
        assert PASSWORD not in editor.password_hash
    with session_scope(engine) as session, pytest.raises(accounts.EditorError, match="already"):
        accounts.add_editor(session=session, email="ed@example.org", password=PASSWORD)
    with session_scope(engine) as session, pytest.raises(accounts.EditorError, match="at least"):
        accounts.add_editor(session=session, email="other@example.org", password="short")
    with session_scope(engine) as session:
        assert accounts.check_password(session=session, email="ED@example.org", password=PASSWORD)
        assert not accounts.check_password(session=session, email="ed@example.org", password="x")
        assert not accounts.check_password(session=session, email="no@example.org", password="x")
    engine.dispose()


def test_a_refused_test_copy_is_shown_and_logged(desk: DeskSite) -> None:
    desk.sign_in()
    bad = desk.act(EDITION, action="test", to="not an address", test_lang="en")
    assert "is not an email address" in bad.text
    answer = desk.act(EDITION, action="test", to="Desk@Example.org", test_lang="ru")
    assert "Russian copy to Desk@example.org: accepted, the mail server answered “250" in (
        answer.text.replace("&#34;", '"')
    )
    with session_scope(desk.engine) as session:
        (logged,) = session.scalars(select(EditorAction)).all()
        assert (logged.editor, logged.action) == (EDITOR, "test send")
        assert logged.after is not None and logged.after.startswith(
            "ru copy to Desk@example.org: 250"
        )
    # A relay that is not there: the answer says so and the log records it.
    with SmtpTransport(SmtpSettings(host="127.0.0.1", port=free_port())) as transport:
        (copy,) = actions.send_test_copies(
            engine=desk.engine,
            settings=desk.settings,
            day=DAY,
            to="desk@example.org",
            langs=("en",),
            editor=EDITOR,
            transport=transport,
        )
    assert not copy.accepted and "127.0.0.1" in copy.reply
    assert desk.actions() == ["test send", "test send"]


def test_downgrading_the_desk_keeps_editions_items(sqlite_url: str) -> None:
    engine, settings = sender_store(sqlite_url)
    sample_day(engine, settings)
    with engine.connect() as connection:
        items = connection.execute(text("SELECT count(*) FROM edition_items")).scalar()
    assert items
    downgrade(engine, "0006")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM edition_items")).scalar() == items
        columns = connection.execute(text("SELECT * FROM editions")).keys()
        assert "note" not in columns and "subjects" not in columns
    engine.dispose()
