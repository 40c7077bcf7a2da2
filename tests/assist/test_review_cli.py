"""`hearth explain` and `hearth review` end to end with synthesized models (both backends),
SARIF validated against the SARIF 2.1.0 schema, exit codes for CI, and `--diff`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hearth.assist.assistant import AssistJob, Kind, Prepared, review_result
from hearth.assist.report import format_text, should_fail
from hearth.assist.sarif import FileReview, to_sarif
from hearth.assist.targets import parse_diff, parse_target
from hearth.cli import main
from hearth.engine.generate import Generation, StopReason

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "fibonacci.py"


def _validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(doc)


def _review_of(text: str, model_output: str, first: int, last: int) -> Any:
    """A ReviewResult for `model_output` as if the model had written it (no engine needed)."""
    job = AssistJob(Kind.REVIEW, None, None, Prepared(first=first, last=last))  # type: ignore[arg-type]
    gen = Generation(model_output, StopReason.EOS, [], 0, 0, 0, 0.0, 0.0)
    return review_result(job, gen)


def test_sarif_with_findings_and_fixes_validates() -> None:
    text = SAMPLE.read_text()
    output = json.dumps(
        {
            "findings": [
                {
                    "line": 2,
                    "end_line": 3,
                    "severity": "warning",
                    "category": "bug",
                    "message": "m1",
                    "replacement": "    pass",
                },
                {
                    "line": 4,
                    "end_line": 4,
                    "severity": "info",
                    "category": "style",
                    "message": "m2",
                    "replacement": None,
                },
                {
                    "line": 400,
                    "end_line": 400,
                    "severity": "error",
                    "category": "bug",
                    "message": "outside",
                    "replacement": None,
                },
            ]
        }
    )
    reviews = [
        FileReview("tests/samples/fibonacci.py", text, _review_of(text, output, 1, 9)),
        FileReview("other.py", "x = 1\n", _review_of("x = 1\n", "not json", 1, 1)),
    ]
    doc = to_sarif(reviews)
    _validate(doc)
    results = doc["runs"][0]["results"]
    assert [r["level"] for r in results] == ["warning", "note"]
    assert results[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"] == {
        "text": "    pass"
    }
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 2 and "no usable findings" in notes[1]["message"]["text"]
    assert should_fail(reviews, "warning") and not should_fail(reviews, "error")
    assert "fibonacci.py:2-3: warning [bug] m1" in format_text(reviews)


def test_targets_and_diff_hunks() -> None:
    assert parse_target("a/b.py:3-9").start == 3
    assert parse_target("a/b.py:7").end == 7
    assert parse_target("a/b.py").start is None
    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,0 +2,2 @@\n+a\n+b\n"
        "@@ -9 +11 @@\n-q\n+r\n@@ -20,3 +22,0 @@\n-gone\n+++ /dev/null\n"
    )
    # Added lines 2-3 and changed line 11; the pure deletion at 22 leaves nothing to review.
    assert [(t.path, t.start, t.end) for t in parse_diff(diff)] == [
        (Path("x.py"), 2, 3),
        (Path("x.py"), 11, 11),
    ]
    near = "+++ b/y.py\n@@ -1 +1 @@\n@@ -4 +4,2 @@\n"  # hunks 2 lines apart are merged
    assert [(t.start, t.end) for t in parse_diff(near)] == [(1, 5)]


def test_cli_review_sarif_validates_with_both_backends(
    chat_llama_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for backend in ("llamacpp", "ctransformers"):
        rc = main(
            [
                "review",
                f"{SAMPLE}:1-9",
                "--format",
                "sarif",
                "--fail-on",
                "never",
                "--model",
                str(chat_llama_model),
                "--backend",
                backend,
                "--max-tokens",
                "48",
            ]
        )
        out = capsys.readouterr().out
        assert rc == 0
        _validate(json.loads(out))


def test_cli_explain_streams_markdown(
    chat_qwen_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["explain", f"{SAMPLE}:1-9", "--model", str(chat_qwen_model), "--max-tokens", "24"])
    assert rc == 0
    assert capsys.readouterr().out.strip()


def test_cli_review_json_and_usage_errors(
    chat_qwen_model: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc = main(
        [
            "review",
            str(SAMPLE),
            "--format",
            "json",
            "--model",
            str(chat_qwen_model),
            "--max-tokens",
            "64",
        ]
    )
    assert rc == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["message"] and isinstance(entry["findings"], list)
    for f in entry["findings"]:  # never an invalid range
        assert entry["lines"][0] <= f["line"] <= f["end_line"] <= entry["lines"][1]
    assert main(["review"]) == 2
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"\0\1\2")
    assert main(["review", str(binary), "--model", str(chat_qwen_model)]) == 1
    empty = tmp_path / "empty.py"
    empty.write_text("\n\n\n")
    assert main(["explain", f"{empty}:1-2", "--model", str(chat_qwen_model)]) == 2
    assert "empty" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_cli_review_diff(
    chat_qwen_model: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "m.py").write_text("def f(x):\n    return x\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    assert main(["review", "--diff", "--model", str(chat_qwen_model)]) == 0
    assert "no changed lines" in capsys.readouterr().err
    (repo / "m.py").write_text("def f(x):\n    return x\n\n\ndef g(y):\n    return eval(y)\n")
    rc = main(
        [
            "review",
            "--diff",
            "HEAD",
            "--format",
            "json",
            "--model",
            str(chat_qwen_model),
            "--max-tokens",
            "48",
        ]
    )
    assert rc == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["path"] == "m.py" and entry["lines"] == [3, 6]
