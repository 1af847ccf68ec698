"""`newsletter ARGS` run as the installed command in a process of its own, as operators and
cron run it, and the environment the tests give it (`tests.inprocess` is the same in the test's
own process, where a new Python process would cost too much)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from newsletter.delivery.smtp.sink import SavingSmtpServer
from tests.inprocess import Cli


def newsletter_env(*, db_url: str, smtp: SavingSmtpServer, home: Path) -> dict[str, str]:
    """A store at `db_url`, mail to the test's SMTP server, a fresh secret key, and no more of
    the test runner's environment than cron would give: what every command needs to work."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "NEWSLETTER_DATABASE_URL": db_url,
        "NEWSLETTER_FROM": "VPK News <digest@vpk-news.example>",
        "NEWSLETTER_BASE_URL": "https://news.example.org",
        "NEWSLETTER_SECRET_KEY": secrets.token_hex(32),
        "NEWSLETTER_SMTP_HOST": smtp.host,
        "NEWSLETTER_SMTP_PORT": str(smtp.port),
    }


def run_newsletter(
    env: Mapping[str, str],
    *args: str | Path,
    stdin: str = "",
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`newsletter ARGS` with exactly `env`, finished: its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *map(str, args)],
        env=dict(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def process_cli(env: Mapping[str, str], *, cwd: Path | None = None, timeout: float = 120) -> Cli:
    """`cli(*args, expect=0, stdin="", **more_env)`: `run_newsletter` whose exit code must be
    `expect` (the failure shows its output)."""

    def run(
        *args: str | Path, expect: int = 0, stdin: str = "", **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        done = run_newsletter({**env, **extra_env}, *args, stdin=stdin, cwd=cwd, timeout=timeout)
        assert done.returncode == expect, done.stdout + done.stderr
        return done

    return run


@contextmanager
def serve_process(env: Mapping[str, str], port: int, *args: str) -> Iterator[str]:
    """`newsletter serve --port PORT ARGS` in a process of its own, once it answers: its
    address; stopped afterwards."""
    server = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # a loaded machine starts Python slowly
        while True:
            try:
                httpx.get(f"{base}/subscribe")
                break
            except httpx.ConnectError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "newsletter serve did not start"
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(20)
