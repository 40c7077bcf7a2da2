"""`hearth bench context REPO`: is the right code in the prompt, measured without a model.

Definition recall: at points where the real next line uses names defined in other files of
the repository, the rest of the line is hidden, the context is built, and each such name counts
as recalled when the header line of its definition is in a cross-file part of the prompt.
The baseline is what most tools send: the local window plus similar snippets from the files
in the same folder (as if open in tabs). Both see the same neighbouring files as open, get the
same token budget and the same time box.

Ground truth (changed from the first version, which took every identifier-shaped word of the
hidden text): the names are the identifier nodes of the hidden text as the language's
tree-sitter grammar parses the file, so words inside strings, docstrings and comments no longer
count, and neither do names that are declared rather than used there: keyword-argument names
(`f(justify=...)`), keys of object literals (`{get: ...}`), parameter names, and the targets of
assignments (`x = ...`, `self.x = ...`).
`--raw-targets` restores the first version's rule, for comparison.

Build time: one long-lived engine per mode, as the server keeps one (its token and index caches
stay warm from earlier points, the point's own document is new to it and its hysteresis state
is reset); per point the tabs are the point's neighbours. Builds run with the completion time
box (`DEFAULT_TIME_BOX_MS` unless `--time-box-ms` says otherwise, 0 for none), and the report
says how often a source was skipped or cut short for lack of time.

Re-evaluated tokens per keystroke: a block of a real file is typed character by character; each
keystroke's prompt is compared with the previous one, and the tokens after their common prefix
are what the model must evaluate again (backends reuse the common prefix).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearth.context.builder import DEFAULT_TIME_BOX_MS, ContextEngine, ContextPart, DocumentView
from hearth.context.recent import RecentDocuments
from hearth.context.snippet import SIMILAR, family
from hearth.context.tokens import EstimateTokenizer, Tokenizer, VocabTokenizer
from hearth.engine.templates import FimTemplate, load_templates
from hearth.index.extract import identifiers
from hearth.index.indexer import Indexer
from hearth.index.store import DefinitionHit, IndexStore
from hearth.runs import common_prefix

BUDGETS = (1024, 2048)
MAX_TARGET_FILES = 3
NEIGHBOURS = 12
LOCAL_SOURCES = frozenset({"prefix", "suffix", "scope"})
_NAME_NODES = frozenset(
    {"identifier", "property_identifier", "type_identifier", "shorthand_property_identifier"}
)
# Nodes whose `name`/`pattern`/`left` child declares a name instead of using one.
_DECLARING = {
    "keyword_argument": "name",
    "default_parameter": "name",
    "typed_default_parameter": "name",
    "required_parameter": "pattern",
    "optional_parameter": "pattern",
    "variable_declarator": "name",
    "assignment": "left",
    "augmented_assignment": "left",
    "assignment_expression": "left",
    "pair": "key",
}
_PARAMETER_LISTS = frozenset(
    {
        "parameters",
        "lambda_parameters",
        "typed_parameter",
        "list_splat_pattern",
        "dictionary_splat_pattern",
        "formal_parameters",
    }
)


@dataclass
class Point:
    relpath: str
    text: str  # the file with the rest of the cursor line hidden
    line: int
    col: int
    targets: dict[str, list[DefinitionHit]]  # name -> its definitions in other files


def _header(indexer: Indexer, hit: DefinitionHit, cache: dict[str, list[str]]) -> str:
    lines = cache.get(hit.path)
    if lines is None:
        try:
            lines = (indexer.root / hit.path).read_text(encoding="utf-8").split("\n")
        except OSError:
            lines = []
        cache[hit.path] = lines
    n = hit.definition.start_line
    return lines[n].strip() if 0 <= n < len(lines) else ""


def _declared(node: Any) -> bool:
    parent = node.parent
    if parent is None:
        return False
    if parent.type in _PARAMETER_LISTS:
        return True
    field = _DECLARING.get(parent.type)
    if field is not None and parent.child_by_field_name(field) == node:
        return True
    # `self.x = ...`: the attribute being assigned.
    if parent.type in ("attribute", "member_expression"):
        holder = parent.parent
        if holder is not None:
            hfield = _DECLARING.get(holder.type)
            if hfield is not None and holder.child_by_field_name(hfield) == parent:
                return bool(parent.child_by_field_name("object") != node)
    return False


def used_names(language: str, data: bytes, tree: Any, row: int, line: str) -> dict[str, int]:
    """Names used (not declared) on line `row`: name -> first column (code points)."""
    del language
    line_bytes = line.encode("utf-8")
    node = tree.root_node.descendant_for_point_range((row, 0), (row, len(line_bytes)))
    while node.parent is not None and node.start_point[0] == row and node.end_point[0] == row:
        node = node.parent
    out: dict[str, int] = {}
    stack = [node]
    while stack:
        n = stack.pop()
        if n.end_point[0] < row or n.start_point[0] > row:
            continue
        if n.child_count:
            stack.extend(reversed(n.children))
            continue
        if n.type not in _NAME_NODES or n.start_point[0] != row or _declared(n):
            continue
        name = data[n.start_byte : n.end_byte].decode("utf-8", "replace")
        col = len(line_bytes[: n.start_point[1]].decode("utf-8", "replace"))
        if name not in out or col < out[name]:
            out[name] = col
    return out


def find_points(
    indexer: Indexer, count: int, seed: int = 0, *, raw_targets: bool = False
) -> list[Point]:
    """Completion points whose hidden rest of line uses names defined in other files."""
    from hearth.index.languages import get_language

    store = indexer.store
    rng = random.Random(seed)
    files = sorted(
        p
        for p, r in store.files().items()
        if r.language in ("python", "typescript", "tsx", "javascript")
        and "test" not in p.rsplit("/", 1)[-1]
    )
    rng.shuffle(files)
    points: list[Point] = []
    for rel in files:
        try:
            text = (indexer.root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        record = store.file(rel)
        kin = family(record.language if record else None)
        imported = {t for _imp, targets in indexer.resolved_imports(rel) for t in targets}
        own = {d.name for d in store.symbols_of(rel)}
        lines = text.split("\n")
        data = text.encode("utf-8")
        tree = None
        if not raw_targets and record is not None:
            tree = get_language(record.language).parser().parse(data)
        rows = list(range(len(lines)))
        rng.shuffle(rows)
        per_file = 0
        for row in rows:
            if per_file >= max(2, count // 40) or len(points) >= count:
                break
            line = lines[row]
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", "//", "import ", "from ", "*", '"')):
                continue
            targets: dict[str, list[DefinitionHit]] = {}
            first_col = None
            words = dict.fromkeys(identifiers(line))
            columns: dict[str, int] = {}
            if tree is not None:
                columns = used_names(kin or "", data, tree, row, line)
                words = {w: None for w in words if w in columns}
            for name in words:
                if name in own:
                    continue
                hits = [
                    h
                    for h in store.definitions(name, limit=50)
                    if h.path != rel and family(h.language) == kin
                ]
                if not hits:
                    continue
                narrowed = [h for h in hits if h.path in imported] or hits
                if len({h.path for h in narrowed}) > MAX_TARGET_FILES:
                    continue
                targets[name] = narrowed
                col = columns.get(name, line.find(name))
                first_col = col if first_col is None else min(first_col, col)
            if not targets or first_col is None:
                continue
            col = first_col
            hidden = [*lines[:row], line[:col], *lines[row + 1 :]]
            points.append(Point(rel, "\n".join(hidden), row, col, targets))
            per_file += 1
        if len(points) >= count:
            break
    return points


def recalled(
    parts: list[ContextPart],
    targets: dict[str, list[DefinitionHit]],
    indexer: Indexer,
    cache: dict[str, list[str]],
) -> tuple[int, int]:
    """(names whose definition header is in a cross-file part, names)."""
    cross = [p for p in parts if p.source not in LOCAL_SOURCES]
    hit = 0
    for defs in targets.values():
        for d in defs:
            header = _header(indexer, d, cache)
            if header and any(p.path == d.path and header in p.text for p in cross):
                hit += 1
                break
    return hit, len(targets)


def _neighbours(indexer: Indexer, rel: str) -> list[str]:
    folder = rel.rpartition("/")[0]
    same = [
        p
        for p in indexer.store.files()
        if p != rel
        and p.rpartition("/")[0] == folder
        and p.rsplit(".", 1)[-1] == rel.rsplit(".", 1)[-1]
    ]
    return sorted(same)[:NEIGHBOURS]


class _Tabs:
    """Neighbouring files as open tabs, read once per run (their text does not change)."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer
        self._docs: dict[str, RecentDocuments] = {}

    def for_file(self, rel: str) -> RecentDocuments:
        """A fresh set of recent documents holding `rel`'s neighbours; each neighbour's
        windows were prepared when it was opened (as between opening tabs and typing)."""
        recent = RecentDocuments()
        for p in _neighbours(self.indexer, rel):
            try:
                text = (self.indexer.root / p).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            recent.note(p, text, opened=True)
        recent.prepare()
        return recent


