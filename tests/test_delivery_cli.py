"""`newsletter send`, `run` and `status` as cron and operators see them: the report table, the
exit code that says something is left to retry, the status of an edition, the settings."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import load_settings
from newsletter.errors import ConfigError
from tests.processes import run_newsletter
from tests.smtp_faults import DAY, Faults, FaultySmtpServer, cli_env, make_edition, sender_store

BUSY = "busy@example.org"


Newsletter = Callable[..., "subprocess.CompletedProcess[str]"]
Relay = tuple[Faults, FaultySmtpServer, Newsletter, dict[str, str]]


@contextmanager
def _greylisting_relay(tmp_path: Path) -> Iterator[Relay]:
    """An edition for two subscribers, a relay that greylists one of them, and the CLI."""
    engine, settings = sender_store(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    make_edition(engine, settings, tmp_path, ["one@example.org", BUSY])
    faults = Faults(rcpt={BUSY: "451 4.7.1 Greylisted, try again later"})
    with FaultySmtpServer(faults) as server:
        env = cli_env(settings, server, max_attempts="2", backoff_seconds="0.05")

        def newsletter(*args: str) -> subprocess.CompletedProcess[str]:
            return run_newsletter(env, *args)

        yield faults, server, newsletter, env


def test_deferred_recipients_exit_4_and_the_next_run_sends_them(tmp_path: Path) -> None:
    with _greylisting_relay(tmp_path) as (faults, server, newsletter, env):
        first = newsletter("run", "--date", str(DAY))
        assert first.returncode == 4, first.stdout + first.stderr
        assert "1 recipients are left for a later run" in first.stderr
        assert "451: 2" in first.stdout  # refusals by reply code, both attempts
        status = CliRunner().invoke(app, ["status", "--date", str(DAY)], env=env)
        assert status.exit_code == 0, status.output
        assert "Edition 2024-12-23: sending" in status.stdout
        assert "Greylisted" in status.stdout and "451" in status.stdout

        faults.rcpt.clear()
        second = newsletter("run", "--date", str(DAY))
        assert second.returncode == 0, second.stdout + second.stderr
        assert server.received.keys() == {"one@example.org", BUSY}
        assert all(len(ids) == 1 for ids in server.received.values())
        status = CliRunner().invoke(app, ["status", "--date", str(DAY)], env=env)
        assert "Edition 2024-12-23: sent" in status.stdout


def test_the_next_days_run_finishes_an_edition_left_deferred(tmp_path: Path) -> None:
    """Cron runs the next day with the next date: yesterday's deferred reader is not skipped."""
    with _greylisting_relay(tmp_path) as (faults, server, newsletter, env):
        first = newsletter("run", "--date", str(DAY))
        assert first.returncode == 4, first.stdout + first.stderr
        assert BUSY not in server.received
        faults.rcpt.clear()
        # Someone who joins meanwhile gets later editions, not this old one.
        assert newsletter("subscribers", "add", "new@example.org").returncode == 0
        next_day = newsletter("run", "--date", str(DAY + timedelta(days=1)))
        # The next day has no content of its own (exit 3), but the earlier edition went out.
        assert next_day.returncode == 3, next_day.stdout + next_day.stderr
        assert "Edition 2024-12-23" in next_day.stdout
        assert server.received.keys() == {"one@example.org", BUSY}
        assert all(len(ids) == 1 for ids in server.received.values())
        status = CliRunner().invoke(app, ["status", "--date", str(DAY)], env=env)
        assert "Edition 2024-12-23: sent" in status.stdout


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSLETTER_DELIVERY_CONNECTIONS", "0", "at least 1"),
        ("NEWSLETTER_DELIVERY_RATE_PER_SECOND", "fast", "expected a whole number"),
        ("NEWSLETTER_DELIVERY_BACKOFF_SECONDS", "-1", "between 0 and 3600"),
        ("NEWSLETTER_SMTP_VERIFY", "maybe", "expected true or false"),
    ],
)
def test_bad_delivery_settings_name_themselves(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}: .*{message}"):
        load_settings(environ={name: value})


def test_delivery_settings_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(
        "[smtp]\nverify = false\n[delivery]\nconnections = 8\nrate_per_hour = 50000\n"
        "backoff_seconds = 1.5\n"
    )
    settings = load_settings(config, environ={"NEWSLETTER_DELIVERY_CONNECTIONS": "6"})
    assert settings.smtp.verify is False
    assert (settings.delivery.connections, settings.delivery.rate_per_hour) == (6, 50000)
    assert settings.delivery.backoff_seconds == 1.5
    assert load_settings(environ={}).smtp.verify is True, "certificates are checked by default"
