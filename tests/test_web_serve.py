"""`newsletter serve` as an operator starts it: a real process, a real port, real HTTP."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx

from newsletter.deliver.sink import SavingSmtpServer, free_port


def test_serve_answers_behind_its_base_url(tmp_path: Path, smtp_server: SavingSmtpServer) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "NEWSLETTER_FROM": "VPK News <digest@vpk-news.example>",
        # As behind a proxy: links name the public address, not the one uvicorn listens on.
        "NEWSLETTER_BASE_URL": "https://vpk-news.example/newsletter",
        "NEWSLETTER_SECRET_KEY": secrets.token_hex(32),
        "NEWSLETTER_SMTP_HOST": smtp_server.host,
        "NEWSLETTER_SMTP_PORT": str(smtp_server.port),
    }
    newsletter = [sys.executable, "-m", "newsletter"]
    subprocess.run([*newsletter, "db", "upgrade"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [*newsletter, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(f"{base}/subscribe")
                break
            except httpx.ConnectError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "newsletter serve did not start"
                time.sleep(0.1)
        assert page.status_code == 200
        assert 'href="https://vpk-news.example/newsletter/archive"' in page.text
        assert "server" not in page.headers  # no version banner
    finally:
        server.terminate()
        server.wait(10)
