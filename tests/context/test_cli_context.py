"""`hearth context FILE:LINE:COL` as a user runs it, on the Python, TypeScript and Go fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def hearth(*args: str, cwd: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update(HEARTH_CACHE_DIR=str(tmp / "cache"), HEARTH_CONFIG_DIR=str(tmp / "config"))
    return subprocess.run(
        [sys.executable, "-m", "hearth", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        ("py/app.py:9:5", "class Circle(Shape):"),
        ("ts/src/index.ts:9:1", "export class UserStore {"),
        ("go/main.go:10:2", "func NewCircle(r float64) *Circle {"),
    ],
)
def test_context_shows_labelled_parts(
    workspace: Path, tmp_path: Path, position: str, expected: str
) -> None:
    proc = hearth("context", position, cwd=workspace, tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert expected in out
    assert "=== definition  " in out and "=== prefix  " in out and "=== suffix  " in out
    assert "estimated" in out  # no model configured here: counts are an estimate, said so
    # Paths are relative to the nearest project root (go/ has its own go.mod).
    name = Path(position.rsplit(":", 2)[0]).name
    assert any(ln.startswith("=== prefix  ") and f"{name}:" in ln for ln in out.splitlines())


def test_context_json_payload(workspace: Path, tmp_path: Path) -> None:
    proc = hearth(
        "context", "py/app.py:9:5", "--json", "--budget", "512", cwd=workspace, tmp=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"parts", "prompt", "tokens"}
    assert data["tokens"] <= 512
    part = data["parts"][0]
    assert set(part) == {"source", "path", "start_line", "end_line", "tokens", "text"}
    assert data["parts"][-1]["source"] == "suffix"


def test_context_with_a_real_vocabulary(
    workspace: Path, tmp_path: Path, shared_vocab: object
) -> None:
    vocab = shared_vocab("qwen2")  # type: ignore[operator]
    proc = hearth(
        "context", "py/app.py:9:5", "--json", "--model", str(vocab), cwd=workspace, tmp=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["estimated"] is False and data["template"] == "qwen"
    assert "<|file_sep|>py/pkg/shapes.py\n" in data["prompt"]


def test_context_bad_position(workspace: Path, tmp_path: Path) -> None:
    proc = hearth("context", "py/app.py:99:1", cwd=workspace, tmp=tmp_path)
    assert proc.returncode == 2 and "line 99" in proc.stderr
