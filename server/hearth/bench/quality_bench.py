"""`hearth bench quality`: completion quality scored by execution, against a naive baseline.

Each HumanEval infilling task (`../shared/benchmarks/`) is presented as an editor presents it:
the user pressed Enter where the hole is, the editor auto-indented the new empty line, and the
cursor sits at the end of that indent. A fresh `hearth serve` per task (so nothing of an earlier
task can reach a prompt) gets the task as `task.py` in a fresh workspace and one
`textDocument/inlineCompletion` there; the suggestion is inserted and the program runs against
the task's tests in a subprocess. The naive baseline is the same model file in this process,
continuing the text before the cursor greedily with no suffix and no context, cut by simple
rules. Both are scored the same way, so the difference is what Hearth's prompt, stops and
postprocessing are worth.

The suggestion time is the client's request latency (the server start and the model load are
outside it). Its ratio to the raw cost of the same tokens (a cold in-process prefill of as many
prompt tokens as the server evaluated plus decoding as many tokens as it generated) says how
much the server adds around the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hearth.bench.latency_bench import raw_cold_ms
from hearth.completion.stats import percentile

if TYPE_CHECKING:
    from hearth.engine.backend import Backend

SET_FILES = {
    "single": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi": "HumanEval-MultiLineInfilling.jsonl.gz",
}
DEFAULT_EVERY = 20
CHECK_TIMEOUT_S = 10.0
CHECK_MEMORY_BYTES = 4 << 30  # a runaway allocation in model output fails instead of swapping
NAIVE_MAX_TOKENS = 64
SUFFIX_LINES = 3  # a suggestion line equal to one of these is the suffix repeated
# Text that belongs to a prompt template or to Hearth's context block, never to code.
TEMPLATE_MARKERS = (
    "<|",
    "|>",
    "<fim",
    "<PRE>",
    "<SUF>",
    "<MID>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<eos>",
    "(lines ",
    "# Path:",
    "# file:",
)
TRIGGERS = {"auto": 2, "invoked": 1}  # InlineCompletionTriggerKind: Automatic, Invoked
# Runs the candidate with an address-space cap; runpy keeps `__main__` semantics.
_LAUNCHER = (
    "import runpy, sys\n"
    "try:\n"
    "    import resource\n"
    f"    resource.setrlimit(resource.RLIMIT_AS, ({CHECK_MEMORY_BYTES}, {CHECK_MEMORY_BYTES}))\n"
    "except (ImportError, ValueError, OSError):\n"
    "    pass\n"
    "runpy.run_path(sys.argv[1], run_name='__main__')\n"
)


def default_data_dir() -> Path:
    """`../shared/benchmarks` beside the project root (the checkout holding pyproject.toml),
    else beside the current folder: the data is never copied into the repository."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "pyproject.toml").is_file():
        root = Path.cwd()
    return root.parent / "shared" / "benchmarks"


# -- tasks and the editor's view of them ------------------------------------------------------
@dataclass(frozen=True)
class Task:
    task_id: str
    set_name: str
    entry_point: str
    prompt: str
    suffix: str
    canonical: str
    test: str

    @property
    def indent(self) -> str:
        """The editor's auto-indent: the leading whitespace of the hidden first line."""
        first = self.canonical.split("\n", 1)[0]
        return first[: len(first) - len(first.lstrip())]


@dataclass(frozen=True)
class EditorDoc:
    """The buffer after Enter at the hole, and the cursor (UTF-16 column, as LSP counts)."""

    text: str
    offset: int
    line: int
    character: int


def load_tasks(data_dir: Path, set_name: str) -> list[Task]:
    path = data_dir / SET_FILES[set_name]
    tasks = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for raw in f:
            if raw.strip():
                d = json.loads(raw)
                tasks.append(
                    Task(
                        d["task_id"],
                        set_name,
                        d["entry_point"],
                        d["prompt"],
                        d["suffix"],
                        d["canonical_solution"],
                        d["test"],
                    )
                )
    return tasks