def _engine(indexer: Indexer, *, baseline: bool) -> ContextEngine:
    if baseline:
        return ContextEngine(None, sources=frozenset({SIMILAR}), index_similar=False)
    return ContextEngine(indexer)


def _engine_with_tabs(indexer: Indexer, rel: str, *, baseline: bool) -> ContextEngine:
    engine = _engine(indexer, baseline=baseline)
    engine.recent = _Tabs(indexer).for_file(rel)
    return engine


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2)


def measure_recall(
    indexer: Indexer,
    tok: Tokenizer,
    template: FimTemplate,
    points: list[Point],
    budgets: tuple[int, ...] = BUDGETS,
    *,
    time_box_ms: float | None = DEFAULT_TIME_BOX_MS,
) -> dict[str, Any]:
    cache: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    times: list[float] = []
    skipped: dict[str, int] = {}
    builds = any_skipped = 0
    tabs = _Tabs(indexer)
    recents = {rel: tabs.for_file(rel) for rel in dict.fromkeys(p.relpath for p in points)}
    engines = {
        mode: _engine(indexer, baseline=mode == "baseline") for mode in ("hearth", "baseline")
    }
    over: list[float] = []
    for budget in budgets:
        row: dict[str, Any] = {}
        for name, engine in engines.items():
            hit = total = 0
            for pt in points:
                engine.recent = recents[pt.relpath]
                engine.forget_document(pt.relpath)
                # The file was opened before the user edited the point's line (the server
                # tokenizes a document when it is opened, outside any completion's time box).
                engine.prepare(tok, _opened(indexer, pt.relpath))
                doc = DocumentView(pt.text, pt.line, pt.col, pt.relpath)
                deadline = time.monotonic() + time_box_ms / 1000 if time_box_ms else None
                ctx = engine.build(
                    tok, template, doc, budget_tokens=budget, max_tokens=64, deadline=deadline
                )
                late_ms = (time.monotonic() - deadline) * 1000 if deadline is not None else 0.0
                engine.forget_document(pt.relpath)
                if name == "hearth":
                    times.append(ctx.build_ms)
                    over.append(late_ms)
                    builds += 1
                    any_skipped += bool(ctx.skipped)
                    for src in set(ctx.skipped):
                        skipped[src] = skipped.get(src, 0) + 1
                h, n = recalled(ctx.parts, pt.targets, indexer, cache)
                hit += h
                total += n
            row[name] = round(hit / total, 3) if total else None
            row[f"{name}_names"] = total
        out[str(budget)] = row
    out["build_ms"] = {
        "p50": round(statistics.median(times), 2) if times else None,
        "p95": _percentile(times, 0.95),
        "time_box_ms": time_box_ms or None,
        "builds": builds,
        "skipped": {k: round(v / builds, 3) for k, v in sorted(skipped.items())} if builds else {},
        "any_skipped": round(any_skipped / builds, 3) if builds else 0.0,
        "late_share": round(sum(1 for o in over if o > 0) / builds, 3) if builds else 0.0,
        "late_max_ms": round(max(over), 2) if over else None,
    }
    return out


