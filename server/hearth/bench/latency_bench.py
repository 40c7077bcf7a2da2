"""`hearth bench latency`: replay typing a real file through a real `hearth serve` over stdio.

At a few cursor positions ("jumps") the file's next characters are typed one at a time, each
keystroke a `didChange` then an automatic `inlineCompletion`, awaited like an editor showing
ghost text. After a suggestion appears, its first characters are typed too (the user typing
what they see), then taken back. Requests are classed from the server's own records: cold
(first at a new position), warm (continued typing), typed-ahead (answered from the cache).
The floor is the backend decoding the same number of tokens with no prompt, measured
in-process after the session.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from hearth.completion.stats import percentile
from hearth.lsp.jsonvalue import plain

TYPED_AHEAD_CHARS = 2
# The raw cold reference: one prefill + decode per cold request, each the median of a few
# runs (one run of a 10-second prefill varies by 20% on a shared machine).
RAW_COLD_RUNS = 3


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Typist:
    """Keeps the client's copy of the document and the cursor, and sends edits."""

    def __init__(self, client: Any, uri: str, text: str, offset: int) -> None:
        self.client, self.uri, self.text, self.offset = client, uri, text, offset
        self.version = 1

    def position(self) -> types.Position:
        before = self.text[: self.offset]
        line = before.count("\n")
        col = before[before.rfind("\n") + 1 :]
        return types.Position(line=line, character=_utf16(col))

    def _edit(self, start: int, end: int, new: str) -> None:
        a, b = self._pos(start), self._pos(end)
        self.text = self.text[:start] + new + self.text[end:]
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=a, end=b), text=new
                    )
                ],
            )
        )

    def _pos(self, offset: int) -> types.Position:
        before = self.text[:offset]
        line = before.count("\n")
        return types.Position(line=line, character=_utf16(before[before.rfind("\n") + 1 :]))

    def type(self, ch: str) -> None:
        self._edit(self.offset, self.offset, ch)
        self.offset += len(ch)

    def erase(self, n: int) -> None:
        self._edit(self.offset - n, self.offset, "")
        self.offset -= n


async def _request(client: Any, typist: _Typist) -> tuple[float, str]:
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=typist.uri),
        position=typist.position(),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )
    t0 = time.perf_counter()
    result = await client.text_document_inline_completion_async(params)
    ms = (time.perf_counter() - t0) * 1000
    items = result.items if isinstance(result, types.InlineCompletionList) else result or []
    text = items[0].insert_text if items else ""
    return ms, text if isinstance(text, str) else ""


async def _session(
    model: Path,
    source: Path,
    backend: str,
    threads: int | None,
    jumps: int,
    chars: int,
    progress: Callable[[str], None],
    extra_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from pygls.lsp.client import LanguageClient

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    root = work / "ws"
    root.mkdir()
    path = root / source.name
    text = source.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    client = LanguageClient("hearth-bench", "1")
    await client.start_io(sys.executable, "-m", "hearth", "serve")
    options: dict[str, Any] = {
        "model": str(model),
        "backend": backend,
        "indexDir": str(work / "index"),
        "completionStats": False,
    }
    if threads:
        options["threads"] = threads
    options.update(extra_options or {})
    try:
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities()
                    )
                ),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
                initialization_options=options,
            )
        )
        client.initialized(types.InitializedParams())
        for _ in range(6000):
            st = plain(await client.protocol.send_request_async("hearth/status", {}))
            if st["model"]["state"] in ("ready", "error", "off"):
                break
            await asyncio.sleep(0.05)
        if st["model"]["state"] != "ready":
            raise RuntimeError(f"model did not load: {st['model']['message']}")
        lines = text.split("\n")
        starts = [int(len(lines) * (i + 1) / (jumps + 1)) for i in range(jumps)]
        samples: list[dict[str, Any]] = []
        for j, line_no in enumerate(starts):
            offset = sum(len(ln) + 1 for ln in lines[:line_no])
            # Skip to the first non-blank character of a line with something to type.
            while offset < len(text) and text[offset] in " \t\n":
                offset += 1
            # The rest of the line goes; its first characters are typed back, so nothing
            # stands right of the cursor (as when writing new code).
            end = text.find("\n", offset)
            end = len(text) if end == -1 else end
            chunk = text[offset : min(end, offset + chars)]
            doc = text[:offset] + text[end:]
            uri = (root / f"jump{j}_{source.name}").as_uri()
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=doc
                    )
                )
            )
            typist = _Typist(client, uri, doc, offset)
            progress(f"jump {j + 1}/{jumps}: typing {len(chunk)} characters at line {line_no + 1}")
            for ch in chunk:
                typist.type(ch)
                ms, shown = await _request(client, typist)
                samples.append({"e2e_ms": ms, "jump": j})
                typed = 0
                for c in shown[:TYPED_AHEAD_CHARS]:
                    if c in "\r\n" or not shown[typed + 1 :].strip():
                        break
                    typist.type(c)
                    typed += 1
                    ms, _ = await _request(client, typist)
                    samples.append({"e2e_ms": ms, "jump": j})
                if typed:
                    typist.erase(typed)
        stats = plain(await client.protocol.send_request_async("hearth/completionStats", {}))
    finally:
        try:
            await asyncio.wait_for(client.shutdown_async(None), 30)
            client.exit(None)
        except Exception:
            pass
        await client.stop()  # type: ignore[no-untyped-call]
        shutil.rmtree(work, ignore_errors=True)
    records = [r for r in stats["recent"]]
    if len(records) != len(samples):
        raise RuntimeError(f"{len(samples)} requests sent, {len(records)} records on the server")
    for s, r in zip(samples, records, strict=True):
        s.update(r)
    return {"samples": samples, "engine": stats["engine"]}


