"""`newsletter summarize`: a file or standard input to sentences, and JSON Lines in bulk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli import app

ARTICLE = (
    "The navy has ordered four new frigates for its northern fleet. "
    "The frigates will replace ships in service since the 1980s. "
    "He added that the first frigate of the fleet is due in 2027. "
    "Deliveries of the frigates to the fleet start next spring."
)


def test_summarize_a_file_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "article.txt"
    path.write_text(ARTICLE, "utf-8")
    runner = CliRunner()
    from_file = runner.invoke(app, ["summarize", str(path), "--sentences", "2"])
    assert from_file.exit_code == 0, from_file.output
    lines = from_file.output.splitlines()
    assert len(lines) == 2 and all(line in ARTICLE for line in lines)
    from_stdin = runner.invoke(app, ["summarize", "-", "--sentences", "2"], input=ARTICLE)
    assert from_stdin.output == from_file.output
    lead = runner.invoke(app, ["summarize", str(path), "--method", "lead", "--sentences", "1"])
    assert lead.output == "The navy has ordered four new frigates for its northern fleet.\n"


def test_summarize_jsonl_in_one_process() -> None:
    records = [
        {"id": "a", "lang": "en", "title": "Frigates", "text": ARTICLE, "max_sentences": 1},
        {
            "id": 7,
            "lang": "ru",
            "text": "Завод построил новый корабль. Корабль спущен на воду в г. Калининград.",
        },
    ]
    stdin = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n\n"
    result = CliRunner().invoke(app, ["summarize", "--jsonl", "--method", "textrank"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["id"] for o in out] == ["a", 7]
    assert len(out[0]["summary"]) == 1 and out[0]["summary"][0] in ARTICLE
    assert out[1]["summary"] == [
        "Завод построил новый корабль.",
        "Корабль спущен на воду в г. Калининград.",
    ]


def newsletter(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    """The installed command in its own process, so errors go through its one exit point."""
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_bad_jsonl_record_is_one_error_line_after_the_good_ones() -> None:
    stdin = '{"id": 1, "text": "The navy ordered four frigates."}\n{"id": 2, "text": 5}\n'
    done = newsletter(["summarize", "--jsonl"], stdin)
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"id": 1, "summary": ["The navy ordered four frigates."]}
    assert done.stderr == 'Error: <stdin>: line 2: "text" must be a string\n'
    not_json = newsletter(["summarize", "--jsonl"], "{oops\n")
    assert not_json.stderr.startswith("Error: <stdin>: line 1: not JSON")


def test_unknown_method_language_and_file_are_one_line_errors(tmp_path: Path) -> None:
    done = newsletter(["summarize", "-", "--method", "nosuch"], ARTICLE)
    assert done.returncode == 1
    assert done.stderr == (
        "Error: unknown summarization method 'nosuch'; "
        "choose one of centroid, default, lead, textrank\n"
    )
    assert newsletter(["summarize", "-", "--lang", "de"], ARTICLE).stderr.startswith(
        "Error: unsupported summary language 'de'"
    )
    missing = tmp_path / "missing.txt"
    done = newsletter(["summarize", str(missing)], "")
    assert done.returncode == 1
    assert done.stderr == f"Error: {missing}: cannot read: No such file or directory\n"
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Caf\xe9 ordered.".encode("latin-1"))
    assert newsletter(["summarize", str(latin1)], "").stderr.startswith(
        f"Error: {latin1}: byte 3: not UTF-8 text"
    )
