"""`hearth bench engine`: the four numbers that decide completion latency, per backend.

Load time, prefill throughput for a long prompt, decode throughput at that context, and the
cost of extending a cached prompt by 10 tokens (what one keystroke costs when the prompt is
laid out for reuse). Medians over repeats; the prompt is real Python source from the
standard library, so token counts look like code, not like repeated filler.
"""

from __future__ import annotations

import gc
import inspect
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hearth.engine.backend import Backend, LoadOptions, SamplingParams
from hearth.engine.loader import choose_backend, installed_backends, load_backend
from hearth.engine.model_file import read_model_file
from hearth.errors import HearthError

EXTEND_TOKENS = 10


def code_text(min_chars: int) -> str:
    """Real Python source (standard library modules) of at least `min_chars` characters."""
    import argparse
    import json.decoder
    import logging as logging_mod
    import textwrap

    parts: list[str] = []
    for mod in (argparse, json.decoder, logging_mod, textwrap, inspect):
        parts.append(inspect.getsource(mod))
        if sum(len(p) for p in parts) >= min_chars:
            break
    return "\n".join(parts)


def _prompt(backend: Backend, n: int, salt: int) -> list[int]:
    """`n` tokens of code; `salt` changes the first token so no prefix is reused."""
    tokens = backend.tokenize(code_text(n * 8))
    if len(tokens) < n + EXTEND_TOKENS:
        tokens = tokens * (1 + (n + EXTEND_TOKENS) // max(1, len(tokens)))
    tokens = tokens[: n + EXTEND_TOKENS]
    tokens[0] = (tokens[0] + 1 + salt) % backend.n_vocab
    return tokens


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_backend(
    path: Path,
    backend_name: str,
    *,
    repeats: int,
    prompt_tokens: int,
    decode_tokens: int,
    threads: int | None,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    n_ctx = prompt_tokens + EXTEND_TOKENS + decode_tokens + 16
    options = LoadOptions(n_ctx=n_ctx, n_threads=threads, n_batch=512)
    load_s: list[float] = []
    backend: Backend | None = None
    for i in range(repeats):
        progress(f"{backend_name}: load {i + 1}/{repeats}")
        if backend is not None:
            backend.close()
            backend = None
            gc.collect()
        t = time.perf_counter()
        backend = load_backend(path, backend_name, options)
        load_s.append(time.perf_counter() - t)
    assert backend is not None
    if backend.n_ctx < n_ctx:
        raise HearthError(
            f"the model's context ({backend.n_ctx}) is smaller than the benchmark needs ({n_ctx})",
            "use --prompt-tokens with a smaller number",
        )
    prefill_s: list[float] = []
    decode_s: list[float] = []
    extend_s: list[float] = []
    reused: list[int] = []
    for i in range(repeats):
        progress(f"{backend_name}: prefill/decode {i + 1}/{repeats}")
        tokens = _prompt(backend, prompt_tokens, i)
        backend.reset()
        t = time.perf_counter()
        stats = backend.prefill(tokens[:prompt_tokens])
        prefill_s.append(time.perf_counter() - t)
        assert stats.n_evaluated == prompt_tokens
        # Extend the cached prompt by a few tokens, as a keystroke does.
        t = time.perf_counter()
        ext = backend.prefill(tokens[: prompt_tokens + EXTEND_TOKENS])
        extend_s.append(time.perf_counter() - t)
        reused.append(ext.n_reused)
        backend.start_sampling(SamplingParams(temperature=0.0))
        t = time.perf_counter()
        for _ in range(decode_tokens):
            backend.accept(backend.sample())  # eos or not: the cost per token is the point
        decode_s.append(time.perf_counter() - t)
    result = {
        "backend": backend_name,
        "version": backend.version(),
        "n_ctx": backend.n_ctx,
        "load_s": _median(load_s),
        "prefill_tok_s": prompt_tokens / _median(prefill_s),
        "decode_tok_s": decode_tokens / _median(decode_s),
        "extend10_ms": _median(extend_s) * 1000,
        "extend_reused_tokens": int(_median([float(r) for r in reused])),
        "memory_mb": backend.memory_bytes() / 1e6,
        "runs": {
            "load_s": load_s,
            "prefill_s": prefill_s,
            "decode_s": decode_s,
            "extend_s": extend_s,
        },
    }
    backend.close()
    return result


def run_engine_bench(
    path: Path,
    *,
    backends: list[str],
    repeats: int = 3,
    prompt_tokens: int = 1024,
    decode_tokens: int = 32,
    threads: int | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    model = read_model_file(path)
    have = installed_backends()
    report: dict[str, Any] = {
        "model": str(path),
        "architecture": model.architecture,
        "size_mb": model.size / 1e6,
        "repeats": repeats,
        "prompt_tokens": prompt_tokens,
        "decode_tokens": decode_tokens,
        "threads": LoadOptions(n_threads=threads).threads(),
        "results": [],
        "skipped": {},
    }
    for name in backends:
        if not have.get(name, False):
            report["skipped"][name] = "not installed"
            continue
        try:
            choose_backend(model, name)
            report["results"].append(
                bench_backend(
                    path,
                    name,
                    repeats=repeats,
                    prompt_tokens=prompt_tokens,
                    decode_tokens=decode_tokens,
                    threads=threads,
                    progress=progress,
                )
            )
        except HearthError as exc:
            report["skipped"][name] = exc.message
    return report


ROWS = (
    ("load", "load_s", "{:.2f} s", False),
    ("prefill {n} tok", "prefill_tok_s", "{:.0f} tok/s", True),
    ("decode", "decode_tok_s", "{:.1f} tok/s", True),
    (f"extend cached prompt by {EXTEND_TOKENS}", "extend10_ms", "{:.1f} ms", False),
    ("memory", "memory_mb", "{:.0f} MB", False),
)


def format_report(report: dict[str, Any]) -> str:
    results = report["results"]
    lines = [
        f"model: {report['model']} ({report['architecture']}, {report['size_mb']:.0f} MB), "
        f"{report['threads']} threads, medians of {report['repeats']} runs",
    ]
    names = [r["backend"] for r in results]
    header = f"{'':<28}" + "".join(f"{n:>16}" for n in names)
    if len(results) == 2:
        header += f"{names[0] + '/' + names[1]:>28}"
    lines.append(header)
    for label, key, fmt, higher_better in ROWS:
        label = label.format(n=report["prompt_tokens"])
        row = f"{label:<28}" + "".join(f"{fmt.format(r[key]):>16}" for r in results)
        if len(results) == 2 and results[1][key]:
            ratio = results[0][key] / results[1][key]
            note = "(higher is better)" if higher_better else "(lower is better)"
            row += f"{f'{ratio:.2f}x {note}':>28}"
        lines.append(row)
    for name, why in report["skipped"].items():
        lines.append(f"{name}: skipped: {why}")
    return "\n".join(lines)
