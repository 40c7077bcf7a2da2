"""The `hearth` command as a user runs it: a real process, real models, real exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "samples" / "fibonacci.py"


def hearth(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "hearth", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("hearth: error: ")
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.fixture
def isolated(tmp_path: Path) -> dict[str, str]:
    """No user config or cache of the person running the tests leaks in."""
    return {
        "HEARTH_CACHE_DIR": str(tmp_path / "cache"),
        "HEARTH_CONFIG_DIR": str(tmp_path / "config"),
        "HF_HUB_OFFLINE": "1",
    }


def test_help_lists_every_command() -> None:
    proc = hearth("--help")
    assert proc.returncode == 0
    for command in ("complete", "model", "doctor", "bench"):
        assert command in proc.stdout
    assert hearth("complete", "--help").returncode == 0
    assert hearth().returncode == 2


def test_complete_with_real_weights(stories_model: Path, isolated: dict[str, str]) -> None:
    proc = hearth("complete", f"{SAMPLE}:8:5", env={**isolated, "HEARTH_MODEL": str(stories_model)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert "prefix-only" in proc.stderr  # says what it did: no FIM tokens in this model


def test_complete_json_reports_tokens_and_timings(
    llama_spm_model: Path, isolated: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "calc.py"
    src.write_text("def add(a, b):\n    return \n\nprint(add(1, 2))\n", encoding="utf-8")
    for backend in ("llamacpp", "ctransformers"):
        proc = hearth(
            "complete",
            f"{src}:2:12",
            "--model",
            str(llama_spm_model),
            "--backend",
            backend,
            "--max-tokens",
            "8",
            "--json",
            env=isolated,
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["backend"] == backend
        assert out["template"] == "codellama"
        assert out["tokens"]["generated"] <= 8
        assert out["tokens"]["prompt"] == out["tokens"]["evaluated"] + out["tokens"]["reused"]
        assert set(out["timings_ms"]) == {"load", "prefill", "decode", "total"}
        for leak in ("<PRE>", "<SUF>", "<MID>", "<EOT>"):
            assert leak not in out["completion"]


def test_offline_without_a_model_says_in_one_line_what_to_do(isolated: dict[str, str]) -> None:
    start = time.monotonic()
    proc = hearth("complete", f"{SAMPLE}:8:5", env=isolated)
    assert time.monotonic() - start < 20
    assert_clean_error(proc, 4, "HEARTH_MODEL", "--model")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_model_file(isolated: dict[str, str], tmp_path: Path) -> None:
    proc = hearth("complete", f"{SAMPLE}:8:5", "--model", str(tmp_path / "nope.gguf"), env=isolated)
    assert_clean_error(proc, 3, "nope.gguf")


def test_truncated_gguf(llama_spm_model: Path, isolated: dict[str, str], tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    data = llama_spm_model.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    proc = hearth("complete", f"{SAMPLE}:8:5", "--model", str(cut), env=isolated)
    assert_clean_error(proc, 3, "truncated", "cut.gguf")


def test_text_file_renamed_gguf(isolated: dict[str, str], tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("this is not a model\n", encoding="utf-8")
    proc = hearth("complete", f"{SAMPLE}:8:5", "--model", str(fake), env=isolated)
    assert_clean_error(proc, 3, "not a model file")


def test_forced_backend_that_cannot_load_the_architecture(
    qwen_bpe_model: Path, isolated: dict[str, str]
) -> None:
    proc = hearth(
        "complete",
        f"{SAMPLE}:8:5",
        "--model",
        str(qwen_bpe_model),
        "--backend",
        "ctransformers",
        env=isolated,
    )
    assert_clean_error(proc, 3, str(qwen_bpe_model), "qwen2", "llamacpp")


def test_answer_longer_than_the_context(llama_spm_model: Path, isolated: dict[str, str]) -> None:
    proc = hearth(
        "complete",
        f"{SAMPLE}:8:5",
        "--model",
        str(llama_spm_model),
        "--context-length",
        "64",  # llama.cpp rounds this up to 256
        "--max-tokens",
        "1000",
        env=isolated,
    )
    assert_clean_error(proc, 1, "context")


@pytest.mark.parametrize(
    ("position", "code", "needle"),
    [
        ("fibonacci.py", 2, "FILE:LINE:COL"),
        ("fibonacci.py:99:1", 2, "line 99"),
        ("fibonacci.py:8:99", 2, "column 99"),
        ("missing.py:1:1", 1, "no such file"),
    ],
)
def test_bad_positions(
    position: str, code: int, needle: str, stories_model: Path, isolated: dict[str, str]
) -> None:
    proc = hearth(
        "complete",
        position,
        env={**isolated, "HEARTH_MODEL": str(stories_model)},
        cwd=SAMPLE.parent,
    )
    assert_clean_error(proc, code, needle)


def test_binary_source_file(
    llama_spm_model: Path, isolated: dict[str, str], tmp_path: Path
) -> None:
    blob = tmp_path / "blob.py"
    blob.write_bytes(b"\x00\x01\x02binary")
    proc = hearth("complete", f"{blob}:1:1", "--model", str(llama_spm_model), env=isolated)
    assert_clean_error(proc, 1, "binary")


def test_bad_setting_in_workspace_toml(
    llama_spm_model: Path, isolated: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "hearth.toml").write_text("max_token = 5\n", encoding="utf-8")
    shutil.copy(SAMPLE, tmp_path / "s.py")
    proc = hearth(
        "complete", "s.py:8:5", "--model", str(llama_spm_model), env=isolated, cwd=tmp_path
    )
    assert_clean_error(proc, 2, "max_token", "max_tokens")


def test_model_info_without_loading(llama_spm_model: Path, isolated: dict[str, str]) -> None:
    proc = hearth("model", "info", str(llama_spm_model), "--json", env=isolated)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["architecture"] == "llama"
    assert info["fim_template"] == "codellama"
    assert info["ctransformers"] == "can load"


def test_model_list(isolated: dict[str, str]) -> None:
    proc = hearth("model", "list", "--json", env=isolated)
    assert proc.returncode == 0, proc.stderr
    names = {row["name"] for row in json.loads(proc.stdout)}
    assert {"qwen2.5-coder-0.5b", "deepseek-coder-1.3b", "codellama-7b"} <= names


def test_doctor_checks_the_configured_model(
    llama_spm_model: Path, isolated: dict[str, str]
) -> None:
    proc = hearth("doctor", "--json", env={**isolated, "HEARTH_MODEL": str(llama_spm_model)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    names = {c["name"]: c for c in report["checks"]}
    assert names["completion model"]["status"] == "ok"
    assert "codellama" in names["completion model"]["detail"]
    assert report["speed"]["decode_tok_s"] > 0
    assert report["recommendations"]["completion"]


def test_doctor_without_model_says_what_to_do(isolated: dict[str, str]) -> None:
    proc = hearth("doctor", "--no-speed-test", env=isolated)
    assert "completion model" in proc.stdout
    assert "hearth model pull" in proc.stdout


def test_bench_engine_prints_both_backends_side_by_side(
    llama_spm_model: Path, isolated: dict[str, str]
) -> None:
    proc = hearth(
        "bench",
        "engine",
        "--model",
        str(llama_spm_model),
        "--repeats",
        "1",
        "--prompt-tokens",
        "64",
        "--decode-tokens",
        "4",
        env=isolated,
    )
    assert proc.returncode == 0, proc.stderr
    assert "llamacpp/ctransformers" in proc.stdout
    for row in ("load", "prefill 64 tok", "decode", "extend cached prompt by 10"):
        assert row in proc.stdout
