"""Start-up: a command imports the libraries it needs when it runs, so `newsletter --help` (and
cron's every call) does not pay for SQLAlchemy, MJML, Babel, Starlette or the DKIM signer.
The time itself is measured by bench/startup.py; this holds the cause."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from newsletter.cli.summarize import METHOD_NAMES
from newsletter.summarize import METHODS

HEAVY = (
    "alembic",
    "babel",
    "cryptography",
    "email_validator",
    "jinja2",
    "mjml",
    "razdel",
    "rich",
    "sqlalchemy",
    "starlette",
    "subscribers",
    "uvicorn",
)
_PROBE = """
import json, runpy, sys
sys.argv = ["newsletter", *sys.argv[1:]]
try:
    runpy.run_module("newsletter", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["send", "--help"], ["summarize", "--help"], ["subscribers", "--help"]],
)
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True
    )
    assert "Usage" in done.stdout
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_the_help_names_every_summarization_method() -> None:
    assert sorted(METHOD_NAMES) == sorted(METHODS)
