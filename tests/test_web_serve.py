"""`newsletter serve` as an operator starts it: a real process, a real port, real HTTP."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from newsletter.delivery.smtp.sink import SavingSmtpServer, free_port


@contextmanager
def _serve(tmp_path: Path, smtp: SavingSmtpServer, *args: str, **env: str) -> Iterator[str]:
    """`newsletter serve` on a free port, with `env` added to its environment: its address."""
    port = free_port()
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "NEWSLETTER_FROM": "VPK News <digest@vpk-news.example>",
        "NEWSLETTER_BASE_URL": f"http://127.0.0.1:{port}",
        "NEWSLETTER_SECRET_KEY": secrets.token_hex(32),
        "NEWSLETTER_SMTP_HOST": smtp.host,
        "NEWSLETTER_SMTP_PORT": str(smtp.port),
        **env,
    }
    newsletter = [sys.executable, "-m", "newsletter"]
    subprocess.run([*newsletter, "db", "upgrade"], env=environ, check=True, capture_output=True)
    server = subprocess.Popen(
        [*newsletter, "serve", "--port", str(port), *args],
        env=environ,
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
        server.wait(10)


def test_serve_answers_behind_its_base_url(tmp_path: Path, smtp_server: SavingSmtpServer) -> None:
    # As behind a proxy: links name the public address, not the one uvicorn listens on.
    public = {"NEWSLETTER_BASE_URL": "https://vpk-news.example/newsletter"}
    with _serve(tmp_path, smtp_server, **public) as base:
        page = httpx.get(f"{base}/subscribe")
    assert page.status_code == 200
    assert 'href="https://vpk-news.example/newsletter/archive"' in page.text
    assert "server" not in page.headers  # no version banner


def _sign_ups(base: str, forwarded: list[str]) -> list[int]:
    answers = []
    with httpx.Client(base_url=base) as client:
        for n, address in enumerate(forwarded):
            page = client.get("/subscribe")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            form = {"email": f"user{n}@example.org", "lang": "en", "csrf": token.group(1)}
            headers = {"X-Forwarded-For": address}
            answers.append(client.post("/subscribe", data=form, headers=headers).status_code)
    return answers


def test_serve_trusts_no_forwarded_for_by_default(
    tmp_path: Path, smtp_server: SavingSmtpServer
) -> None:
    limit = {"NEWSLETTER_WEB_SUBSCRIBE_PER_HOUR": "1"}
    with _serve(tmp_path, smtp_server, **limit) as base:
        assert _sign_ups(base, ["203.0.113.1", "203.0.113.2"]) == [200, 429]


def test_serve_trusts_the_proxy_it_is_told_of(
    tmp_path: Path, smtp_server: SavingSmtpServer
) -> None:
    limit = {"NEWSLETTER_WEB_SUBSCRIBE_PER_HOUR": "1"}
    with _serve(tmp_path, smtp_server, "--forwarded-allow-ips", "127.0.0.1", **limit) as base:
        assert _sign_ups(base, ["203.0.113.1", "203.0.113.2", "203.0.113.1"]) == [200, 200, 429]