_OPENED: dict[tuple[Path, str], str] = {}


def _opened(indexer: Indexer, relpath: str) -> str:
    key = (indexer.root, relpath)
    text = _OPENED.get(key)
    if text is None:
        text = (indexer.root / relpath).read_text(encoding="utf-8")
        _OPENED[key] = text
    return text


def measure_keystrokes(
    indexer: Indexer,
    tok: Tokenizer,
    template: FimTemplate,
    relpath: str,
    *,
    start_line: int,
    lines: int = 20,
    budget: int = 1536,
    max_keys: int = 600,
    time_box_ms: float | None = DEFAULT_TIME_BOX_MS,
) -> dict[str, Any]:
    """Type `lines` lines of `relpath` from `start_line`, one character at a time."""
    text = (indexer.root / relpath).read_text(encoding="utf-8")
    all_lines = text.split("\n")
    block = "\n".join(all_lines[start_line : start_line + lines])
    before = "\n".join(all_lines[:start_line]) + "\n"
    after = "\n" + "\n".join(all_lines[start_line + lines :])
    engine = _engine_with_tabs(indexer, relpath, baseline=False)
    engine.prepare(tok, text)
    prev: list[int] | None = None
    new_tokens: list[int] = []
    sizes: list[int] = []
    times: list[float] = []
    skips = 0
    for i in range(1, min(len(block), max_keys) + 1):
        typed = block[:i]
        doc_text = before + typed + after
        row = start_line + typed.count("\n")
        col = len(typed) - (typed.rfind("\n") + 1)
        engine.note_document(relpath, doc_text)
        ctx = engine.build(
            tok,
            template,
            DocumentView(doc_text, row, col, relpath),
            budget_tokens=budget,
            max_tokens=64,
            deadline=time.monotonic() + time_box_ms / 1000 if time_box_ms else None,
        )
        times.append(ctx.build_ms)
        skips += bool(ctx.skipped)
        if prev is not None:
            new_tokens.append(len(ctx.tokens) - common_prefix(prev, ctx.tokens))
            sizes.append(len(ctx.tokens))
        prev = ctx.tokens
    new_tokens_sorted = sorted(new_tokens)
    times.sort()
    return {
        "file": relpath,
        "keystrokes": len(new_tokens),
        "prompt_tokens_median": statistics.median(sizes) if sizes else 0,
        "reevaluated_median": statistics.median(new_tokens) if new_tokens else 0,
        "reevaluated_mean": round(statistics.fmean(new_tokens), 1) if new_tokens else 0,
        "reevaluated_p90": new_tokens_sorted[int(len(new_tokens) * 0.9)] if new_tokens else 0,
        "full_rebuilds": sum(1 for n, s in zip(new_tokens, sizes, strict=True) if n > s * 0.5),
        "build_ms_p50": round(statistics.median(times), 2) if times else 0,
        "build_ms_p95": round(times[int(len(times) * 0.95)], 2) if times else 0,
        "skipped_share": round(skips / len(times), 3) if times else 0.0,
    }