def raw_cold_ms(b: Any, source: list[int], n_prompt: int, n_generated: int) -> float:
    """Milliseconds for a cold prefill of the first `n_prompt` tokens of `source` (at least
    that long) and `n_generated` greedy decodes: the median of RAW_COLD_RUNS runs."""
    from hearth.engine.backend import SamplingParams

    runs = []
    for _ in range(RAW_COLD_RUNS):
        b.reset()
        t0 = time.perf_counter()
        b.prefill(source[:n_prompt])
        b.start_sampling(SamplingParams())
        for _ in range(n_generated):
            b.accept(b.sample())
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def _raw_reference(
    model: Path,
    backend: str,
    threads: int | None,
    n_decode: int,
    cold: list[tuple[int, int]],
    text: str,
) -> dict[str, Any]:
    """The backend alone, in this process: decoding `n_decode` tokens after a one-token
    prompt (the physical floor per token), and for each cold request (prompt tokens,
    generated tokens) a fresh prefill of as many tokens of `text` plus that many decodes."""
    from hearth.engine.backend import LoadOptions, SamplingParams
    from hearth.engine.loader import load_backend

    b = load_backend(model, backend, LoadOptions(n_threads=threads))
    try:
        times = []
        for _ in range(3):
            b.reset()
            first = b.bos_id if b.bos_id is not None else b.tokenize("def")[0]
            b.prefill([first])
            b.start_sampling(SamplingParams())
            t0 = time.perf_counter()
            for _ in range(n_decode):
                b.accept(b.sample())
            times.append((time.perf_counter() - t0) / n_decode)
        per_token = statistics.median(times)
        source = b.tokenize(text)
        while len(source) < max((n for n, _ in cold), default=0):
            source += source
        cold_ms = [raw_cold_ms(b, source, n_prompt, n_gen) for n_prompt, n_gen in cold]
        return {"decode_ms_per_token": per_token * 1000, "cold_ms": cold_ms}
    finally:
        b.close()


def _stats(values: list[float]) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    return {
        "count": len(values),
        "p50_ms": r(percentile(values, 0.5)),
        "p95_ms": r(percentile(values, 0.95)),
    }