def select(tasks: list[Task], every: int, limit: int | None) -> list[Task]:
    """Every `every`-th task from the first (a fixed sample, so runs compare)."""
    picked = tasks[:: max(1, every)]
    return picked[:limit] if limit else picked


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def editor_document(task: Task) -> EditorDoc:
    """`prompt + indent + "\\n" + suffix`, the cursor at the end of the indent."""
    before = task.prompt + task.indent
    text = before + "\n" + task.suffix
    return EditorDoc(text, len(before), before.count("\n"), _utf16(task.indent))


def offset_at(text: str, line: int, character: int) -> int:
    """The string offset of an LSP position (UTF-16 column), clamped to the line."""
    start = 0
    for _ in range(line):
        nl = text.find("\n", start)
        if nl == -1:
            return len(text)
        start = nl + 1
    end = text.find("\n", start)
    end = len(text) if end == -1 else end
    units = 0
    for i in range(start, end):
        if units >= character:
            return i
        units += 2 if ord(text[i]) > 0xFFFF else 1
    return end


def apply_completion(
    doc: EditorDoc, insert: str, rng: tuple[tuple[int, int], tuple[int, int]] | None = None
) -> str:
    """The program after accepting: `insert` replaces `rng` ((line, char) pairs), or goes in
    at the cursor when the item has no range."""
    if rng is None:
        return doc.text[: doc.offset] + insert + doc.text[doc.offset :]
    a = offset_at(doc.text, *rng[0])
    b = offset_at(doc.text, *rng[1])
    a, b = min(a, b), max(a, b)
    return doc.text[:a] + insert + doc.text[b:]


def hole_text(program: str, task: Task) -> str | None:
    """What fills the hole (indent included), or None when the edit reached outside it."""
    tail = "\n" + task.suffix
    if not program.startswith(task.prompt) or not program.endswith(tail):
        return None
    if len(program) - len(tail) < len(task.prompt):
        return None
    return program[len(task.prompt) : len(program) - len(tail)]


# -- scoring ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    status: str  # pass | fail | timeout | syntax
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def check_program(program: str, task: Task, timeout_s: float = CHECK_TIMEOUT_S) -> CheckResult:
    """Run the completed program and the task's tests in a subprocess (isolated mode, a temp
    folder, a timeout, a memory cap): the code is untrusted model output."""
    source = program + "\n" + task.test + f"\ncheck({task.entry_point})\n"
    try:
        compile(source, "candidate.py", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return CheckResult("syntax", f"{type(exc).__name__}: {exc}"[:300])
    with tempfile.TemporaryDirectory(prefix="hearth-check-") as tmp:
        path = Path(tmp) / "candidate.py"
        path.write_text(source, encoding="utf-8")
        err_path = Path(tmp) / "stderr.txt"
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _LAUNCHER, str(path)],
                cwd=tmp,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
            try:
                rc = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return CheckResult("timeout", f"over {timeout_s:g} s")
        if rc == 0:
            return CheckResult("pass")
        lines = err_path.read_bytes()[-2000:].decode("utf-8", "replace").strip().split("\n")
        return CheckResult("fail", lines[-1][:300] if lines else f"exit {rc}")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the candidate and whatever it started (it runs in its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def naive_cut(text: str, set_name: str, indent: str) -> str:
    """Single-line: up to the first newline. Multi-line: the lines up to the first blank
    one or the first indented less than the cursor's line (the block ended)."""
    if set_name == "single":
        return text.split("\n", 1)[0]
    lines = text.split("\n")
    kept = [lines[0]]
    for ln in lines[1:]:
        if not ln.strip():
            break
        if len(ln) - len(ln.lstrip()) < len(indent):
            break
        kept.append(ln)
    return "\n".join(kept)


def normalized_lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.strip().split("\n") if ln.strip()]


