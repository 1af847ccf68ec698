"""CSV formula injection (issue 11, item 7): the export and the rejects file never hand a
spreadsheet a cell it would run as a formula, and read back what was stored; the subscribe form
and the other ways in refuse addresses that start like a formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Subscriber, SubscriberStatus
from subscribers import (
    InvalidAddress,
    add_subscriber,
    export_csv,
    import_csv,
    normalize_address,
    write_rejects,
)
from tests.test_web import open_site

# OWASP's list: what makes Excel, LibreOffice or Google Sheets read a cell as a formula.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PAYLOAD = "=cmd|'/Ccalc'!A0@example.com"


def _engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _dangerous(cell: str) -> bool:
    return cell.startswith(TRIGGERS)


NAMES = [
    '=HYPERLINK("http://evil.example","x")',
    "+7 495 000",
    "-2+3",
    "@SUM(A1)",
    "'=kept",
    "O'Neil",
]


def test_the_export_neutralises_formulas_and_reads_back_the_same(
    engine: Engine, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        # Stored before addresses were checked for this, or written by another tool.
        session.execute(
            insert(Subscriber),
            [{"email": "-old@example.org", "name": "\tTabbed", "status": SubscriberStatus.ACTIVE}],
        )
        for n, name in enumerate(NAMES):
            add_subscriber(session=session, email=f"r{n}@example.org", name=name)
        reader = add_subscriber(session=session, email="sections@example.org")
        reader.sections = ["-minus", "@at"]
    out = io.StringIO()
    with session_scope(engine) as session:
        export_csv(session=session, out=out)
    rows = _cells(out.getvalue())
    assert not [cell for row in rows for cell in row if _dangerous(cell)]
    assert rows[1][:2] == ["'-old@example.org", "'\tTabbed"]
    assert [row[1] for row in rows[2:-1]] == [
        "'" + NAMES[0],
        "'+7 495 000",
        "'-2+3",
        "'@SUM(A1)",
        "''=kept",
        "O'Neil",
    ]
    assert rows[-1][-1] == "'-minus;@at"
    # Every cell quoted, so a spreadsheet splitting on ';' (some locales) cannot cut one in two.
    assert out.getvalue().splitlines()[0].startswith('"email","name",')

    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), "utf-8")
    fresh = _engine(tmp_path / "fresh.sqlite3")
    with session_scope(fresh) as session:
        report = import_csv(session=session, path=path, skip_invalid=True)
        stored = {s.email: (s.name, s.sections) for s in session.scalars(select(Subscriber))}
    # Read back as stored, and then refused like any new address starting like a formula.
    ((problem),) = report.rejected
    assert problem.value == "-old@example.org" and "spreadsheets" in problem.reason
    assert [stored[f"r{n}@example.org"][0] for n in range(len(NAMES))] == NAMES
    assert stored["sections@example.org"] == (None, ["-minus", "@at"])


def test_the_rejects_file_neutralises_formulas(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        'email,lang\n"=1+2",en\n"@SUM(1)@x",en\nann@example.org,"=de"\n"-x@",en\n', "utf-8"
    )
    with session_scope(_engine(tmp_path / "db.sqlite3")) as session:
        report = import_csv(session=session, path=path, skip_invalid=True)
    out = io.StringIO()
    write_rejects(report.rejected, out)
    rows = _cells(out.getvalue())
    assert [row[1] for row in rows[1:]] == ["'=1+2", "'@SUM(1)@x", "'=de", "'-x@"]
    assert not [cell for row in rows for cell in row if _dangerous(cell)]


@pytest.mark.parametrize("start", ["=", "+", "-"])
def test_addresses_that_start_like_a_formula_are_refused(start: str) -> None:
    with pytest.raises(InvalidAddress, match="spreadsheets"):
        normalize_address(f"{start}cmd@example.com")
    assert normalize_address("a-b+c=d@example.com") == "a-b+c=d@example.com"


def test_the_subscribe_form_refuses_a_formula_address(
    sqlite_url: str, smtp_server: SavingSmtpServer
) -> None:
    with open_site(sqlite_url, smtp_server) as site:
        refused = site.subscribe(PAYLOAD)
        assert refused.status_code == 400
        assert site.mails() == 0
        assert site.subscriber(PAYLOAD) is None
