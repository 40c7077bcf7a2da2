"""One completion at a position in a file, as `hearth complete FILE:LINE:COL` runs it.

It runs the editor's completion pipeline (`hearth.completion.pipeline`): the same trigger
shape, context parts, budget, layout, stops and postprocessing, with the workspace index when
the file lies in a workspace.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from hearth.completion.pipeline import CompletionOptions, CompletionPipeline, Plan
from hearth.context.builder import ContextEngine, DocumentView
from hearth.engine.generate import Generation
from hearth.engine.service import Engine, Role
from hearth.errors import InputFileError, PositionError, UsageError

MAX_SOURCE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Position:
    path: Path
    line: int  # 1-based
    column: int  # 1-based, in characters


def parse_position(spec: str) -> Position:
    """`FILE:LINE:COL` with 1-based line and column, as compilers print them."""
    parts = spec.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise UsageError(
            f"expected FILE:LINE:COL, got {spec!r}",
            "line and column are 1-based numbers, e.g. src/app.py:12:5",
        )
    return Position(Path(parts[0]), int(parts[1]), int(parts[2]))


def read_source(path: Path) -> str:
    """The file's text, or a clear error for what cannot be completed in."""
    if not path.is_file():
        raise InputFileError(f"no such file: {path}")
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise InputFileError(
            f"{path} is {size / 1e6:.1f} MB; Hearth completes in files up to "
            f"{MAX_SOURCE_BYTES // (1024 * 1024)} MiB"
        )
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        raise InputFileError(f"{path} looks like a binary file (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputFileError(
            f"{path} is not valid UTF-8 (first bad byte on line {line})",
            "convert the file to UTF-8",
        ) from None


def split_at(text: str, line: int, column: int) -> tuple[str, str]:
    """Prefix and suffix around a 1-based (line, column) position."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        raise PositionError(f"line {line} is outside the file (it has {len(lines)} lines)")
    current = lines[line - 1].rstrip("\r")
    if not 1 <= column <= len(current) + 1:
        raise PositionError(
            f"column {column} is outside line {line} (it has {len(current)} characters; "
            f"the last position is {len(current) + 1})"
        )
    offset = sum(len(ln) + 1 for ln in lines[: line - 1]) + column - 1
    return text[:offset], text[offset:]


def cursor_window(
    prefix: str, suffix: str, prefix_chars: int, suffix_chars: int
) -> tuple[str, str]:
    """Trim to whole lines: the last `prefix_chars` before and `suffix_chars` after."""
    if len(prefix) > prefix_chars:
        cut = prefix.find("\n", len(prefix) - prefix_chars)
        prefix = prefix[cut + 1 :] if cut != -1 else prefix[-prefix_chars:]
    if len(suffix) > suffix_chars:
        cut = suffix.rfind("\n", 0, suffix_chars)
        suffix = suffix[: cut + 1] if cut != -1 else suffix[:suffix_chars]
    return prefix, suffix


@dataclass
class CompletionResult:
    text: str
    generation: Generation
    template: str
    backend: str
    model: str
    load_s: float
    total_s: float
    memory: dict[str, int]

    def as_json(self) -> dict[str, object]:
        gen = self.generation
        return {
            "completion": self.text,
            "model": self.model,
            "backend": self.backend,
            "template": self.template,
            "stop_reason": gen.stop_reason.value,
            "tokens": {
                "prompt": gen.n_prompt,
                "reused": gen.n_reused,
                "evaluated": gen.n_evaluated,
                "generated": gen.n_generated,
            },
            "timings_ms": {
                "load": round(self.load_s * 1000, 1),
                "prefill": round(gen.prefill_s * 1000, 1),
                "decode": round(gen.decode_s * 1000, 1),
                "total": round(self.total_s * 1000, 1),
            },
            "memory_mb": {role: round(n / 1e6, 1) for role, n in self.memory.items()},
        }


def complete_text(
    engine: Engine,
    prefix: str,
    suffix: str,
    options: CompletionOptions,
    *,
    context: ContextEngine | None = None,
    relpath: str | None = None,
    language: str | None = None,
) -> CompletionResult:
    """Complete between `prefix` and `suffix` with the engine's completion model.

    The editor's pipeline, as an invoked request that takes its first suggestion: the same
    shape rules, context, template, stops and postprocessing, so the command line and the
    editor answer alike. `context` (with the workspace index) and `relpath` add cross-file
    context; without them the prompt holds the local windows only."""
    t0 = time.perf_counter()
    backend = engine.load(Role.COMPLETION).result()
    t_load = time.perf_counter() - t0
    template = engine.fim_template(backend)
    pipeline = CompletionPipeline(engine, context or ContextEngine(None), options)
    doc = DocumentView(
        prefix + suffix,
        prefix.count("\n"),
        len(prefix) - (prefix.rfind("\n") + 1),
        relpath,
        language,
    )
    plan = pipeline.plan(relpath or "untitled", doc, explicit=True)
    if not isinstance(plan, Plan):  # an invoked request is never skipped or cached
        raise PositionError(f"no completion here: {getattr(plan, 'reason', 'cached')}")
    generations = [handle.future.result() for handle in pipeline.submit(plan, candidates=1)]
    outcome = pipeline.finish(plan, generations)
    return CompletionResult(
        text=outcome.items[0] if outcome.items else "",
        generation=generations[0],
        template=template.name,
        backend=backend.name,
        model=str(backend.model.path),
        load_s=t_load,
        total_s=time.perf_counter() - t0,
        memory=engine.memory(),
    )