def exact_match(hole: str, canonical: str) -> bool:
    """Equal up to whitespace: stripped, and line by line stripped for several lines."""
    return normalized_lines(hole) == normalized_lines(canonical)


def repeats_suffix(completion: str, suffix: str) -> bool:
    """A line of the suggestion is one of the first non-blank lines after the hole."""
    head = [ln.strip() for ln in suffix.split("\n") if ln.strip()][:SUFFIX_LINES]
    return any(ln.strip() and ln.strip() in head for ln in completion.split("\n"))


def has_template_text(completion: str) -> bool:
    return any(m in completion for m in TEMPLATE_MARKERS)


def line_count(completion: str) -> int:
    return len(completion.strip("\n").split("\n")) if completion.strip() else 0


def score(task: Task, doc: EditorDoc, program: str, completion: str) -> dict[str, Any]:
    """The figures for one suggestion; `completion` is the text as shown (no indent)."""
    hole = hole_text(program, task)
    check = check_program(program, task)
    return {
        "pass": check.passed,
        "check": check.status,
        "check_detail": check.detail,
        "exact": exact_match(hole if hole is not None else completion, task.canonical),
        "empty": not completion.strip(),
        "lines": line_count(completion),
        "repeats_suffix": repeats_suffix(completion, task.suffix),
        "template_text": has_template_text(completion),
    }


# -- Hearth: one fresh `hearth serve` per task ------------------------------------------------
@dataclass(frozen=True)
class ServeConfig:
    model: Path
    backend: str = "auto"
    threads: int | None = None
    trigger: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)  # initializationOptions (--set)


@dataclass
class HearthAnswer:
    text: str  # the first item's insertText ("" when there was none)
    program: str
    e2e_ms: float
    record: dict[str, Any]  # the server's record of the request (hearth/completionStats)
    range: list[list[int]] | None = None


def _init_params(root: Path, cfg: ServeConfig, index_dir: Path) -> Any:
    from lsprotocol import types

    options: dict[str, Any] = {
        "model": str(cfg.model),
        "backend": cfg.backend,
        "indexDir": str(index_dir),
        "completionStats": False,
    }
    if cfg.threads:
        options["threads"] = cfg.threads
    options.update(cfg.options)
    return types.InitializeParams(
        capabilities=types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities()
            )
        ),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options=options,
    )


async def _wait_ready(client: Any, timeout_s: float = 300.0) -> None:
    """Until the model is loaded and the one-file index is built, so every task starts the
    same way (context switches to the index once it is ready)."""
    from hearth.lsp.jsonvalue import plain

    deadline = time.monotonic() + timeout_s
    while True:
        st = plain(await client.protocol.send_request_async("hearth/status", {}))
        model, index = st["model"]["state"], st["index"].get("state")
        # "off" with no message is the state before the load has started (a race with
        # `initialized`); with a message it is why no model is configured.
        if model == "error" or (model == "off" and st["model"].get("message")):
            raise RuntimeError(f"model did not load: {st['model'].get('message')}")
        if model == "ready" and index in ("ready", "off"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"hearth serve not ready after {timeout_s:g} s: {model}, {index}")
        await asyncio.sleep(0.05)


async def _ask(client: Any, uri: str, doc: EditorDoc, trigger: str) -> tuple[float, Any]:
    """One inlineCompletion at the cursor, timed as the client sees it; the first item."""
    from lsprotocol import types

    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=doc.line, character=doc.character),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind(TRIGGERS[trigger])
        ),
    )
    t0 = time.perf_counter()
    result = await client.text_document_inline_completion_async(params)
    ms = (time.perf_counter() - t0) * 1000
    items = result.items if isinstance(result, types.InlineCompletionList) else result or []
    return ms, items[0] if items else None


