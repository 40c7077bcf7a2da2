"""Running a Hearth command in a child Python that writes a JSON report (audit hooks and
import-time settings must not touch the test runner itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_child(
    script: str,
    report: Path,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    drop: tuple[str, ...] = ("HEARTH_",),
    timeout: float = 180,
) -> tuple[dict[str, object], subprocess.CompletedProcess[str]]:
    """Run `python -c script REPORT ARGS...` with the runner's environment less the
    variables starting with `drop`, plus `env`; return the report and the finished child."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", script, str(report), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    assert report.exists(), proc.stderr
    result: dict[str, object] = json.loads(report.read_text())
    return result, proc
