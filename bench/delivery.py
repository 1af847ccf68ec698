"""Delivery speed and memory: `newsletter send` against Postfix's smtp-sink, beside Postfix's own
smtp-source sending the same message size with the same concurrency, in one run.

    .venv/bin/python bench/delivery.py [--subscribers 100000] [--connections 4]
        [--dry-run-subscribers 1000000] [--runs 2]

1. Builds an edition of realistic size (sample content plus generated articles until the HTML
   is about 60 KB) in a fresh SQLite file with `--subscribers` subscribers (en and ru, names in
   both scripts).
2. Starts `smtp-sink` on 127.0.0.1 (a free port; no mail system) and, `--runs` times, runs the
   real command, `python -m newsletter send`, with `--connections` connections: unsigned, then
   `smtp-source -d -s CONNECTIONS -m SUBSCRIBERS -l SIZE` against the same sink, then signed
   with DKIM (rsa-sha256, 2048 bits), then with rsa-sha256 and ed25519-sha256 side by side; the
   ledger is emptied before each send. Prints messages per second (first to last `sent_at` in
   the ledger, and for the whole command), the sender's peak memory (the child's VmHWM), the
   machine's load average, and per run the ratios: unsigned to smtp-source (target: at least
   0.5) and signed to unsigned (target: at least 0.8); then the worst of the runs. Each ratio
   compares runs a few seconds apart, so a load that changes over minutes weighs on both sides.
3. Peak memory of `newsletter send --dry-run` (every message composed) at the 100,000 list and at
   `--dry-run-subscribers`, and of putting that list into the ledger (the enqueue every send
   starts with): it must not grow with the list. Target: under 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import func, insert, select

import newsletter
from newsletter import edition
from newsletter.config import Settings
from newsletter.delivery.compose import Messages
from newsletter.delivery.smtp.sink import free_port
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import upgrade
from newsletter.store.models import Delivery, Subscriber, SubscriberStatus, new_link_key

DAY = date(2024, 12, 23)
SAMPLES = Path(newsletter.__file__).parent / "sample_content"
SINK, SOURCE = Path("/usr/sbin/smtp-sink"), Path("/usr/sbin/smtp-source")
TARGET_HTML = 60_000
FROM = "VPK News <digest@vpk-news.example>"
PARAGRAPH = (
    "The plant in Nizhny Tagil delivered another batch of modernised tanks to the army on "
    "Monday, the company said, adding that serial production of the new engine continues. "
)


@dataclass(frozen=True)
class Child:
    seconds: float
    peak_mb: float
    output: str


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--dry-run-subscribers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    for tool in (SINK, SOURCE):
        if not tool.exists():
            sys.exit(f"{tool} is missing: install the Debian package postfix (not started)")
    work = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    try:
        _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> None:
    secret = secrets.token_hex(32)
    url = f"sqlite:///{work / 'send.sqlite3'}"
    settings = _settings(url, secret)
    html_size, message_size = _stock(settings, work, args.subscribers)
    print(f"edition: {html_size} bytes of HTML (en), messages of {message_size} bytes")

    dry = _child(["send", "--dry-run", "--date", str(DAY)], _env(settings, 0, args.connections))
    print(
        f"dry run, {args.subscribers} subscribers: {dry.seconds:.1f} s, peak {dry.peak_mb:.0f} MB"
    )

    keys = _keys(work)
    signed_env = {
        "NEWSLETTER_DKIM_SELECTOR": "bench",
        "NEWSLETTER_DKIM_DOMAIN": "vpk-news.example",
        "NEWSLETTER_DKIM_KEY_PATH": str(keys[0]),
    }
    both_env = signed_env | {
        "NEWSLETTER_DKIM_ED25519_SELECTOR": "bench-ed",
        "NEWSLETTER_DKIM_ED25519_KEY_PATH": str(keys[1]),
    }
    print(f"load average before the sends: {_load()}")
    worst_source = worst_signed = float("inf")
    with _Sink() as port:
        for run in range(1, args.runs + 1):
            env = _env(settings, port, args.connections)
            rate, sent = _send(url, env)
            source = _smtp_source(port, args.connections, args.subscribers, message_size)
            signed, _ = _send(url, env | signed_env)
            both, _ = _send(url, env | both_env)
            worst_source = min(worst_source, rate / source)
            worst_signed = min(worst_signed, signed / rate)
            print(
                f"run {run} (load {_load()}): newsletter send {rate:.0f} msg/s (first to last "
                f"sent_at; whole command {args.subscribers / sent.seconds:.0f} msg/s, peak "
                f"{sent.peak_mb:.0f} MB); smtp-source -d -s {args.connections} -m "
                f"{args.subscribers} -l {message_size}: {source:.0f} msg/s; ratio "
                f"{rate / source:.2f} (target >= 0.5)"
            )
            print(
                f"run {run}: signed rsa-sha256 (2048 bits) {signed:.0f} msg/s, ratio "
                f"signed/unsigned {signed / rate:.2f} (target >= 0.8); rsa-sha256 + "
                f"ed25519-sha256 {both:.0f} msg/s ({both / rate:.2f})"
            )
    print(
        f"worst of {args.runs} runs: newsletter/smtp-source {worst_source:.2f} (target >= 0.5), "
        f"signed/unsigned {worst_signed:.2f} (target >= 0.8)"
    )

    big_url = f"sqlite:///{work / 'big.sqlite3'}"
    big = _settings(big_url, secret)
    _stock(big, work, args.dry_run_subscribers)
    enqueue = _child_code(
        "from newsletter.store.db import make_engine, session_scope\n"
        "from newsletter.delivery.ledger import queries\n"
        f"engine = make_engine({big_url!r})\n"
        "with session_scope(engine) as session:\n"
        "    print(queries.enqueue_deliveries(session=session, edition_id=1))\n"
    )
    print(
        f"ledger enqueue, {args.dry_run_subscribers} subscribers: {enqueue.output.strip()} rows "
        f"in {enqueue.seconds:.1f} s, peak {enqueue.peak_mb:.0f} MB"
    )
    _clear_ledger(big_url)
    big_dry = _child(["send", "--dry-run", "--date", str(DAY)], _env(big, 0, args.connections))
    print(
        f"dry run, {args.dry_run_subscribers} subscribers: {big_dry.seconds:.1f} s "
        f"({args.dry_run_subscribers / big_dry.seconds:.0f} msg/s), peak {big_dry.peak_mb:.0f} MB"
        f" (at {args.subscribers}: {dry.peak_mb:.0f} MB; target < 150 MB)"
    )


def _settings(url: str, secret: str) -> Settings:
    return Settings(
        database_url=url,
        from_address=FROM,
        base_url="https://vpk-news.example/newsletter",
        secret_key=secret,
    )


def _stock(settings: Settings, work: Path, subscribers: int) -> tuple[int, int]:
    """A built edition of about TARGET_HTML bytes of HTML and the list; (html, message) size."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    edition.ingest(
        engine=engine,
        settings=settings,
        paths=[SAMPLES / "articles.jsonl", SAMPLES / "threads.jsonl"],
    )
    extra = work / f"extra-{secrets.token_hex(4)}.jsonl"
    n = 0
    while True:
        edition.build(engine=engine, settings=settings, day=DAY)
        messages = Messages(
            edition.load_content(engine=engine, settings=settings, day=DAY), settings
        )
        html = messages.rendered("en").html
        if len(html) >= TARGET_HTML:
            break
        n += 1
        with extra.open("a", encoding="utf-8") as handle:
            record = {
                "type": "article",
                "url": f"https://vpk-news.example/articles/bench-{n}",
                "title": f"Serial deliveries continue, report {n}",
                "body": "\n\n".join(PARAGRAPH for _ in range(4)),
                "published_at": f"2024-12-23T{8 + n % 12:02d}:{n % 60:02d}:00+03:00",
                "lang": "en",
            }
            handle.write(json.dumps(record) + "\n")
        edition.ingest(engine=engine, settings=settings, paths=[extra])
    with session_scope(engine) as session:
        for start in range(0, subscribers, 50_000):
            session.execute(
                insert(Subscriber),
                [
                    {
                        "email": f"reader{i:07d}@example.org",
                        "name": f"Читатель {i}" if i % 3 == 0 else f"Reader {i}",
                        "lang": "ru" if i % 3 == 0 else "en",
                        "status": SubscriberStatus.ACTIVE,
                    }
                    for i in range(start, min(start + 50_000, subscribers))
                ],
            )
    key = new_link_key()
    envelope = messages.envelope(
        variant=messages.variant(lang="en"),
        to_address="reader0000001@example.org",
        to_name="Reader 1",
        unsubscribe=messages.unsubscribe_url(key),
        message_id=messages.message_id(subscriber_id=1, key=key),
    )
    engine.dispose()
    return len(html), len(envelope.data)