async def hearth_complete(task: Task, cfg: ServeConfig) -> HearthAnswer:
    """Start `hearth serve` on a fresh workspace holding the task, ask once, stop it."""
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    from hearth.lsp.jsonvalue import plain

    doc = editor_document(task)
    work = Path(tempfile.mkdtemp(prefix="hearth-quality-"))
    root = work / "ws"
    root.mkdir()
    (root / "task.py").write_text(doc.text, encoding="utf-8")
    uri = (root / "task.py").as_uri()
    client = LanguageClient("hearth-bench-quality", "1")
    await client.start_io(sys.executable, "-m", "hearth", "serve")
    try:
        await client.initialize_async(_init_params(root, cfg, work / "index"))
        client.initialized(types.InitializedParams())
        await _wait_ready(client)
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=doc.text
                )
            )
        )
        ms, item = await _ask(client, uri, doc, cfg.trigger)
        stats = plain(await client.protocol.send_request_async("hearth/completionStats", {}))
    finally:
        await _stop(client)
        shutil.rmtree(work, ignore_errors=True)
    records = stats.get("recent") or [{}]
    return _answer(doc, item, ms, records[-1])


def _answer(doc: EditorDoc, item: Any, ms: float, record: dict[str, Any]) -> HearthAnswer:
    text = item.insert_text if item is not None else ""
    text = text if isinstance(text, str) else getattr(text, "value", "")
    rng = getattr(item, "range", None)
    pair = None
    if rng is not None:
        pair = ((rng.start.line, rng.start.character), (rng.end.line, rng.end.character))
    program = apply_completion(doc, text, pair)
    return HearthAnswer(text, program, ms, record, [list(p) for p in pair] if pair else None)


async def _stop(client: Any) -> None:
    try:
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
    except Exception:
        pass
    await client.stop()


# -- the naive baseline and the raw reference, in this process --------------------------------
class InProcessModel:
    """One load of the same model file with the same backend, for every naive completion
    and every raw-cost measurement (loading is outside every figure)."""

    def __init__(self, cfg: ServeConfig) -> None:
        from hearth.engine.catalog import load_options
        from hearth.engine.loader import load_backend
        from hearth.settings import Settings

        settings = Settings().merged(cfg.options, "--set")
        if cfg.threads:
            settings = settings.merged({"threads": cfg.threads}, "--threads")
        # The probe as the server runs it: it decides the same weight buffers (AMX or not).
        self.backend: Backend = load_backend(
            cfg.model, cfg.backend, load_options(settings), probe=settings.model_probe
        )

    def close(self) -> None:
        self.backend.close()

    def _prompt(self, text: str) -> list[int]:
        b = self.backend
        bos = [b.bos_id] if b.add_bos and b.bos_id is not None else []
        return bos + b.tokenize(text)

    def complete(self, task: Task) -> tuple[str, float, int, int]:
        """Greedy continuation of `prompt + indent`, cut by the naive rules: (text, ms,
        prompt tokens, generated tokens). The single-line set stops at the newline, which
        gives the same text as cutting there."""
        from hearth.engine.backend import SamplingParams
        from hearth.engine.generate import GenerationRequest, generate

        b = self.backend
        b.reset()  # cold, like the server's first request
        stop = ("\n",) if task.set_name == "single" else ()
        request = GenerationRequest(NAIVE_MAX_TOKENS, stop=stop, sampling=SamplingParams())
        t0 = time.perf_counter()
        gen = generate(b, self._prompt(task.prompt + task.indent), request)
        ms = (time.perf_counter() - t0) * 1000
        return naive_cut(gen.text, task.set_name, task.indent), ms, gen.n_prompt, gen.n_generated

    def raw_ms(self, text: str, n_prompt: int, n_generated: int) -> float:
        """A cold prefill of `n_prompt` tokens of `text` plus `n_generated` decodes (median
        of a few runs: one run varies by tens of percent on a shared machine)."""
        source = self._prompt(text) or [0]
        while len(source) < n_prompt:
            source += source
        return raw_cold_ms(self.backend, source, n_prompt, n_generated)


