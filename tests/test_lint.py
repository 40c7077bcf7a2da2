"""The tree is ruff-clean, ruff-formatted and passes mypy (config in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["ruff", "check", "."], id="ruff-check"),
        pytest.param(["ruff", "format", "--check", "."], id="ruff-format"),
        pytest.param(["mypy"], id="mypy"),
    ],
)
def test_lint(command: list[str]) -> None:
    tool = BIN / command[0]
    if not tool.exists():
        pytest.fail(
            f"{command[0]} is not installed next to {sys.executable}: pip install -e .[dev]"
        )
    proc = subprocess.run(
        [str(tool), *command[1:]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}",
            pytrace=False,
        )
