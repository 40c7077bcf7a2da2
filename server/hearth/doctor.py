"""`hearth doctor`: is this machine ready, what is wrong, what to run, which model to pick.

Every check ends in ok / warn / fail with a line saying what to do. Doctor never downloads:
a configured registry model that is not pulled is reported with the pull command.
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from hearth.errors import HearthError
from hearth.settings import Settings

OK, WARN, FAIL = "ok", "warn", "fail"
SPEED_PROMPT_TOKENS = 128
SPEED_DECODE_TOKENS = 16
# The oldest llama-cpp-python whose bundled llama.cpp has the published GGUF parser and
# tokenizer fixes: 0.3.17 bundles llama.cpp 49bfddec (March 2026), past b8146, the build that
# fixed CVE-2026-27940 (a bypass of the July 2025 fix for CVE-2025-53630, llama.cpp 26a48ad).
# pyproject.toml pins the same lower bound (tests/engine/test_probe.py checks they agree).
LLAMA_CPP_PYTHON_MIN = "0.3.17"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str | None = None


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    recommendations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    speed: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def add(self, name: str, status: str, detail: str, fix: str | None = None) -> None:
        self.checks.append(Check(name, status, detail, fix))

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [c.__dict__ for c in self.checks],
            "speed": self.speed,
            "recommendations": self.recommendations,
        }


def _system_checks(report: Report) -> Any:
    from hearth.sysinfo import gather

    info = gather()
    report.add("python", OK, f"Python {info.python_version} on {info.platform}")
    features = set(info.cpu_features)
    cpu = f"{info.cpu_model or 'unknown CPU'}, {info.logical_cores} threads"
    if info.physical_cores:
        cpu += f" ({info.physical_cores} cores)"
    cpu += f"; features: {', '.join(sorted(features)) or 'unknown'}"
    if (
        sys.platform.startswith("linux")
        and info.machine in ("x86_64", "AMD64")
        and ("avx2" not in features)
    ):
        report.add("cpu", WARN, cpu, "no AVX2: inference will be slow; prefer the 0.5B models")
    else:
        report.add("cpu", OK, cpu)
    gib = 1 << 30
    if info.ram_total_bytes:
        avail = (info.ram_available_bytes or 0) / gib
        status = OK if avail >= 2 else WARN
        report.add(
            "memory",
            status,
            f"{info.ram_total_bytes / gib:.1f} GiB total, {avail:.1f} GiB available",
            None if status == OK else "close programs or pick a 0.5B model",
        )
    if info.gpus:
        names = ", ".join(
            f"{g.name} ({(g.memory_total_bytes or 0) / gib:.0f} GiB)" for g in info.gpus if g
        )
        offload = info.gpu_offload
        report.add(
            "gpu",
            OK if offload else WARN,
            f"{names}; llama-cpp-python GPU offload: {'yes' if offload else 'no'}",
            None
            if offload
            else "reinstall llama-cpp-python with CMAKE_ARGS=-DGGML_CUDA=on to use the GPU",
        )
    else:
        report.add("gpu", OK, "none found: CPU inference (the default)")
    return info


def _backend_checks(report: Report) -> None:
    from hearth.engine import ctransformers_backend, llamacpp_backend

    for name, module, pkg in (
        ("llamacpp", llamacpp_backend, "llama-cpp-python"),
        ("ctransformers", ctransformers_backend, "ctransformers"),
    ):
        try:
            module._import()
            installed = module.library_version()
            detail = f"{pkg} {installed} ({_bundled_ggml(name)})"
        except HearthError as exc:
            report.add(f"backend {name}", WARN, exc.message, exc.hint)
            continue
        if name == "llamacpp" and older_than(installed, LLAMA_CPP_PYTHON_MIN):
            report.add(
                f"backend {name}",
                WARN,
                f"{detail}: older than {LLAMA_CPP_PYTHON_MIN}, whose llama.cpp has the "
                "published GGUF and tokenizer fixes (CVE-2025-53630, CVE-2026-27940, ...)",
                f"pip install 'llama-cpp-python>={LLAMA_CPP_PYTHON_MIN}'",
            )
        else:
            report.add(f"backend {name}", OK, detail)


def older_than(version: str, minimum: str) -> bool:
    """Release-number comparison (`0.3.9` < `0.3.17`); suffixes like `+cu124` are ignored."""

    def parts(v: str) -> tuple[int, ...]:
        out: list[int] = []
        for piece in v.split("+")[0].split("."):
            digits = "".join(itertools.takewhile(str.isdigit, piece))
            if not digits:
                break
            out.append(int(digits))
        return tuple(out)

    return parts(version) < parts(minimum)


def _bundled_ggml(backend: str) -> str:
    """Which llama.cpp/ggml a backend carries: model files are untrusted input, and GGUF
    parser fixes (CVE-2024-21802/21825/21836/23496/23605, CVE-2025-53630...) live there."""
    if backend == "ctransformers":
        return (
            "bundles a 2023 ggml without the GGUF parser fixes; Hearth validates every "
            "GGUF header before it loads a file"
        )
    import ctypes
    from pathlib import Path

    try:
        import llama_cpp

        libs = sorted((Path(llama_cpp.__file__).parent / "lib").glob("*ggml-base*"))
        ggml = ctypes.CDLL(str(libs[0]))
        version, commit = ggml.ggml_version, ggml.ggml_commit
        version.restype = commit.restype = ctypes.c_char_p
        return f"bundled ggml {version().decode()}, commit {commit().decode()}"
    except Exception:  # an unusual build: report what the Python binding says
        try:
            from llama_cpp import llama_cpp as binding

            return f"bundled llama.cpp {binding.llama_version().decode()}"
        except Exception:
            return "bundled llama.cpp version unknown"


def _model_checks(report: Report, settings: Settings, speed_test: bool) -> None:
    from hearth.engine.backend import LoadOptions, SamplingParams
    from hearth.engine.catalog import find_configured_model
    from hearth.engine.loader import buffers_note, load_backend
    from hearth.engine.model_file import read_model_file
    from hearth.engine.service import Engine, ModelSpec

    roles = {"completion": settings.model, "chat": settings.chat_model or settings.model}
    for role, ref in roles.items():
        try:
            path, how = find_configured_model(settings, role)
        except HearthError as exc:
            report.add(
                f"{role} model", FAIL if role == "completion" else WARN, exc.message, exc.hint
            )
            continue
        if path is None:
            from hearth.engine.registry import DEFAULT_CHAT_MODEL, DEFAULT_COMPLETION_MODEL

            fallback = DEFAULT_COMPLETION_MODEL if role == "completion" else DEFAULT_CHAT_MODEL
            report.add(f"{role} model", WARN, how, f"hearth model pull {ref or fallback}")
            continue
        try:
            mf = read_model_file(path)
            t = time.perf_counter()
            backend = load_backend(
                path,
                settings.backend,
                LoadOptions(
                    n_ctx=min(settings.context_length, 2048), n_threads=settings.threads or None
                ),
                probe=settings.model_probe,
            )
            load_s = time.perf_counter() - t
        except HearthError as exc:
            report.add(f"{role} model", FAIL, exc.message, exc.hint)
            continue
        engine = Engine(ModelSpec(path), fim_template=settings.fim_template)
        template = engine.fim_template(backend)
        engine.close()
        buffers = (
            f"; {buffers_note(backend, settings.model_probe)}" if backend.name == "llamacpp" else ""
        )
        report.add(
            f"{role} model",
            OK,
            f"{path} ({mf.architecture}, {mf.size / 1e9:.2f} GB) loads with {backend.name} in "
            f"{load_s:.2f} s; {how}; FIM template: {template.name}; crash probe: "
            f"{'on' if settings.model_probe else 'off (model_probe = false)'}{buffers}",
        )
        if speed_test and role == "completion" and report.speed is None:
            tokens = (backend.tokenize("def f(x):\n    return x + 1\n") * 64)[:SPEED_PROMPT_TOKENS]
            tokens = tokens[: max(1, min(len(tokens), backend.n_ctx - SPEED_DECODE_TOKENS - 1))]
            t = time.perf_counter()
            backend.prefill(tokens)
            t_prefill = time.perf_counter() - t
            backend.start_sampling(SamplingParams())
            t = time.perf_counter()
            for _ in range(SPEED_DECODE_TOKENS):
                backend.accept(backend.sample())
            t_decode = time.perf_counter() - t
            report.speed = {
                "model": str(path),
                "backend": backend.name,
                "params": _param_count(mf),
                "prefill_tok_s": len(tokens) / t_prefill,
                "decode_tok_s": SPEED_DECODE_TOKENS / t_decode,
            }
            report.add(
                "speed",
                OK,
                f"prefill {report.speed['prefill_tok_s']:.0f} tok/s, "
                f"decode {report.speed['decode_tok_s']:.1f} tok/s ({backend.name})",
            )
        backend.close()


def _server_checks(report: Report, settings: Settings) -> None:
    """backend = "http": the endpoint is reachable, serves a model, and how big its context is."""
    from pathlib import Path

    from hearth.engine.backend import LoadOptions
    from hearth.engine.catalog import http_endpoint
    from hearth.engine.http_backend import HttpBackend, model_stub

    ep = http_endpoint(settings)
    if ep.is_loopback():
        report.add("server privacy", OK, f"{ep.display()} is on this machine (loopback)")
    elif ep.allow_remote:
        report.add(
            "server privacy",
            WARN,
            f"REMOTE server {ep.display()}: the code you edit is sent there (allow_remote = true)",
            "make sure this is your team's own server, reached over a network you trust",
        )
    try:
        t = time.perf_counter()
        local = Path(ep.tokenizer).expanduser() if ep.tokenizer else None
        backend = HttpBackend(
            model_stub(ep, local), LoadOptions(n_ctx=settings.context_length, http=ep)
        )
        probe_ms = (time.perf_counter() - t) * 1000
    except HearthError as exc:
        report.add("inference server", FAIL, exc.message, exc.hint)
        return
    report.add(
        "inference server",
        OK,
        f"{ep.display()} ({backend.flavor}) answers in {probe_ms:.0f} ms; models: "
        f"{', '.join(backend.models) or 'none listed'}; using {backend.served_model}",
    )
    ctx = backend.server_n_ctx
    report.add(
        "server context",
        OK if ctx else WARN,
        f"{backend.n_ctx} tokens"
        + (f" (server: {ctx})" if ctx else " (the server does not report its context)"),
        None if ctx else "set context_length to the server's context size (e.g. --n_ctx)",
    )
    report.add(
        "server tokens",
        OK if backend.knows_vocab else WARN,
        f"prompt lengths counted by {backend.tokenizer}",
        None
        if backend.knows_vocab
        else "set server_tokenizer to the model's GGUF for exact budgets and FIM detection",
    )
    backend.close()


def _param_count(mf: Any) -> float | None:
    """Parameters in billions, estimated from the file size and its type when not declared."""
    value = mf.metadata.get("general.parameter_count")
    if isinstance(value, int):
        return float(value) / 1e9
    return None


def run_doctor(settings: Settings, *, speed_test: bool = True) -> Report:
    report = Report()
    info = _system_checks(report)
    _backend_checks(report)
    if settings.backend == "http":
        _server_checks(report, settings)
    else:
        _model_checks(report, settings, speed_test)
    from hearth.engine.catalog import recommendations

    report.recommendations = recommendations(info, report.speed)
    return report


_MARK = {OK: "✓", WARN: "!", FAIL: "✗"}


def print_report(report: Report) -> None:
    for c in report.checks:
        print(f" {_MARK[c.status]} {c.name:<18} {c.detail}")
        if c.fix:
            print(f"   {'':<18} fix: {c.fix}")
    for role, recs in report.recommendations.items():
        print(f"\nrecommended {role} models for this machine:")
        for r in recs[:4]:
            print(f"   {r['name']:<30} {r['detail']}")
    print("\nall good" if report.ok else "\nsome checks failed: see the fix lines above")
