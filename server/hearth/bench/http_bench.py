"""`hearth bench latency --backend http`: the same typing replay over a loopback server,
side by side with the in-process backend, plus what HTTP itself costs and how 4 editors
sharing one server fare.

Unless `--server-url` is given, llama-cpp-python's own server (`python -m llama_cpp.server`)
is started on a free loopback port for the model and stopped afterwards, so both columns run
the same model file with the same llama.cpp.
"""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hearth.completion.stats import percentile

N_EDITORS = 4
OVERHEAD_REQUESTS = 20
EDITOR_REQUESTS = 8
EDITOR_MAX_TOKENS = 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(model: Path, threads: int | None, n_ctx: int = 4096) -> Iterator[str]:
    """Run llama-cpp-python's OpenAI-compatible server for `model` on loopback."""
    with tempfile.TemporaryFile() as log:
        yield from _serve(model, threads, n_ctx, log)


def _serve(model: Path, threads: int | None, n_ctx: int, log: Any) -> Iterator[str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)]
    cmd += ["--interrupt_requests", "False"]  # editors queue instead of cutting each other off
    if threads:
        cmd += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-1500:]
                raise RuntimeError(f"llama_cpp.server exited ({proc.returncode}): {tail}")
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=1) as resp:
                    if json.load(resp).get("data"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("llama_cpp.server did not start within 120 s") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ms_stats(values: list[float]) -> dict[str, Any]:
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    return {
        "count": len(values),
        "p50_ms": None if p50 is None else round(p50, 2),
        "p95_ms": None if p95 is None else round(p95, 2),
    }


def _prompts(source: Path, n: int) -> list[tuple[str, str]]:
    """`n` (prefix, suffix) cut points spread over the file."""
    text = source.read_text(encoding="utf-8")
    lines = text.split("\n")
    out = []
    for i in range(n):
        at = sum(len(ln) + 1 for ln in lines[: int(len(lines) * (i + 1) / (n + 1))])
        out.append((text[max(0, at - 1500) : at], text[at : at + 200]))
    return out


def _engine(backend: str, model: Path, url: str | None, threads: int | None) -> Any:
    from hearth.engine.backend import LoadOptions
    from hearth.engine.http_endpoint import HttpEndpoint
    from hearth.engine.service import Engine, ModelSpec

    if backend == "http":
        opts = LoadOptions(n_ctx=4096, http=HttpEndpoint(url=url or "", api_key_env=None))
        return Engine(ModelSpec(Path(""), "http", opts))
    return Engine(ModelSpec(model, backend, LoadOptions(n_ctx=4096, n_threads=threads)))


def _complete(engine: Any, prefix: str, suffix: str, max_tokens: int) -> float:
    from hearth.completion.fim import fim_prompt_tokens
    from hearth.engine.generate import GenerationRequest
    from hearth.engine.service import Role

    def build(backend: Any) -> tuple[list[int], GenerationRequest]:
        tpl = engine.fim_template(backend)
        return fim_prompt_tokens(backend, tpl, prefix, suffix), GenerationRequest(
            max_tokens=max_tokens
        )

    t0 = time.perf_counter()
    engine.submit(Role.COMPLETION, build).result(300)
    return (time.perf_counter() - t0) * 1000


def http_overhead(
    model: Path, url: str, source: Path, threads: int | None, n: int = OVERHEAD_REQUESTS
) -> dict[str, Any]:
    """The same cached prompt answered in process and over HTTP; the difference is HTTP's."""
    (prefix, suffix), *_ = _prompts(source, 1)
    out: dict[str, Any] = {}
    for name in ("llamacpp", "http"):
        engine = _engine(name, model, url, threads)
        try:
            _complete(engine, prefix, suffix, 4)  # load, and cache the prompt
            out[name] = [_complete(engine, prefix, suffix, 4) for _ in range(n)]
        finally:
            engine.close()
    local, remote = statistics.median(out["llamacpp"]), statistics.median(out["http"])
    return {
        "requests": n,
        "max_tokens": 4,
        "in_process_p50_ms": round(local, 2),
        "http_p50_ms": round(remote, 2),
        "overhead_p50_ms": round(remote - local, 2),
    }


def editors_sharing(
    url: str, source: Path, n_editors: int = N_EDITORS, requests: int = EDITOR_REQUESTS
) -> dict[str, Any]:
    """`n_editors` editors, each its own engine and prompts, asking at the same time."""
    prompts = _prompts(source, n_editors * requests)
    results: dict[int, list[float]] = {}
    errors: list[str] = []
    start = threading.Barrier(n_editors)

    def editor(i: int) -> None:
        engine = _engine("http", Path(""), url, None)
        try:
            engine.load().result(60)
            start.wait()
            mine = prompts[i::n_editors]
            results[i] = [_complete(engine, p, s, EDITOR_MAX_TOKENS) for p, s in mine]
        except Exception as exc:  # reported, not raised: the other editors' figures stand
            errors.append(f"editor {i + 1}: {exc}")
        finally:
            engine.close()

    threads = [threading.Thread(target=editor, args=(i,)) for i in range(n_editors)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "editors": n_editors,
        "requests_per_editor": requests,
        "max_tokens": EDITOR_MAX_TOKENS,
        "per_editor": {f"editor {i + 1}": _ms_stats(v) for i, v in sorted(results.items())},
        "all": _ms_stats([x for v in results.values() for x in v]),
        "wall_s": round(wall, 2),
        "errors": errors,
    }


def run_http_latency_bench(
    model: Path,
    source: Path,
    *,
    server_url: str | None = None,
    threads: int | None = None,
    jumps: int = 3,
    chars: int = 16,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    from hearth.bench.latency_bench import run_latency_bench

    with contextlib.ExitStack() as stack:
        url = server_url
        if url is None:
            progress("starting llama_cpp.server on loopback")
            url = stack.enter_context(llama_server(model, threads))
        progress("in-process session (llamacpp)")
        local = run_latency_bench(
            model,
            source,
            backend="llamacpp",
            threads=threads,
            jumps=jumps,
            chars=chars,
            progress=progress,
        )
        progress(f"http session ({url})")
        remote = run_latency_bench(
            model,
            source,
            backend="http",
            threads=threads,
            jumps=jumps,
            chars=chars,
            progress=progress,
            extra_options={"serverUrl": url, "contextLength": 4096},
        )
        progress("HTTP overhead per request")
        overhead = http_overhead(model, url, source, threads)
        progress(f"{N_EDITORS} editors sharing the server")
        shared = editors_sharing(url, source)
    return {"in_process": local, "http": remote, "overhead": overhead, "editors": shared}


def format_http_report(r: dict[str, Any]) -> str:
    from hearth.bench.latency_bench import format_latency_report

    o, e = r["overhead"], r["editors"]
    lines = [
        format_latency_report(r["in_process"]),
        "",
        format_latency_report(r["http"]),
        "",
        f"HTTP overhead per request ({o['requests']} requests, cached prompt, "
        f"{o['max_tokens']} tokens): in process p50 {o['in_process_p50_ms']} ms, over HTTP "
        f"p50 {o['http_p50_ms']} ms, overhead p50 {o['overhead_p50_ms']} ms",
        f"{e['editors']} editors sharing one server ({e['requests_per_editor']} requests each, "
        f"{e['max_tokens']} tokens, different files): wall {e['wall_s']} s",
    ]
    for name, s in e["per_editor"].items():
        lines.append(f"  {name:<10} p50 {s['p50_ms']} ms  p95 {s['p95_ms']} ms ({s['count']})")
    lines.append(f"  all        p50 {e['all']['p50_ms']} ms  p95 {e['all']['p95_ms']} ms")
    lines += [f"  error: {err}" for err in e["errors"]]
    return "\n".join(lines)