def run_latency_bench(
    model: Path,
    source: Path,
    *,
    backend: str = "llamacpp",
    threads: int | None = None,
    jumps: int = 3,
    chars: int = 16,
    progress: Callable[[str], None] = lambda _m: None,
    extra_options: dict[str, Any] | None = None,
    records_to: Path | None = None,
) -> dict[str, Any]:
    """`extra_options` are initializationOptions for the session; `records_to` receives
    every request's record (client latency plus the server's own) as JSON lines."""
    session = asyncio.run(
        _session(model, source, backend, threads, jumps, chars, progress, extra_options)
    )
    samples = session["samples"]
    # Cold: the first answer from the model after a jump (a request skipped by the trigger
    # rules, e.g. typing a quote, leaves the place as cold as it was).
    jumped: set[int] = set()
    for s in samples:
        s["first"] = s.get("source") == "model" and s["jump"] not in jumped
        if s["first"]:
            jumped.add(s["jump"])
    cold = [s for s in samples if s["first"]]
    if records_to is not None:
        with open(records_to, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(s) + "\n" for s in samples)
    warm = [s for s in samples if s.get("source") == "model" and not s["first"]]
    ahead = [s for s in samples if s.get("source") in ("typed-ahead", "cache")]
    answered = [s for s in samples if s.get("source") in ("model", "typed-ahead", "cache")]
    progress("measuring the raw backend: decode floor and the cold prompts")
    gen = [s.get("generated_tokens", 0) for s in warm] or [1]
    # Over http the floor is the same model decoding in process (the server's own speed).
    floor_backend = "llamacpp" if backend == "http" else backend
    cold_shapes = [
        (int(s["prompt_tokens"]), int(s.get("generated_tokens", 0)))
        for s in cold
        if s.get("prompt_tokens")
    ]
    floor = _raw_reference(
        model,
        floor_backend,
        threads,
        max(8, int(statistics.median(gen))),
        cold_shapes if backend != "http" else [],
        source.read_text(encoding="utf-8"),
    )
    per_tok = floor["decode_ms_per_token"]
    measured = [s for s in cold if s.get("prompt_tokens")]
    cold_raw = [s["e2e_ms"] / r for s, r in zip(measured, floor["cold_ms"], strict=False) if r]
    ratios = [
        s["e2e_ms"] / (per_tok * s["generated_tokens"]) for s in warm if s.get("generated_tokens")
    ]
    model_ms = [s for s in cold + warm if s.get("prefill_ms") is not None]
    cold_overhead = [
        s["e2e_ms"] / (s["prefill_ms"] + s["decode_ms"])
        for s in cold
        if s.get("prefill_ms", 0) + s.get("decode_ms", 0) > 0
    ]
    return {
        "model": str(model),
        "backend": backend,
        "file": str(source),
        "requests": len(samples),
        "cold": _stats([s["e2e_ms"] for s in cold]),
        "warm": _stats([s["e2e_ms"] for s in warm]),
        "typed_ahead": _stats([s["e2e_ms"] for s in ahead]),
        "typed_ahead_server": _stats([s["server_ms"] for s in ahead]),
        "cache_hit_rate": round(len(ahead) / len(answered), 3) if answered else None,
        "skipped_or_superseded": len(samples) - len(answered),
        "evaluated_tokens_per_request": {
            "cold_median": _median([s.get("evaluated_tokens", 0) for s in cold]),
            "warm_median": _median([s.get("evaluated_tokens", 0) for s in warm]),
            "mean_all_model": _median([s.get("evaluated_tokens", 0) for s in model_ms], mean=True),
        },
        "prompt_tokens_cold_median": _median([s.get("prompt_tokens", 0) for s in cold]),
        "generated_tokens_warm_median": _median(gen),
        "draft_acceptance_warm": _share(
            sum(s.get("draft_accepted_tokens", 0) for s in warm),
            sum(s.get("drafted_tokens", 0) for s in warm),
        ),
        "raw_decode_ms_per_token": round(per_tok, 2),
        "warm_ratio_p50": round(statistics.median(ratios), 2) if ratios else None,
        "cold_ratio_to_in_server_prefill_decode_p50": (
            round(statistics.median(cold_overhead), 3) if cold_overhead else None
        ),
        "cold_ratio_to_raw_prefill_decode_p50": (
            round(statistics.median(cold_raw), 3) if cold_raw else None
        ),
        "context_budget_tokens": (extra_options or {}).get("contextBudgetTokens"),
        "settings": dict(extra_options or {}),
        "engine_counters": session["engine"],
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _median(values: list[int] | list[float], mean: bool = False) -> float | None:
    if not values:
        return None
    return round(statistics.fmean(values) if mean else statistics.median(values), 1)


def format_latency_report(r: dict[str, Any]) -> str:
    def row(name: str, s: dict[str, Any]) -> str:
        return f"  {name:<24} p50 {s['p50_ms']} ms  p95 {s['p95_ms']} ms  ({s['count']} requests)"

    ev = r["evaluated_tokens_per_request"]
    return "\n".join(
        [
            f"hearth bench latency: {Path(r['model']).name} via {r['backend']}, "
            f"{Path(r['file']).name}, {r['requests']} requests",
            row("cold (new position)", r["cold"]),
            row("warm (continued typing)", r["warm"]),
            row("typed-ahead (cache)", r["typed_ahead"]),
            row("typed-ahead, in server", r["typed_ahead_server"]),
            f"  cache hit rate           {r['cache_hit_rate']}",
            f"  prompt tokens evaluated  cold median {ev['cold_median']}, "
            f"warm median {ev['warm_median']}, mean {ev['mean_all_model']} "
            f"(cold prompt median {r['prompt_tokens_cold_median']} tokens)",
            f"  raw decode floor         {r['raw_decode_ms_per_token']} ms/token; warm requests "
            f"generate {r['generated_tokens_warm_median']} tokens (median)",
            f"  guessed tokens accepted  {r['draft_acceptance_warm']} of those checked "
            "(warm; prompt lookup, see draft_tokens)",
            f"  warm p50 ratio to raw decode  {r['warm_ratio_p50']}  (target <= 1.3)",
            f"  cold e2e / raw backend prefill+decode of the same size p50  "
            f"{r.get('cold_ratio_to_raw_prefill_decode_p50')}  (target <= 1.1)",
            f"  cold e2e / in-server prefill+decode p50  "
            f"{r['cold_ratio_to_in_server_prefill_decode_p50']}",
        ]
    )
