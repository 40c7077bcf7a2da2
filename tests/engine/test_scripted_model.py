"""The hand-weighted model writes its known answers through the real llama.cpp backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.bench import scripted

pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scripted.write_scripted_reviewer(tmp_path_factory.mktemp("m") / "rev.gguf")


def _hearth(args: list[str], model: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTH_MODEL": str(model)}
    return subprocess.run(
        [sys.executable, "-m", "hearth", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_review_writes_one_known_finding(model: Path, tmp_path: Path) -> None:
    (tmp_path / "sample.py").write_text("def add(a, b):\n    value = None\n    return a + b\n")
    proc = _hearth(["review", "sample.py", "--format", "json"], model, tmp_path)
    assert proc.returncode == 0, proc.stderr
    (report,) = json.loads(proc.stdout)
    (finding,) = report["findings"]
    assert finding["line"] == finding["end_line"] == scripted.FINDING_LINE
    assert finding["message"] == scripted.FINDING_MESSAGE


def test_explain_writes_the_known_sentence(model: Path, tmp_path: Path) -> None:
    (tmp_path / "sample.py").write_text("def add(a, b):\n    return a + b\n")
    proc = _hearth(["explain", "sample.py"], model, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert scripted.EXPLANATION in proc.stdout