# -- one task, both columns -------------------------------------------------------------------
_RECORD_KEYS = ("source", "prompt_tokens", "evaluated_tokens", "generated_tokens", "stop")


def run_task(
    task: Task, cfg: ServeConfig, model: InProcessModel, *, raw: bool = True
) -> dict[str, Any]:
    """Hearth first (its server alone on the CPU), then the naive baseline and (with `raw`)
    the raw cost of the tokens Hearth's request used; one JSON-able record."""
    doc = editor_document(task)
    hearth = asyncio.run(hearth_complete(task, cfg))
    naive_text, naive_ms, naive_prompt, naive_gen = model.complete(task)
    rec = hearth.record
    raw_ms = None
    evaluated, generated = rec.get("evaluated_tokens"), rec.get("generated_tokens")
    if raw and rec.get("source") == "model" and evaluated:
        raw_ms = model.raw_ms(doc.text, int(evaluated), int(generated or 0))
    return {
        "task_id": task.task_id,
        "set": task.set_name,
        "document": doc.text,
        "cursor": {"line": doc.line, "character": doc.character, "offset": doc.offset},
        "canonical": task.canonical,
        "hearth": {
            "text": hearth.text,
            "range": hearth.range,
            **score(task, doc, hearth.program, hearth.text),
            "ms": round(hearth.e2e_ms, 2),
            "raw_ms": None if raw_ms is None else round(raw_ms, 2),
            "ratio_to_raw": round(hearth.e2e_ms / raw_ms, 3) if raw_ms else None,
        },
        "naive": {
            "text": naive_text,
            **score(task, doc, apply_completion(doc, naive_text), naive_text),
            "ms": round(naive_ms, 2),
            "prompt_tokens": naive_prompt,
            "generated_tokens": naive_gen,
        },
        # Every field of the server's record (raw_text and rules where the server has them).
        "server": rec,
    }


