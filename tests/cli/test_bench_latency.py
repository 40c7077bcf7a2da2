"""`hearth bench latency` end to end on a small synthesized Qwen model: the report has every
figure the issue asks for, and continued typing re-evaluates only a few prompt tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "samples" / "fibonacci.py"


def test_latency_bench_reports_every_figure(qwen_bpe_model: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update({"HEARTH_CACHE_DIR": str(tmp_path / "c"), "HEARTH_CONFIG_DIR": str(tmp_path)})
    args = ["--model", str(qwen_bpe_model), "--threads", "2", "--jumps", "1", "--chars", "6"]
    records = tmp_path / "records.jsonl"
    args += ["--context-budget", "256", "--json", "--records", str(records)]
    args += ["--set", "explicitCandidates=2", "--set", "complete_in_comments=true"]
    proc = subprocess.run(
        [sys.executable, "-m", "hearth", "bench", "latency", str(SAMPLE), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["requests"] >= 6
    assert report["context_budget_tokens"] == 256
    assert report["settings"] == {
        "explicitCandidates": 2,
        "complete_in_comments": True,
        "contextBudgetTokens": 256,
    }
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(lines) == report["requests"]
    assert all("e2e_ms" in r and "server_ms" in r and "source" in r for r in lines)
    for key in ("cold", "warm", "typed_ahead", "typed_ahead_server"):
        assert set(report[key]) == {"count", "p50_ms", "p95_ms"}
    assert report["cold"]["count"] == 1
    assert report["raw_decode_ms_per_token"] > 0
    assert "draft_acceptance_warm" in report
    assert report["cold_ratio_to_raw_prefill_decode_p50"] > 0
    assert report["cold_ratio_to_in_server_prefill_decode_p50"] > 0
    ev = report["evaluated_tokens_per_request"]
    # Qwen puts the suffix after the prefix; the moved suffix is not evaluated again.
    if report["warm"]["count"]:
        assert ev["warm_median"] <= 8, ev


def _bad_setting(value: str, *more: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "hearth", "bench", "latency", str(SAMPLE), "--model", "x.gguf"]
    return subprocess.run([*cmd, "--set", value, *more], capture_output=True, text=True, timeout=60)


def test_latency_bench_rejects_a_malformed_setting() -> None:
    proc = _bad_setting("speculative")
    assert proc.returncode != 0
    assert "--set 'speculative': expected NAME=VALUE" in proc.stderr
    assert "Traceback" not in proc.stderr
    typo = _bad_setting("speculatve=false")
    assert typo.returncode != 0
    assert "unknown setting 'speculatve'" in typo.stderr and "speculative" in typo.stderr
    http = _bad_setting("warmup=false", "--backend", "http")  # not silently ignored
    assert http.returncode != 0
    assert "--set and --records apply to the in-process backends" in http.stderr
