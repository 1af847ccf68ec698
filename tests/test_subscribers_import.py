"""Imports that lose nothing: every bad row reported, nothing stored, or with --skip-invalid the
rest stored and the rejects written beside the file; forgotten addresses never come back."""

from __future__ import annotations

import csv
import io
import secrets
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from newsletter.errors import InputError
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Subscriber, SubscriberEvent, SubscriberStatus
from subscribers import (
    ImportRejected,
    RowProblem,
    Suppressed,
    add_subscriber,
    forget,
    import_csv,
    write_rejects,
)
from tests.processes import process_cli


@pytest.fixture
def db(database_url: str) -> Engine:
    engine = make_engine(database_url)
    upgrade(engine)
    return engine


def _count(engine: Engine, model: type[Subscriber] | type[SubscriberEvent] = Subscriber) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _big_file(path: Path, rows: int, bad_every: int) -> list[RowProblem]:
    """`rows` rows, one in `bad_every` broken in one of several ways; returns what must be
    reported for them."""
    expected: list[RowProblem] = []
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("email,name,lang\n")
        for n in range(rows):
            line = n + 2
            if n % bad_every == bad_every - 1:
                kind = (n // bad_every) % 3
                if kind == 0:
                    handle.write(f"user{n}@,Name {n},en\n")
                    expected.append(RowProblem(line, f"user{n}@", "invalid address"))
                elif kind == 1:
                    handle.write(f"user{n}@example.org,Name {n},de\n")
                    expected.append(RowProblem(line, "de", "invalid lang"))
                else:
                    handle.write(f"USER{n - 1}@example.org,Again,en\n")
                    expected.append(RowProblem(line, f"USER{n - 1}@example.org", "duplicate"))
            else:
                handle.write(f"user{n}@example.org,Name {n},en\n")
    return expected


def test_100k_rows_with_some_invalid(sqlite_url: str, tmp_path: Path) -> None:
    """On SQLite only: the size is about the checks, which do not depend on the database."""
    db = make_engine(sqlite_url)
    upgrade(db)
    path = tmp_path / "big.csv"
    expected = _big_file(path, 100_000, bad_every=2000)
    with pytest.raises(ImportRejected) as caught, session_scope(db) as session:
        import_csv(session=session, path=path)
    found = caught.value.problems
    assert [(p.line, p.value) for p in found] == [(p.line, p.value) for p in expected]
    for problem, wanted in zip(found, expected, strict=True):
        assert problem.reason.startswith(wanted.reason)
    assert _count(db) == 0

    with session_scope(db) as session:
        report = import_csv(session=session, path=path, skip_invalid=True)
    assert (report.added, len(report.rejected)) == (100_000 - 50, 50)
    assert _count(db) == 100_000 - 50
    assert _count(db, SubscriberEvent) == 100_000 - 50  # each new row has its first entry


def test_skip_invalid_keeps_the_good_rows(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("email,lang\nann@example.org,en\nbob@,en\nANN@example.org,ru\ncarl@x.org,ru\n")
    with session_scope(db) as session:
        report = import_csv(session=session, path=path, skip_invalid=True)
    assert report.added == 2
    assert [(p.line, p.value) for p in report.rejected] == [(3, "bob@"), (4, "ANN@example.org")]
    out = io.StringIO()
    write_rejects(report.rejected, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["line", "value", "reason"]
    assert rows[2] == ["4", "ANN@example.org", "duplicate of line 2"]


@pytest.mark.parametrize(
    ("content", "where", "reason"),
    [
        (b"mail,name\nann@example.org,Ann\n", "line 1", "unknown columns 'mail'"),
        (b"name,lang\nAnn,en\n", "line 1", "no 'email' column"),
        (b"email,email\nann@example.org,x\n", "line 1", "repeated columns 'email'"),
        (b'email,name\n"ann@example.org,Ann\n', "line 2", "malformed CSV"),
        ("email,name\nann@example.org,Åsa\n".encode("cp1252"), "line 2", "not valid UTF-8"),
        (b"\x00\x01\x02\xff\xfe", "line 1", "not valid UTF-8"),
    ],
)
def test_a_broken_file_stores_nothing_even_when_skipping(
    db: Engine, tmp_path: Path, content: bytes, where: str, reason: str
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught, session_scope(db) as session:
        import_csv(session=session, path=path, skip_invalid=True)
    assert caught.value.where == where
    assert reason in caught.value.reason
    assert _count(db) == 0


def test_forgotten_addresses_are_skipped_by_imports_and_refused_by_add(
    db: Engine, tmp_path: Path
) -> None:
    with session_scope(db) as session:
        add_subscriber(session=session, email="Ann@Example.org", name="Ann")
    with session_scope(db) as session:
        done = forget(session=session, email="ann@example.org")
        assert (done.erased, done.newly_suppressed) == (True, True)
    assert (_count(db), _count(db, SubscriberEvent)) == (0, 0)  # the person is gone
    path = tmp_path / "list.csv"
    path.write_text("email\nANN@example.org\nbob@example.org\n")
    with session_scope(db) as session:
        report = import_csv(session=session, path=path)
    assert (report.added, report.suppressed) == (1, 1)
    with pytest.raises(Suppressed, match="forgotten on request"), session_scope(db) as session:
        add_subscriber(session=session, email="aNN@example.org")
    with session_scope(db) as session:
        again = forget(session=session, email="ann@EXAMPLE.org")
        assert (again.erased, again.newly_suppressed) == (False, False)
        emails = list(session.scalars(select(Subscriber.email)))
    assert emails == ["bob@example.org"]


def test_import_restores_the_state_and_dates_of_an_export(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "email,name,lang,status,created_at,confirmed_at,unsubscribed_at,sections\n"
        "ann@example.org,Ann,ru,unsubscribed,2024-01-01T00:00:00+00:00,"
        "2024-01-02T00:00:00+00:00,2024-03-01T12:00:00+03:00,Navy;air defence\n"
    )
    with session_scope(db) as session:
        import_csv(session=session, path=path)
        stored = session.scalars(select(Subscriber)).one()
        assert stored.status is SubscriberStatus.UNSUBSCRIBED
        assert stored.unsubscribed_at is not None
        assert stored.unsubscribed_at.isoformat() == "2024-03-01T09:00:00+00:00"
        assert stored.sections == ["air defence", "navy"]
        event = session.scalars(select(SubscriberEvent)).one()
        assert (event.old_status, event.new_status, event.cause) == (
            None,
            SubscriberStatus.UNSUBSCRIBED,
            "imported from export.csv",
        )


# --- through the command, as an operator runs it ---


def _cli(tmp_path: Path, *args: str | Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "NEWSLETTER_SECRET_KEY": secrets.token_hex(16),
    }
    return process_cli(env)(*args, expect=expect)


def test_the_import_command_reports_every_bad_row_then_skips_them(tmp_path: Path) -> None:
    _cli(tmp_path, "db", "upgrade")
    path = tmp_path / "list.csv"
    path.write_text(
        'email,name\nann@example.org,Ann\nbob@,Bob\ncarl@example.org,"Carl\nBcc: x@y.org"\n'
        "dora@example.org,Dora\n"
    )
    refused = _cli(tmp_path, "subscribers", "import", path, expect=1)
    assert refused.stdout.splitlines() == [
        f"{path}: line 3: 'bob@': invalid address: There must be something after the @-sign",
        f"{path}: line 4: 'Carl\\nBcc: x@y.org': invalid name: "
        "contains the control character U+000A",
    ]
    assert refused.stderr == (
        f"Error: {path}: 2 invalid rows; first: line 3: 'bob@': invalid address: "
        "There must be something after the @-sign\n"
    )
    assert _cli(tmp_path, "subscribers", "list").stdout == ""

    done = _cli(tmp_path, "subscribers", "import", path, "--skip-invalid")
    rejects = tmp_path / "list.rejects.csv"
    assert f"2 invalid rows skipped, written to {rejects}" in done.stdout
    assert (
        rejects.read_text().splitlines()[1]
        == '"3","bob@","invalid address: There must be something after the @-sign"'
    )
    assert _cli(tmp_path, "subscribers", "list").stdout == (
        "ann@example.org (Ann)\ten\tactive\ndora@example.org (Dora)\ten\tactive\n"
    )


def test_remove_forget_and_history_commands(tmp_path: Path) -> None:
    _cli(tmp_path, "db", "upgrade")
    _cli(tmp_path, "subscribers", "add", "ann@example.org")
    _cli(tmp_path, "subscribers", "remove", "ANN@example.org")
    assert _cli(tmp_path, "subscribers", "list").stdout == "ann@example.org\ten\tunsubscribed\n"
    history = _cli(tmp_path, "subscribers", "history", "ann@example.org").stdout.splitlines()
    assert [line.split("\t", 1)[1] for line in history] == [
        "- -> active\tadded by the operator",
        "active -> unsubscribed\tremoved by the operator",
    ]
    forgotten = _cli(tmp_path, "subscribers", "forget", "ann@example.org")
    assert forgotten.stdout == "ann@example.org: erased, suppressed\n"
    assert _cli(tmp_path, "subscribers", "list").stdout == ""
    refused = _cli(tmp_path, "subscribers", "add", "ann@example.org", expect=1)
    assert refused.stderr == (
        "Error: ann@example.org was forgotten on request and must not be mailed again\n"
    )
