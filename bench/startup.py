"""Start-up time of the `newsletter` command beside a bare interpreter, in one run.

    .venv/bin/python bench/startup.py [--repeat 15]

Runs `python -c pass` and `newsletter --help` (and the help of a few commands) in turn,
`--repeat` times each, interleaved so that a change in the machine's load weighs on all of them
alike, and prints the median wall time of each and its excess over the bare interpreter.
Target: `newsletter --help` at most 0.15 s more than `python -c pass`. What cron, shell loops
and every subprocess test pay before a command does anything.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 0.15
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "newsletter --help": [sys.executable, "-m", "newsletter", "--help"],
    "newsletter send --help": [sys.executable, "-m", "newsletter", "send", "--help"],
    "newsletter summarize --help": [sys.executable, "-m", "newsletter", "summarize", "--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeat):
        for name, command in COMMANDS.items():
            before = _children_cpu()
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(_children_cpu() - before)
    bare, bare_cpu = (
        statistics.median(times["python -c pass"]),
        statistics.median(cpu["python -c pass"]),
    )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"median of {args.repeat} runs each, wall and CPU (load average {load}):")
    for name in COMMANDS:
        wall, used = statistics.median(times[name]), statistics.median(cpu[name])
        extra = (
            ""
            if name == "python -c pass"
            else f" (+{wall - bare:.3f} s, CPU +{used - bare_cpu:.3f} s)"
        )
        print(f"  {name}: {wall:.3f} s, CPU {used:.3f} s{extra}")
    excess = statistics.median(times["newsletter --help"]) - bare
    print(f"newsletter --help - python -c pass: {excess:.3f} s (target <= {TARGET} s)")


def _children_cpu() -> float:
    """User and system CPU time of the finished children so far: on a loaded machine, wall time
    also counts the time a process waited for a core."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