def _column(rows: list[dict[str, Any]], side: str) -> dict[str, Any]:
    s = [r[side] for r in rows]
    n = len(s)
    shown = [x for x in s if not x["empty"]]
    ms = [x["ms"] for x in s]
    ratios = [x["ratio_to_raw"] for x in s if x.get("ratio_to_raw")]

    def share(k: str) -> dict[str, Any]:
        hits = sum(1 for x in s if x[k])
        return {"count": hits, "rate": round(hits / n, 3) if n else None}

    return {
        "pass_at_1": share("pass"),
        "exact_match": share("exact"),
        "empty": sum(1 for x in s if x["empty"]),
        "mean_lines": round(statistics.fmean(x["lines"] for x in shown), 2) if shown else None,
        "repeats_suffix": sum(1 for x in s if x["repeats_suffix"]),
        "template_text": sum(1 for x in s if x["template_text"]),
        "timeouts": sum(1 for x in s if x["check"] == "timeout"),
        "syntax_errors": sum(1 for x in s if x["check"] == "syntax"),
        "ms_p50": _round(percentile(ms, 0.5)),
        "ms_p95": _round(percentile(ms, 0.95)),
        "ratio_to_raw_p50": round(statistics.median(ratios), 3) if ratios else None,
    }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _only(rows: list[dict[str, Any]], yes: str, no: str) -> int:
    return sum(1 for r in rows if r[yes]["pass"] and not r[no]["pass"])


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-set figures, Hearth beside naive, and where exactly one of them passed."""
    return {
        "tasks": len(rows),
        "hearth": _column(rows, "hearth"),
        "naive": _column(rows, "naive"),
        "hearth_only_passed": _only(rows, "hearth", "naive"),
        "naive_only_passed": _only(rows, "naive", "hearth"),
        "server_sources": dict(Counter(str(r["server"].get("source")) for r in rows)),
    }


def run_quality_bench(
    model: Path,
    *,
    sets: tuple[str, ...] = ("single",),
    every: int = DEFAULT_EVERY,
    limit: int | None = None,
    data_dir: Path | None = None,
    backend: str = "auto",
    threads: int | None = None,
    trigger: str = "auto",
    extra_options: dict[str, Any] | None = None,
    records_to: Path | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    raw_reference: bool = True,
) -> dict[str, Any]:
    """Run every `every`-th task of each set (at most `limit` per set) through both columns.
    `extra_options` are initializationOptions for each server (and settings for the in-process
    load); `records_to` receives one JSON line per task as it finishes; `raw_reference=False`
    skips the raw-cost runs (tests that only count passes)."""
    data = data_dir or default_data_dir()
    picked = {name: select(load_tasks(data, name), every, limit) for name in sets}
    cfg = ServeConfig(model, backend, threads, trigger, dict(extra_options or {}))
    t0 = time.perf_counter()
    model_in = InProcessModel(cfg)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
    with contextlib.ExitStack() as stack:
        stack.callback(model_in.close)
        out = stack.enter_context(open(records_to, "w", encoding="utf-8")) if records_to else None
        for name, tasks in picked.items():
            for i, task in enumerate(tasks, 1):
                row = run_task(task, cfg, model_in, raw=raw_reference)
                rows[name].append(row)
                if out is not None:
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                progress(_progress_line(name, i, len(tasks), rows[name]))
    return {
        "model": str(model),
        "backend": model_in.backend.name,
        "trigger": trigger,
        "every": every,
        "limit": limit,
        "data": str(data),
        "settings": dict(extra_options or {}),
        "sets": {name: summarize(r) for name, r in rows.items()},
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def _progress_line(name: str, i: int, n: int, rows: list[dict[str, Any]]) -> str:
    last = rows[-1]
    h = sum(1 for r in rows if r["hearth"]["pass"])
    v = sum(1 for r in rows if r["naive"]["pass"])
    return (
        f"{name} {i}/{n} {last['task_id']}: hearth {last['hearth']['check']}, "
        f"naive {last['naive']['check']}; pass@1 hearth {h}/{i} ({h / i:.0%}), "
        f"naive {v}/{i} ({v / i:.0%})"
    )


def _cell(share: dict[str, Any]) -> str:
    rate = share["rate"]
    return f"{share['count']} ({rate:.1%})" if rate is not None else str(share["count"])


def format_quality_report(r: dict[str, Any]) -> str:
    lines = [
        f"hearth bench quality: {Path(r['model']).name} via {r['backend']}, trigger "
        f"{r['trigger']}, 1 task in {r['every']}"
        + (f" (at most {r['limit']} per set)" if r["limit"] else "")
        + f", {r['wall_s']} s"
    ]
    if r["settings"]:
        lines.append("  settings: " + ", ".join(f"{k}={v!r}" for k, v in r["settings"].items()))
    for name, s in r["sets"].items():
        h, v = s["hearth"], s["naive"]
        rows = [
            ("pass@1", _cell(h["pass_at_1"]), _cell(v["pass_at_1"])),
            ("exact match", _cell(h["exact_match"]), _cell(v["exact_match"])),
            ("empty answers", h["empty"], v["empty"]),
            ("mean lines per suggestion", h["mean_lines"], v["mean_lines"]),
            ("repeats a suffix line", h["repeats_suffix"], v["repeats_suffix"]),
            ("template/context text", h["template_text"], v["template_text"]),
            ("timeouts / syntax errors", _pair(h), _pair(v)),
            ("time p50 / p95 ms", _times(h), _times(v)),
            ("time / raw same tokens p50", h["ratio_to_raw_p50"], "-"),
        ]
        title = f"{name}-line set, {s['tasks']} tasks"
        lines.append(f"{title:<34}{'hearth':<18}naive")
        lines += [f"  {label:<32}{a!s:<18}{b}" for label, a, b in rows]
        lines.append(
            f"  passed by hearth only: {s['hearth_only_passed']}; by naive only: "
            f"{s['naive_only_passed']}; server answers: {s['server_sources']}"
        )
    lines.append(
        "  (hearth time: client request latency; naive time: in-process generation; raw: a "
        "cold prefill of the tokens the server evaluated plus its generated tokens)"
    )
    return "\n".join(lines)


def _pair(c: dict[str, Any]) -> str:
    return f"{c['timeouts']} / {c['syntax_errors']}"


def _times(c: dict[str, Any]) -> str:
    return f"{c['ms_p50']} / {c['ms_p95']}"


# -- repo mode: cross-file names on a real tree -----------------------------------------------
REPO_BUDGETS: tuple[tuple[str, int | None], ...] = (("default budget", None), ("budget 64", 64))
DEFAULT_REPO_POINTS = 30
REPO_READY_TIMEOUT_S = 1800.0  # the server indexes the whole tree before the first point


@dataclass(frozen=True)
class RepoPoint:
    relpath: str
    text: str  # the file with the line's code hidden, its indent kept (Enter, auto-indent)
    line: int
    character: int  # UTF-16 column at the end of the indent
    truth: str  # the hidden code, stripped
    names: tuple[str, ...]  # the names on it defined in other files of the tree


def repo_points(root: Path, count: int, seed: int = 0) -> list[RepoPoint]:
    """Lines whose code uses names defined in other files (found with Hearth's index, as
    `hearth bench context` finds them), each hidden whole."""
    from hearth.bench.context_bench import find_points
    from hearth.index.indexer import Indexer
    from hearth.index.store import IndexStore

    indexer = Indexer(root, IndexStore(None))
    try:
        indexer.index_all()
        found = find_points(indexer, count, seed)
    finally:
        indexer.store.close()
    out = []
    for p in found:
        lines = (root / p.relpath).read_text(encoding="utf-8").split("\n")
        line = lines[p.line]
        indent = line[: len(line) - len(line.lstrip())]
        hidden = "\n".join([*lines[: p.line], indent, *lines[p.line + 1 :]])
        truth = line.strip()
        out.append(RepoPoint(p.relpath, hidden, p.line, _utf16(indent), truth, tuple(p.targets)))
    return out


def first_line(text: str) -> str:
    """The suggestion's first line with code: what replaces the one hidden line."""
    return next((ln.strip() for ln in text.split("\n") if ln.strip()), "")