def run_context_bench(
    repo: Path,
    *,
    vocab: Path | None,
    template_name: str = "qwen",
    points: int = 150,
    seed: int = 0,
    time_box_ms: float | None = DEFAULT_TIME_BOX_MS,
    keystroke_file: str | None = None,
    progress: Callable[[str], None] | None = None,
    raw_targets: bool = False,
    keystrokes: bool = True,
) -> dict[str, Any]:
    say = progress or (lambda _m: None)
    indexer = Indexer(repo, IndexStore(None))
    t0 = time.perf_counter()
    indexer.index_all()
    say(f"indexed {repo} in {time.perf_counter() - t0:.1f} s")
    tok: Tokenizer = VocabTokenizer(vocab) if vocab else EstimateTokenizer(32768)
    template = load_templates()[template_name]
    pts = find_points(indexer, points, seed, raw_targets=raw_targets)
    say(f"{len(pts)} completion points with cross-file names")
    report: dict[str, Any] = {
        "repo": str(repo),
        "tokenizer": str(vocab) if vocab else "estimate",
        "template": template_name,
        "points": len(pts),
        "targets": "raw words" if raw_targets else "names used in code",
        "recall": measure_recall(indexer, tok, template, pts, time_box_ms=time_box_ms),
    }
    rel = keystroke_file
    if rel is None and pts and keystrokes:
        rel = max({p.relpath for p in pts}, key=lambda p: (indexer.root / p).stat().st_size)
    if rel:
        n_lines = len((indexer.root / rel).read_text(encoding="utf-8").split("\n"))
        say(f"typing through {rel}")
        report["keystrokes"] = measure_keystrokes(
            indexer, tok, template, rel, start_line=max(0, n_lines // 2), time_box_ms=time_box_ms
        )
    return report


def format_context_report(r: dict[str, Any]) -> str:
    rec = r["recall"]
    out = [
        f"context bench: {r['repo']} ({r['points']} points, {r['template']} layout, "
        f"tokenizer {Path(r['tokenizer']).name})",
        f"{'budget':>8} {'hearth':>8} {'baseline':>9} {'names':>6}",
    ]
    for budget in BUDGETS:
        row = rec.get(str(budget))
        if row:
            out.append(
                f"{budget:>8} {row['hearth']!s:>8} {row['baseline']!s:>9} {row['hearth_names']:>6}"
            )
    bm = rec["build_ms"]
    box = f"time box {bm['time_box_ms']} ms" if bm.get("time_box_ms") else "no time box"
    skipped = ", ".join(f"{k} {v:.1%}" for k, v in bm.get("skipped", {}).items()) or "none"
    out.append(
        f"build time ({box}, {bm.get('builds')} builds): p50 {bm['p50']} ms, p95 {bm['p95']} ms; "
        f"builds with a source skipped or cut short {bm.get('any_skipped', 0):.1%} ({skipped})"
    )
    if bm.get("time_box_ms"):
        out.append(
            f"past the deadline: {bm.get('late_share', 0):.1%} of builds, "
            f"at most {bm.get('late_max_ms')} ms"
        )
    k = r.get("keystrokes")
    if k:
        out.append(
            f"typing {k['keystrokes']} keys in {k['file']}: re-evaluated tokens per keystroke "
            f"median {k['reevaluated_median']}, mean {k['reevaluated_mean']}, "
            f"p90 {k['reevaluated_p90']} (prompt ~{k['prompt_tokens_median']} tokens, "
            f"{k['full_rebuilds']} big re-layouts); build p50 {k['build_ms_p50']} ms, "
            f"p95 {k['build_ms_p95']} ms, {k.get('skipped_share', 0):.1%} with a source skipped"
        )
    return "\n".join(out)
