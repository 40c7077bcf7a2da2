"""llama.cpp's extra weight buffers (AMX, CPU repacking) and the fallback without them.

On Xeons that advertise AMX without the OS granting the tile state, llama-cpp-python's AMX
kernels segfault on the first decode of any quantized model (DESIGN.md). These tests run on any
CPU: the probe child's test-only switch (`probe.CRASH_ENV`) plays the crash, and the loads with
buffers on and off are real. On a CPU that advertises AMX the real-weight test is the real check.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hearth.bench import synth
from hearth.engine import loader, probe
from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.generate import GenerationRequest, generate
from hearth.engine.loader import load_backend
from hearth.engine.model_file import read_model_file
from hearth.errors import ModelCrashError, ModelLoadError
from hearth.sysinfo import cpu_advertises_amx

OPTS = LoadOptions(n_ctx=128, n_threads=1, n_batch=32)
NATIVE = "hearth.native.llama_cpp"


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(probe.CRASH_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def q4_model(llama_spm_model: Path, models_dir: Path) -> Path:
    """Q4_0: the type CPU repacking (AVX2) and AMX both take over."""
    return synth.quantize(llama_spm_model, models_dir / "llama-spm-q4_0.gguf", "q4_0")


def greedy(backend: Backend, n: int = 12) -> list[int]:
    prompt = backend.tokenize("def fibonacci(n):\n    ", add_bos=backend.add_bos)
    return list(generate(backend, prompt, GenerationRequest(max_tokens=n)).tokens)


def counting_probes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The extra_buffers option of each probe child started from now on."""
    calls: list[bool] = []
    real = probe._run_child

    def run(model: Any, backend: str, options: LoadOptions, timeout: float) -> Any:
        calls.append(options.extra_buffers)
        return real(model, backend, options, timeout)

    monkeypatch.setattr(probe, "_run_child", run)
    return calls


def extra_buffer_types() -> bool:
    """Whether this llama.cpp build has extra buffer types at all (CPU repacking or AMX)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    return "REPACK = 1" in info or "AMX" in info


@pytest.mark.parametrize("fixture", ["q4_model", "llama_spm_q8_model"])
def test_quantized_model_decodes_the_same_with_and_without_extra_buffers(
    fixture: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    path: Path = request.getfixturevalue(fixture)
    assert read_model_file(path).quantized
    tokens: dict[bool, list[int]] = {}
    logs: dict[bool, str] = {}
    for extra in (True, False):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger=NATIVE):
            b = load_backend(path, "llamacpp", dataclasses.replace(OPTS, extra_buffers=extra))
        logs[extra] = "\n".join(r.getMessage() for r in caplog.records if r.name == NATIVE)
        try:
            assert b.options.extra_buffers is extra
            tokens[extra] = greedy(b)
        finally:
            b.close()
    assert len(tokens[True]) > 4 and tokens[True] == tokens[False]
    # llama.cpp names its extra buffer types (CPU_REPACK, AMX) only where it may use them.
    assert "REPACK" not in logs[False] and "AMX" not in logs[False], logs[False]
    if extra_buffer_types():
        assert "CPU_REPACK" in logs[True] or "AMX" in logs[True], logs[True]


def test_a_crash_with_extra_buffers_falls_back_and_is_remembered(
    llama_spm_q8_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The AMX crash (played by the probe child's test switch): a second probe without extra
    buffers passes, the model loads that way, and the next start probes nothing."""
    path = tmp_path / "q8.gguf"
    path.write_bytes(llama_spm_q8_model.read_bytes())
    monkeypatch.setenv(probe.CRASH_ENV, "1")
    calls = counting_probes(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="hearth.engine.probe"):
        b = load_backend(path, "llamacpp", OPTS, probe=True)
    try:
        assert calls == [True, False]  # crashed with extra buffers, passed without
        assert b.options.extra_buffers is False
        assert greedy(b, 4)
    finally:
        b.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert str(path) in warnings[0] and "SIGSEGV" in warnings[0]
    assert "AMX/repacked" in warnings[0] and "off" in warnings[0]
    entry = probe.cached_entry(probe.cache_key(read_model_file(path), "llamacpp", OPTS))
    assert entry is not None and entry["extra_buffers"] is False
    # The next start goes straight to the safe load: no probe, no crash.
    again = load_backend(path, "llamacpp", OPTS, probe=True)
    assert again.options.extra_buffers is False
    again.close()
    assert calls == [True, False]
    # A new version of the file is probed afresh.
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000))
    monkeypatch.delenv(probe.CRASH_ENV)
    load_backend(path, "llamacpp", OPTS, probe=True).close()
    assert calls == [True, False, True]


