"""`newsletter serve` as an operator starts it: a real process, a real port, real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from newsletter.delivery.smtp.sink import SavingSmtpServer, free_port
from tests.processes import newsletter_env, process_cli, serve_process


@contextmanager
def _serve(tmp_path: Path, smtp: SavingSmtpServer, *args: str, **env: str) -> Iterator[str]:
    """`newsletter serve` on a free port, with `env` added to its environment: its address."""
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    environ = newsletter_env(db_url=db_url, smtp=smtp, home=tmp_path) | {
        "NEWSLETTER_BASE_URL": f"http://127.0.0.1:{port}",
        **env,
    }
    process_cli(environ)("db", "upgrade")
    with serve_process(environ, port, *args) as base:
        yield base


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
