"""`newsletter ARGS` run in the test's own process: the same `main`, environment and exit code as
the installed command, without the seconds a new Python process costs on a busy machine. An
exception `main` does not turn into an `Error:` line fails the test, traceback and all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from newsletter.cli import main

Cli = Callable[..., subprocess.CompletedProcess[str]]


def in_process_cli(
    env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """`cli(*args, expect=0, **more_env)`; an empty value in `more_env` unsets that variable."""

    def run(*args: str | Path, expect: int = 0, **extra: str) -> subprocess.CompletedProcess[str]:
        for name in [n for n in os.environ if n.startswith("NEWSLETTER_")]:
            monkeypatch.delenv(name)
        for name, value in {**env, **extra}.items():
            if value:
                monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "argv", ["newsletter", *map(str, args)])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out, err = capsys.readouterr()
        assert code == expect, out + err
        return subprocess.CompletedProcess(list(map(str, args)), code, out, err)

    return run


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("Error:")]
