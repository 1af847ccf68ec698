"""Peak memory of `newsletter ingest` refusing a 50 MB article body, against a baseline run that
stores one ordinary article: the cap (`MAX_BODY_CHARS`, `jsonl.MAX_LINE_BYTES`) is meant to
refuse such a body before it is parsed, so memory must stay near the baseline's.

    .venv/bin/python bench/ingest.py [--megabytes 50]

Each figure is the maximum resident set size of a fresh `newsletter` process (ru_maxrss from
wait4 for that child alone), on a fresh SQLite file; prints both and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from newsletter.content import MAX_BODY_CHARS

ARTICLE = {
    "type": "article",
    "url": "https://vpk-news.example/articles/t9",
    "title": "T-9 trainer flies",
    "body": "The T-9 trainer made its first flight on Monday. It carried two pilots.",
    "published_at": "2024-12-23T09:40:00+03:00",
    "lang": "en",
}


def peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run `newsletter ARGS` in a child; its own peak RSS in MB (from wait4), its exit code and
    the last line it wrote to stderr."""
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "newsletter", *args], env=env, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = (err.read().strip().splitlines() or [""])[-1]
    return usage.ru_maxrss / 1024, child.returncode, tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NEWSLETTER_DATABASE_URL": f"sqlite:///{root / 'bench.sqlite3'}",
        }
        subprocess.run([sys.executable, "-m", "newsletter", "db", "upgrade"], env=env, check=True)
        small = root / "small.jsonl"
        small.write_text(json.dumps(ARTICLE) + "\n", "utf-8")
        huge = root / "huge.jsonl"
        with huge.open("w", encoding="utf-8") as out:
            # Written in pieces: a child's peak RSS counts its parent's at the fork.
            out.write(json.dumps(ARTICLE)[:-1] + ', "body": "')
            for _ in range(options.megabytes):
                out.write("Word. " * (1_000_000 // 6))
            out.write('"}\n')
        at_cap = root / "at-cap.jsonl"
        words = "Word. " * (MAX_BODY_CHARS // 6)
        at_cap.write_text(json.dumps({**ARTICLE, "url": ARTICLE["url"] + "-cap", "body": words}))
        del words
        size = huge.stat().st_size
        base, base_code, _ = peak_rss_mb(["ingest", str(small)], env)
        cap, cap_code, _ = peak_rss_mb(["ingest", str(at_cap)], env)
        peak, code, said = peak_rss_mb(["ingest", str(huge)], env)
    print(f"ingest of one ordinary article: peak RSS {base:.1f} MB (exit {base_code})")
    print(
        f"ingest of a body at the cap ({MAX_BODY_CHARS:,} characters): peak RSS {cap:.1f} MB "
        f"(exit {cap_code})"
    )
    print(f"ingest of a {size / 1e6:.0f} MB body: peak RSS {peak:.1f} MB (exit {code}): {said}")
    print(f"ratio, {options.megabytes} MB refused / ordinary: {peak / base:.2f}")


if __name__ == "__main__":
    main()