def _env(settings: Settings, port: int, connections: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NEWSLETTER_DATABASE_URL": settings.database_url,
        "NEWSLETTER_FROM": FROM,
        "NEWSLETTER_BASE_URL": str(settings.base_url),
        "NEWSLETTER_SECRET_KEY": str(settings.secret_key),
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(port or 25),
        "NEWSLETTER_DELIVERY_CONNECTIONS": str(connections),
        "NEWSLETTER_DELIVERY_MESSAGES_PER_CONNECTION": "100000",
    }


def _child(args: list[str], env: dict[str, str]) -> Child:
    return _spawn([sys.executable, "-m", "newsletter", *args], env)


def _child_code(code: str) -> Child:
    return _spawn([sys.executable, "-c", code], dict(os.environ))


def _spawn(command: list[str], env: dict[str, str]) -> Child:
    """Run to the end; its wall time and its own peak resident memory. VmHWM, polled: the
    high-water mark starts afresh at exec, unlike wait4's ru_maxrss, which would count the
    pages the child shared with this (large) process between fork and exec."""
    start = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    status = Path(f"/proc/{process.pid}/status")
    peak_kb = 0
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.02)
    seconds = time.monotonic() - start
    assert process.stdout is not None
    output = process.stdout.read().decode()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{output}")
    return Child(seconds, peak_kb / 1024, output)


