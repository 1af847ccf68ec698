"""Subscribers: validation, add and remove, all-or-nothing CSV import, export, signed links."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import Engine, func, select

from newsletter.errors import InputError, NewsletterError
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import (
    Delivery,
    Edition,
    Subscriber,
    SubscriberStatus,
    new_link_key,
)
from newsletter.store.queries import get_subscriber
from subscribers import (
    ImportRejected,
    ImportReport,
    InvalidAddress,
    InvalidToken,
    InvalidValue,
    Link,
    RowProblem,
    add_subscriber,
    export_csv,
    import_csv,
    make_token,
    normalize_address,
    read_token,
    remove_subscriber,
    unsubscribe_url,
    validate_lang,
    validate_name,
)
from subscribers.queries import history_of

SECRET = "3f1c0a9e8b7d6c5f4e3d2c1b0a998877"
# Capitals outside ASCII: SQLite's lower() leaves them alone, Python's does not.
IVAN = "\u0418\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"


def _engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return _engine(tmp_path / "t.sqlite3")


def _write(tmp_path: Path, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Subscriber)) or 0


def _emails(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.scalars(select(Subscriber.email).order_by(Subscriber.id)))


# --- validation and add ---


def test_add_stores_an_active_subscriber_with_the_domain_lower_cased(engine: Engine) -> None:
    with session_scope(engine) as session:
        added = add_subscriber(
            session=session, email=" Ivan.Petrov@VPK.Example ", name="  Иван Петров ", lang="RU"
        )
        assert added.id is not None
    with session_scope(engine) as session:
        stored = get_subscriber(session=session, email="ivan.petrov@vpk.example")
        assert stored is not None
        assert (stored.email, stored.name, stored.lang, stored.status) == (
            "Ivan.Petrov@vpk.example",
            "Иван Петров",
            "ru",
            SubscriberStatus.ACTIVE,
        )


def test_add_rejects_the_same_address_in_another_case(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_subscriber(session=session, email="ann@example.com")
    with (
        pytest.raises(NewsletterError, match="is already subscribed"),
        session_scope(engine) as session,
    ):
        add_subscriber(session=session, email="ANN@Example.COM")
    assert _count(engine) == 1


def test_add_and_remove_an_address_with_non_ascii_capitals(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_subscriber(session=session, email=IVAN)
    with (
        pytest.raises(NewsletterError, match=f"^{re.escape(IVAN)} is already subscribed$"),
        session_scope(engine) as session,
    ):
        add_subscriber(session=session, email=IVAN)
    with session_scope(engine) as session:
        assert remove_subscriber(session=session, email=IVAN)
        stored = get_subscriber(session=session, email=IVAN)
        assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED


def test_add_does_not_revive_someone_who_left(engine: Engine) -> None:
    with session_scope(engine) as session:
        left = add_subscriber(session=session, email="ann@example.com")
        left.status = SubscriberStatus.UNSUBSCRIBED
    with (
        pytest.raises(NewsletterError, match=r"is unsubscribed: .*consent"),
        session_scope(engine) as session,
    ):
        add_subscriber(session=session, email="ann@example.com")
    with session_scope(engine) as session:
        stored = get_subscriber(session=session, email="ann@example.com")
        assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("bob@", "something after the @-sign"),
        ("bob@localhost", "should have a period"),
        ("not an address", "@-sign"),
        ("bob@example.com\r\nBcc: all@example.com", "contains a line break"),
    ],
)
def test_bad_address_is_refused_naming_the_value(raw: str, reason: str) -> None:
    with pytest.raises(InvalidAddress, match=reason) as caught:
        normalize_address(raw)
    assert repr(raw) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_address_is_not_stored(engine: Engine) -> None:
    with pytest.raises(InvalidAddress), session_scope(engine) as session:
        add_subscriber(session=session, email="bob@")
    assert _count(engine) == 0


@pytest.mark.parametrize(
    "name", ["Bob\nBcc: all@example.com", "Bob\rX", "Bob\u2028Smith", "Bob\x00", "Bob\tSmith"]
)
def test_name_with_a_line_break_or_control_character_is_refused(name: str) -> None:
    with pytest.raises(InvalidValue, match="control character"):
        validate_name(name)


def test_name_is_trimmed_and_capped() -> None:
    assert validate_name("  Ann  ") == "Ann"
    assert validate_name("   ") is None
    assert validate_name(None) is None
    assert validate_name("a" * 300) == "a" * 300
    with pytest.raises(InvalidValue, match="longer than 300"):
        validate_name("a" * 301)


def test_add_with_a_newline_in_the_name_stores_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidValue), session_scope(engine) as session:
        add_subscriber(session=session, email="bob@example.com", name="Bob\nBcc: x@example.com")
    assert _count(engine) == 0


def test_lang() -> None:
    assert validate_lang(None) == "en"
    assert validate_lang("") == "en"
    assert validate_lang(" RU ") == "ru"
    with pytest.raises(InvalidValue, match="invalid lang 'de': expected one of en, ru"):
        validate_lang("de")


def test_add_with_a_bad_lang_stores_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidValue), session_scope(engine) as session:
        add_subscriber(session=session, email="bob@example.com", lang="fr")
    assert _count(engine) == 0


# --- import ---


def test_import_a_good_file_with_a_bom(engine: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "Email,Name,lang\r\n"
        "ann@EXAMPLE.com,Ann Lee,en\r\n"
        "\r\n"
        "boris@example.ru,Борис,RU\r\n"
        "carl@example.com,,\r\n",
        bom=True,
    )
    with session_scope(engine) as session:
        assert import_csv(session=session, path=path) == ImportReport(added=3, already_present=0)
    with session_scope(engine) as session:
        rows = session.execute(
            select(Subscriber.email, Subscriber.name, Subscriber.lang, Subscriber.status)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("ann@example.com", "Ann Lee", "en", SubscriberStatus.ACTIVE),
        ("boris@example.ru", "Борис", "ru", SubscriberStatus.ACTIVE),
        ("carl@example.com", None, "en", SubscriberStatus.ACTIVE),
    ]


def test_import_needs_an_email_column(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "name,lang\nAnn,en\n")
    with (
        pytest.raises(InputError, match="no 'email' column") as caught,
        session_scope(engine) as session,
    ):
        import_csv(session=session, path=path)
    assert (caught.value.path, caught.value.where) == (str(path), "line 1")


def test_import_refuses_unknown_columns_naming_them(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "email,name,phone,city\nann@example.com,Ann,123,Oslo\n")
    with (
        pytest.raises(InputError, match="unknown columns 'phone', 'city'"),
        session_scope(engine) as session,
    ):
        import_csv(session=session, path=path)
    assert _count(engine) == 0


def test_import_with_bad_rows_reports_all_and_stores_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        "email,name,lang\n"  # 1
        "ann@example.com,Ann,en\n"  # 2
        "bob@,Bob,en\n"  # 3
        'carl@example.com,"Carl\n'  # 4: a quoted name running over two lines
        'Bcc: all@example.com",ru\n'  # 5
        "dora@example.com,Dora,de\n"  # 6
        "\n"  # 7
        "eve@example.com,Eve,ru\n",  # 8
    )
    with pytest.raises(ImportRejected) as caught, session_scope(engine) as session:
        import_csv(session=session, path=path)
    problems = caught.value.problems
    assert [(p.line, p.value) for p in problems] == [
        (3, "bob@"),
        (4, "Carl\nBcc: all@example.com"),
        (6, "de"),
    ]
    assert problems[0].reason.startswith("invalid address: ")
    assert problems[1].reason == "invalid name: contains the control character U+000A"
    assert problems[2].reason == "invalid lang: expected one of en, ru"
    assert str(caught.value) == (
        f"{path}: 3 invalid rows; first: line 3: 'bob@': {problems[0].reason}"
    )
    assert _count(engine) == 0


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "ann@example.com,Ann,en,x",
            RowProblem(2, "ann@example.com,Ann,en,x", "4 fields where the header has 3"),
        ),
        (
            "ann@example.com,Ann",
            RowProblem(2, "ann@example.com,Ann", "2 fields where the header has 3"),
        ),
    ],
)
def test_import_refuses_rows_of_the_wrong_width(
    engine: Engine, tmp_path: Path, row: str, problem: RowProblem
) -> None:
    path = _write(tmp_path, f"email,name,lang\n{row}\n")
    with (
        pytest.raises(ImportRejected, match="1 invalid row;") as caught,
        session_scope(engine) as session,
    ):
        import_csv(session=session, path=path)
    assert caught.value.problems == [problem]


def test_import_refuses_a_duplicate_within_the_file(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "email\nann@example.com\nbob@example.com\nANN@Example.COM\n")
    with pytest.raises(ImportRejected) as caught, session_scope(engine) as session:
        import_csv(session=session, path=path)
    assert caught.value.problems == [RowProblem(4, "ANN@Example.COM", "duplicate of line 2")]
    assert _count(engine) == 0


def test_import_skips_addresses_already_stored(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        add_subscriber(session=session, email="ann@example.com")
        add_subscriber(session=session, email=IVAN)
        left = add_subscriber(session=session, email="bob@example.com")
        left.status = SubscriberStatus.UNSUBSCRIBED
    path = _write(
        tmp_path,
        f"email,lang\nAnn@example.com,ru\nBOB@example.com,en\n{IVAN},ru\ncarl@example.com,en\n",
    )
    with session_scope(engine) as session:
        report = import_csv(session=session, path=path)
    assert report == ImportReport(added=1, already_present=3)
    with session_scope(engine) as session:
        bob = get_subscriber(session=session, email="bob@example.com")
        ann = get_subscriber(session=session, email="ann@example.com")
        assert bob is not None and bob.status is SubscriberStatus.UNSUBSCRIBED
        assert ann is not None and ann.lang == "en"
    assert _emails(engine) == ["ann@example.com", IVAN, "bob@example.com", "carl@example.com"]


def test_import_refuses_invalid_utf8_naming_the_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("email,name\nann@example.com,Ann\nbob@example.com,Bjørn\n".encode("latin-1"))
    with pytest.raises(InputError) as caught, session_scope(engine) as session:
        import_csv(session=session, path=path)
    assert (caught.value.where, caught.value.reason) == ("line 3", "not valid UTF-8")
    assert str(caught.value) == f"{path}: line 3: not valid UTF-8"


def test_import_says_when_a_file_is_utf16(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("email\nann@example.com\n".encode("utf-16"))
    with (
        pytest.raises(InputError, match="it is UTF-16") as caught,
        session_scope(engine) as session,
    ):
        import_csv(session=session, path=path)
    assert caught.value.where == "file"


def test_import_of_an_empty_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a header row"), session_scope(engine) as session:
        import_csv(session=session, path=_write(tmp_path, ""))


# --- export ---


def test_export_round_trip(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        add_subscriber(session=session, email="Ann@Example.com", name="Lee, Ann")
        add_subscriber(session=session, email="boris@пример.рф", name="Борис", lang="ru")
        add_subscriber(session=session, email="carl@example.com")
        remove_subscriber(session=session, email="carl@example.com")
        boris = get_subscriber(session=session, email="boris@пример.рф")
        assert boris is not None
        boris.sections = ["air defence", "navy"]
    out = io.StringIO()
    with session_scope(engine) as session:
        assert export_csv(session=session, out=out) == 3
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        '"email","name","lang","status","created_at","confirmed_at","unsubscribed_at","sections"'
    )
    assert lines[1].startswith('"Ann@example.com","Lee, Ann","en","active",')
    assert lines[1].endswith('+00:00","","",""')
    assert lines[3].startswith('"carl@example.com","","en","unsubscribed",')
    path = _write(tmp_path, out.getvalue())

    fresh = _engine(tmp_path / "fresh.sqlite3")
    with session_scope(fresh) as session:
        assert import_csv(session=session, path=path) == ImportReport(added=3, already_present=0)

    def snapshot(engine: Engine) -> list[tuple[object, ...]]:
        with session_scope(engine) as session:
            return [
                (
                    s.email,
                    s.name,
                    s.lang,
                    s.status,
                    s.created_at,
                    s.confirmed_at,
                    s.unsubscribed_at,
                    s.sections,
                )
                for s in session.scalars(select(Subscriber).order_by(Subscriber.id))
            ]

    assert snapshot(fresh) == snapshot(engine)


def test_export_of_an_empty_list(engine: Engine) -> None:
    out = io.StringIO()
    with session_scope(engine) as session:
        assert export_csv(session=session, out=out) == 0
    assert out.getvalue() == (
        '"email","name","lang","status","created_at","confirmed_at","unsubscribed_at","sections"\n'
    )


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ("left,2024-01-01T00:00:00+00:00", "invalid status: expected one of pending, active"),
        ("active,yesterday", "invalid created_at: expected an ISO 8601"),
        ("active,2024-01-01T00:00:00", "invalid created_at: has no time zone"),
    ],
)
def test_import_checks_the_export_columns(
    engine: Engine, tmp_path: Path, cells: str, reason: str
) -> None:
    path = _write(tmp_path, f"email,status,created_at\nann@example.com,{cells}\n")
    with pytest.raises(ImportRejected) as caught, session_scope(engine) as session:
        import_csv(session=session, path=path)
    assert caught.value.problems[0].reason.startswith(reason)


# --- remove ---


def test_remove_unsubscribes_and_keeps_the_record(engine: Engine) -> None:
    with session_scope(engine) as session:
        ann = add_subscriber(session=session, email="ann@example.com")
        add_subscriber(session=session, email="bob@example.com")
        edition = Edition(edition_date=date(2024, 12, 23), subject="Digest")
        session.add(edition)
        session.flush()
        session.add(Delivery(edition_id=edition.id, subscriber_id=ann.id))
    with session_scope(engine) as session:
        assert remove_subscriber(session=session, email="ANN@example.com")
    with session_scope(engine) as session:
        assert not remove_subscriber(session=session, email="ann@example.com")  # once
        stored = get_subscriber(session=session, email="ann@example.com")
        assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED
        assert [
            (e.old_status, e.new_status, e.cause)
            for e in history_of(session=session, subscriber_id=stored.id)
        ] == [
            (None, SubscriberStatus.ACTIVE, "added by the operator"),
            (SubscriberStatus.ACTIVE, SubscriberStatus.UNSUBSCRIBED, "removed by the operator"),
        ]
    assert _emails(engine) == ["ann@example.com", "bob@example.com"]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_remove_an_unknown_address(engine: Engine) -> None:
    with (
        pytest.raises(NewsletterError, match=r"no subscriber with the address 'x@example\.com'"),
        session_scope(engine) as session,
    ):
        remove_subscriber(session=session, email="x@example.com")


# --- tokens ---


KEY, OTHER_KEY = new_link_key(), new_link_key()


def test_token_round_trip() -> None:
    token = make_token(secret=SECRET, purpose="unsubscribe", key=KEY)
    assert read_token(secret=SECRET, purpose="unsubscribe", token=token) == Link(key=KEY)


def test_a_link_mailed_before_keys_reads_as_a_row_id() -> None:
    token = URLSafeSerializer(SECRET, salt="unsubscribe").dumps(42)
    assert read_token(secret=SECRET, purpose="unsubscribe", token=token) == Link(legacy_id=42)


def test_unsubscribe_url_carries_a_readable_token() -> None:
    url = unsubscribe_url(base_url="https://vpk.example/", secret=SECRET, key=KEY)
    prefix = "https://vpk.example/unsubscribe/"
    assert url.startswith(prefix)
    assert read_token(secret=SECRET, purpose="unsubscribe", token=url[len(prefix) :]).key == KEY


def test_tampered_token_is_refused() -> None:
    token = make_token(secret=SECRET, purpose="unsubscribe", key=KEY)
    payload, signature = token.split(".")
    forged = make_token(secret=SECRET, purpose="unsubscribe", key=OTHER_KEY).split(".")[0]
    for bad in (f"{forged}.{signature}", f"{payload}.{signature[:-2]}xx", "garbage", ""):
        with pytest.raises(InvalidToken):
            read_token(secret=SECRET, purpose="unsubscribe", token=bad)


def test_token_for_another_purpose_or_secret_is_refused() -> None:
    token = make_token(secret=SECRET, purpose="confirm", key=KEY)
    with pytest.raises(InvalidToken, match="unsubscribe link is invalid"):
        read_token(secret=SECRET, purpose="unsubscribe", token=token)
    with pytest.raises(InvalidToken):
        read_token(secret=SECRET[::-1], purpose="confirm", token=token)


def test_token_signed_over_something_else_is_refused() -> None:
    for payload in ("42", True, [KEY], {"test": False}):
        token = URLSafeSerializer(SECRET, salt="unsubscribe").dumps(payload)
        with pytest.raises(InvalidToken, match="does not name a subscriber"):
            read_token(secret=SECRET, purpose="unsubscribe", token=token)
