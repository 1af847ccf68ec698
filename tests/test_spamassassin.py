"""SpamAssassin (Debian's `spamassassin`, local tests only: `-L`) on the edition as a reader's
mail server receives it, in each language. CI installs it (`.ci/run`); without it these tests
are skipped, unless NEWSLETTER_TEST_REQUIRE_SPAMASSASSIN=1 makes that a failure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

import newsletter
from newsletter import edition, pipeline
from newsletter.config import Settings
from newsletter.delivery.smtp import SmtpTransport
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.store.db import session_scope
from subscribers import add_subscriber

DAY = date(2024, 12, 23)
SAMPLES = Path(newsletter.__file__).parent / "sample_content"
REQUIRE_ENV = "NEWSLETTER_TEST_REQUIRE_SPAMASSASSIN"
# What the test set-up itself causes: the message goes from the sender straight into a file,
# with no relay on the way, so it has no Received: header at all.
SET_UP = {
    "NO_RECEIVED": "no Received: header: the test server is the first and only hop",
    "NO_RELAYS": "not relayed via SMTP: same cause",
}
# Scored 0 by SpamAssassin and true of every HTML email: it only says the message has HTML.
INFORMATIONAL = {"HTML_MESSAGE": "an HTML part, as every edition has; 0 points"}
# Not caused by the set-up, and not fixed: MIXED_ES (1.0 point). Its two counters run over what
# SpamAssassin calls the body: the subject, the text/plain part and the HTML part's visible text,
# one after the other. `__LOWER_E` counts Latin "e" (at most 230), and `__E_LIKE_LETTER` counts "e"
# and its look-alikes, Cyrillic "е" and "ё" among them (at most 320); the rule fires when there are
# more than 20 Latin ones and 1.4 to 10 times as many look-alikes. A Russian copy has more
# look-alikes than the 320 counted (this one: about 355), so it fires whenever it has 33 to 228
# Latin "e"; this one has about 80 (the signed links' random letters move it by a few). Where the
# plain part puts its links does not decide it: with every URL taken out of the plain part the copy
# still has 36, from what the day's content puts in both parts (two English thread titles, the
# site's name, a user name). Allowed for the Russian copy only, at its score, and named in the
# README so that whoever sends it knows.
KNOWN_RUSSIAN = {"MIXED_ES": 1.0}


def _spamassassin() -> str:
    found = shutil.which("spamassassin")
    if found is None:
        message = "spamassassin is not installed (Debian: apt-get install spamassassin)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message}; {REQUIRE_ENV}=1")
        pytest.skip(message)
    return found


def _rules(report: str) -> dict[str, float]:
    """The rules of `spamassassin -t`'s report table: "pts rule name description" rows."""
    table = report.split("---- ---------------------- ", 1)[1]
    return {
        name: float(points)
        for points, name in re.findall(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s", table, re.M)
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_rule_fires_on_an_edition_in_either_language(
    engine: Engine, settings: Settings, smtp_server: SavingSmtpServer
) -> None:
    spamassassin = _spamassassin()
    edition.ingest(
        engine=engine,
        settings=settings,
        paths=[SAMPLES / n for n in ("articles.jsonl", "threads.jsonl", "feed-atom.xml")],
    )
    with session_scope(engine) as session:
        add_subscriber(session=session, email="reader@vpk-news.example", name="Alex Reader")
        add_subscriber(
            session=session, email="chitatel@vpk-news.example", name="Иван Читатель", lang="ru"
        )
    edition.build(engine=engine, settings=settings, day=DAY)
    with SmtpTransport(settings.smtp) as transport:
        pipeline.send(engine=engine, settings=settings, day=DAY, transport=transport)
    messages = [p for p in smtp_server.saved if p.suffix == ".eml"]
    assert len(messages) == 2
    for path in messages:
        checked = subprocess.run(
            [spamassassin, "-L", "-t"],
            input=path.read_bytes(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        report = checked.stdout.decode("utf-8", "replace")
        assert "Content analysis details" in report, checked.stderr.decode()
        fired = _rules(report)
        known = KNOWN_RUSSIAN if "chitatel" in path.name else {}
        unexpected = {
            r: p for r, p in fired.items() if r not in SET_UP | INFORMATIONAL and known.get(r) != p
        }
        assert unexpected == {}, f"{path.name}: {unexpected}\n{report}"
        assert set(SET_UP) <= set(fired), fired  # the set-up is what we think it is