def similarity(a: str, b: str) -> float:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio()


async def _repo_session(
    root: Path, points: list[RepoPoint], cfg: ServeConfig, progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    """One server on the tree itself (cross-file context is the point); each point opened,
    asked once and closed. The tree is only read."""
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    work = Path(tempfile.mkdtemp(prefix="hearth-quality-repo-"))
    client = LanguageClient("hearth-bench-quality", "1")
    await client.start_io(sys.executable, "-m", "hearth", "serve")
    rows: list[dict[str, Any]] = []
    try:
        await client.initialize_async(_init_params(root, cfg, work / "index"))
        client.initialized(types.InitializedParams())
        await _wait_ready(client, REPO_READY_TIMEOUT_S)
        for i, pt in enumerate(points, 1):
            rows.append(_repo_row(pt, await _repo_point(client, root, pt, cfg.trigger)))
            progress(f"repo point {i}/{len(points)} {pt.relpath}:{pt.line + 1}")
    finally:
        await _stop(client)
        shutil.rmtree(work, ignore_errors=True)
    return rows


async def _repo_point(client: Any, root: Path, pt: RepoPoint, trigger: str) -> HearthAnswer:
    """Open the file with its line hidden, ask once at the end of the indent, close it."""
    from lsprotocol import types

    from hearth.index.languages import language_for_path
    from hearth.lsp.jsonvalue import plain

    uri = (root / pt.relpath).as_uri()
    lang = language_for_path(pt.relpath) or ""
    item = types.TextDocumentItem(uri=uri, language_id=lang, version=1, text=pt.text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
    doc = EditorDoc(pt.text, offset_at(pt.text, pt.line, pt.character), pt.line, pt.character)
    ms, first = await _ask(client, uri, doc, trigger)
    stats = plain(await client.protocol.send_request_async("hearth/completionStats", {}))
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri))
    )
    return _answer(doc, first, ms, (stats.get("recent") or [{}])[-1])