def test_a_crash_both_ways_stays_an_error(
    llama_spm_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that aborts llama.cpp with or without extra buffers: the crash report, saying
    both ways were tried, and nothing remembered."""
    from test_probe import aborts_llamacpp

    bad = aborts_llamacpp(llama_spm_model, tmp_path / "aborts.gguf")
    calls = counting_probes(monkeypatch)
    with pytest.raises(ModelCrashError) as err:
        load_backend(bad, "llamacpp", OPTS, probe=True)
    assert calls == [True, False]
    message = err.value.user_message()
    assert "SIGABRT" in message and "on and off" in message and str(bad) in message
    assert probe.cached_entry(probe.cache_key(read_model_file(bad), "llamacpp", OPTS)) is None


def test_a_clean_refusal_is_not_probed_twice(
    llama_spm_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_probe import mutant

    path = mutant(llama_spm_model, tmp_path / "kv.gguf", "llama.attention.head_count_kv", 3)
    calls = counting_probes(monkeypatch)
    with pytest.raises(ModelLoadError):
        load_backend(path, "llamacpp", OPTS, probe=True)
    assert calls == [True]


def test_without_the_probe_amx_means_no_extra_buffers_for_quantized_files(
    llama_spm_model: Path,
    llama_spm_q8_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import hearth.sysinfo

    monkeypatch.setattr(hearth.sysinfo, "cpu_advertises_amx", lambda: True)
    with caplog.at_level(logging.WARNING, logger="hearth.engine.loader"):
        q8 = load_backend(llama_spm_q8_model, "llamacpp", OPTS)
        f32 = load_backend(llama_spm_model, "llamacpp", OPTS)
    try:
        assert q8.options.extra_buffers is False and greedy(q8, 4)
        assert f32.options.extra_buffers is True  # AMX kernels take quantized weights only
    finally:
        q8.close()
        f32.close()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(llama_spm_q8_model) in warning and "AMX" in warning and "model_probe" in warning
    assert "loads with repacked/AMX buffers off" in loader.buffers_note(q8, probed=False)
    monkeypatch.setattr(hearth.sysinfo, "cpu_advertises_amx", lambda: False)
    plain = load_backend(llama_spm_q8_model, "llamacpp", OPTS)
    assert plain.options.extra_buffers is True
    assert "buffers on (no AMX on this CPU)" in loader.buffers_note(plain, probed=False)
    plain.close()


def test_doctor_says_how_the_model_loads(llama_spm_q8_model: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update(
        HEARTH_CACHE_DIR=str(tmp_path / "cache"),
        HEARTH_CONFIG_DIR=str(tmp_path / "config"),
        HEARTH_MODEL=str(llama_spm_q8_model),
        HF_HUB_OFFLINE="1",
    )
    env[probe.CRASH_ENV] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "hearth", "doctor", "--json", "--no-speed-test"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    detail = checks["completion model"]["detail"]
    assert "loads with repacked/AMX buffers off: the backend crashed with them on" in detail
    assert ("this CPU advertises AMX" if cpu_advertises_amx() else "no AMX on this CPU") in detail


def test_a_real_quantized_model_decodes_through_the_normal_path(
    stories_model: Path, models_dir: Path
) -> None:
    """Real trained weights, quantized to the types the AMX kernels take, loaded as the server
    loads them (probe on): on a CPU whose AMX crashes this goes through the fallback, and
    everywhere it must tell the same story."""
    for qtype in ("q8_0", "q4_0"):
        path = synth.quantize(stories_model, models_dir / f"stories260K-{qtype}.gguf", qtype)
        b = load_backend(path, "auto", LoadOptions(n_ctx=256, n_threads=2), probe=True)
        try:
            prompt = b.tokenize("Once upon a time", add_bos=True)
            text = generate(b, prompt, GenerationRequest(max_tokens=16)).text
            assert text.startswith(", there was a little girl"), (qtype, text)
        finally:
            b.close()
