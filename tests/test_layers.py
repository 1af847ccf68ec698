"""The layering contract of pyproject.toml (`[tool.importlinter]`), judged by import-linter:
store at the bottom, then subscribers, the stages, edition and delivery (which never import
each other), the pipeline, the desk, the web app and the CLI. `make lint` runs it too; here it
also runs on a copy of the code with one upward import added, to show the contract bites."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_layers_point_one_way() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    for name in ("newsletter", "subscribers"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    history = root / "subscribers" / "history.py"
    history.write_text(history.read_text() + "\nfrom newsletter.web import app as _app\n")
    result = _lint_imports(root)
    assert result.returncode != 0
    assert "subscribers is not allowed to import newsletter.web" in result.stdout
    assert "subscribers.history -> newsletter.web.app" in result.stdout


def test_delivery_never_imports_the_edition_builder(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    engine = root / "newsletter" / "delivery" / "engine.py"
    engine.write_text(engine.read_text() + "\nfrom newsletter.edition import build as _build\n")
    result = _lint_imports(root)
    assert result.returncode != 0
    assert "newsletter.delivery is not allowed to import newsletter.edition" in result.stdout
    assert "newsletter.delivery.engine -> newsletter.edition" in result.stdout