def _repo_row(pt: RepoPoint, answer: HearthAnswer) -> dict[str, Any]:
    guess = first_line(answer.text)
    return {
        "relpath": pt.relpath,
        "line": pt.line,
        "names": list(pt.names),
        "truth": pt.truth,
        "text": answer.text,
        "exact": guess == pt.truth,
        "similarity": round(similarity(guess, pt.truth), 3),
        "empty": not guess,
        "ms": round(answer.e2e_ms, 2),
        "server": answer.record,
    }


def _repo_column(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    prompt = [r["server"]["prompt_tokens"] for r in rows if r["server"].get("prompt_tokens")]
    return {
        "points": n,
        "exact_match": {
            "count": sum(1 for r in rows if r["exact"]),
            "rate": round(sum(1 for r in rows if r["exact"]) / n, 3) if n else None,
        },
        "similarity_mean": round(statistics.fmean(r["similarity"] for r in rows), 3) if n else None,
        "empty": sum(1 for r in rows if r["empty"]),
        "ms_p50": _round(percentile([r["ms"] for r in rows], 0.5)),
        "prompt_tokens_median": statistics.median(prompt) if prompt else None,
    }


def run_repo_quality_bench(
    model: Path,
    repo: Path,
    *,
    points: int = DEFAULT_REPO_POINTS,
    backend: str = "auto",
    threads: int | None = None,
    trigger: str = "auto",
    extra_options: dict[str, Any] | None = None,
    records_to: Path | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """The same hidden lines completed with the default context budget and with a tiny one,
    side by side: what the cross-file context is worth on this tree."""
    t0 = time.perf_counter()
    root = repo.resolve()
    pts = repo_points(root, points)
    progress(f"{len(pts)} lines using names from other files in {root}")
    modes: dict[str, list[dict[str, Any]]] = {}
    for label, budget in REPO_BUDGETS:
        options = dict(extra_options or {})
        if budget is not None:
            options["contextBudgetTokens"] = budget
        cfg = ServeConfig(model, backend, threads, trigger, options)
        modes[label] = asyncio.run(_repo_session(root, pts, cfg, progress))
    if records_to is not None:
        with open(records_to, "w", encoding="utf-8") as out:
            for label, rows in modes.items():
                out.writelines(json.dumps({"mode": label, **r}) + "\n" for r in rows)
    return {
        "model": str(model),
        "repo": str(root),
        "trigger": trigger,
        "settings": dict(extra_options or {}),
        "modes": {label: _repo_column(rows) for label, rows in modes.items()},
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def format_repo_report(r: dict[str, Any]) -> str:
    labels = list(r["modes"])
    cols = [r["modes"][k] for k in labels]
    head = f"hearth bench quality --repo: {Path(r['model']).name}, {r['repo']}, {r['wall_s']} s"
    rows = [
        ("points", [c["points"] for c in cols]),
        ("exact match", [_cell(c["exact_match"]) for c in cols]),
        ("edit similarity (mean)", [c["similarity_mean"] for c in cols]),
        ("empty answers", [c["empty"] for c in cols]),
        ("time p50 ms", [c["ms_p50"] for c in cols]),
        ("prompt tokens (median)", [c["prompt_tokens_median"] for c in cols]),
    ]
    lines = [head, (f"  {'':<28}" + "".join(f"{k:<18}" for k in labels)).rstrip()]
    for name, vals in rows:
        lines.append((f"  {name:<28}" + "".join(f"{v!s:<18}" for v in vals)).rstrip())
    return "\n".join(lines)