def _send(url: str, env: dict[str, str]) -> tuple[float, Child]:
    """A whole `newsletter send` of the edition to the list; its rate and the child."""
    _clear_ledger(url)
    sent = _child(["send", "--date", str(DAY)], env)
    return _ledger_rate(url)[0], sent


def _keys(work: Path) -> tuple[Path, Path]:
    rsa, ed25519 = work / "dkim-rsa.pem", work / "dkim-ed25519.pem"
    for command in (
        ["openssl", "genrsa", "-traditional", "-out", str(rsa), "2048"],
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(ed25519)],
    ):
        subprocess.run(command, check=True, capture_output=True)
    return rsa, ed25519


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _ledger_rate(url: str) -> tuple[float, float]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        count, first, last = session.execute(
            select(func.count(), func.min(Delivery.sent_at), func.max(Delivery.sent_at)).where(
                Delivery.sent_at.is_not(None)
            )
        ).one()
    engine.dispose()
    span = (last - first).total_seconds()
    return count / span, span


def _clear_ledger(url: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.execute(Delivery.__table__.delete())
    engine.dispose()


class _Sink:
    """smtp-sink on a free port of 127.0.0.1 while the block runs."""

    def __enter__(self) -> int:
        port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self._process = subprocess.Popen([str(SINK), *user, f"127.0.0.1:{port}", "1024"])
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    return port
            time.sleep(0.05)
        raise RuntimeError("smtp-sink did not start")

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.wait()


def _smtp_source(port: int, sessions: int, messages: int, size: int) -> float:
    command = [
        str(SOURCE),
        "-d",
        "-s",
        str(sessions),
        "-m",
        str(messages),
        "-l",
        str(size),
        "-f",
        "digest@vpk-news.example",
        "-t",
        "reader@example.org",
        f"127.0.0.1:{port}",
    ]
    start = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return messages / (time.monotonic() - start)


if __name__ == "__main__":
    main()
