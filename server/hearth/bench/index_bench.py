"""`hearth bench index PATH`: the index against the floor of raw tree-sitter work.

In one run: the raw single-thread parse + query time of the same files (the floor), the full
index time in a fresh process and its ratio to the floor, that process's peak RSS,
incremental single-file update p50/p95, and query latencies p50/p95.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hearth.index.languages import get_language, language_for_path
from hearth.index.walker import WalkOptions, walk


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_parse_query_seconds(root: Path) -> tuple[float, int]:
    """Single-thread tree-sitter parse + the language's query over every indexable file."""
    import tree_sitter

    files = [e for e in walk(root, WalkOptions()) if language_for_path(e.relpath)]
    data = [(language_for_path(e.relpath), e.path.read_bytes()) for e in files]
    total = 0.0
    for lang, src in data:
        assert lang is not None
        spec = get_language(lang)
        parser = spec.parser()
        t = time.perf_counter()
        tree = parser.parse(src)
        tree_sitter.QueryCursor(spec.query).captures(tree.root_node)
        total += time.perf_counter() - t
    return total, len(data)


def full_index_in_subprocess(root: Path, db: Path) -> dict[str, Any]:
    """Run `hearth index` in a fresh process so its time and peak RSS are its own."""
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "hearth", "index", str(root), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def run_index_bench(
    root: Path, *, samples: int = 200, progress: Callable[[str], None] = lambda _m: None
) -> dict[str, Any]:
    from hearth.index.indexer import Indexer
    from hearth.index.store import IndexStore

    progress("raw tree-sitter parse + query, one thread")
    raw_s, n_files = raw_parse_query_seconds(root)
    with tempfile.TemporaryDirectory(prefix="hearth-bench-index-") as tmp:
        db = Path(tmp) / "index.sqlite3"
        progress("full index in a fresh process")
        full = full_index_in_subprocess(root, db)
        store = IndexStore(db)
        indexer = Indexer(root, store)
        rng = random.Random(0)
        paths = sorted(store.files())
        picks = rng.sample(paths, min(samples // 4, len(paths)))
        progress(f"incremental updates of {len(picks)} files")
        update_ms: list[float] = []
        for rel in picks:
            target = root / rel
            original = target.read_bytes()
            try:
                target.write_bytes(original + b"\n# hearth bench edit\n")
                t = time.perf_counter()
                indexer.update_paths([target])
                update_ms.append((time.perf_counter() - t) * 1000)
            finally:
                target.write_bytes(original)
        indexer.update_paths([root / rel for rel in picks])
        names = [r[0] for r in store.conn.execute("SELECT DISTINCT name FROM defs ORDER BY name")]
        queries = rng.sample(names, min(samples, len(names)))
        progress(f"{len(queries)} definition lookups, prefix and fuzzy lookups, chunk searches")
        lookup_ms: list[float] = []
        prefix_ms: list[float] = []
        fuzzy_ms: list[float] = []
        similar_ms: list[float] = []
        for name in queries:
            t = time.perf_counter()
            store.definitions(name)
            lookup_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            store.definitions_with_prefix(name[:3])
            prefix_ms.append((time.perf_counter() - t) * 1000)
        for name in queries[:50]:
            t = time.perf_counter()
            store.definitions_fuzzy(name[:-1] if len(name) > 4 else name)
            fuzzy_ms.append((time.perf_counter() - t) * 1000)
        chunk_texts = [
            str(r[0]) for r in store.conn.execute("SELECT text FROM chunks ORDER BY id LIMIT 2000")
        ]
        for text in rng.sample(chunk_texts, min(50, len(chunk_texts))):
            t = time.perf_counter()
            store.similar_chunks(text[-600:])
            similar_ms.append((time.perf_counter() - t) * 1000)
        store.close()
    full_s = float(full["stats"]["seconds"])
    return {
        "root": str(root),
        "files": n_files,
        "raw_parse_query_s": raw_s,
        "full_index_s": full_s,
        "full_to_raw_ratio": full_s / raw_s if raw_s else float("nan"),
        "peak_rss_mb": full["peak_rss_mb"],
        "peak_worker_rss_mb": full.get("peak_worker_rss_mb"),
        "index": full["index"],
        "update_ms": {"p50": _pct(update_ms, 0.5), "p95": _pct(update_ms, 0.95)},
        "lookup_ms": {"p50": _pct(lookup_ms, 0.5), "p95": _pct(lookup_ms, 0.95)},
        "prefix_ms": {"p50": _pct(prefix_ms, 0.5), "p95": _pct(prefix_ms, 0.95)},
        "fuzzy_ms": {"p50": _pct(fuzzy_ms, 0.5), "p95": _pct(fuzzy_ms, 0.95)},
        "similar_ms": {"p50": _pct(similar_ms, 0.5), "p95": _pct(similar_ms, 0.95)},
        "median_update_ms": statistics.median(update_ms) if update_ms else None,
    }


def format_index_report(r: dict[str, Any]) -> str:
    idx = r["index"]
    lines = [
        f"workspace: {r['root']} ({r['files']} files, {idx['definitions']} definitions, "
        f"{idx['chunks']} chunks, database {idx['database_bytes'] / 1e6:.1f} MB)",
        f"raw parse + query, 1 thread   {r['raw_parse_query_s']:8.2f} s",
        f"full index (fresh process)    {r['full_index_s']:8.2f} s   "
        f"ratio to raw {r['full_to_raw_ratio']:.2f}x (target <= 1.5x)",
        f"peak RSS of the indexer       {r['peak_rss_mb']:8.0f} MB  (target <= 200 MB)"
        + (
            f"; largest worker {r['peak_worker_rss_mb']:.0f} MB"
            if r.get("peak_worker_rss_mb")
            else ""
        ),
    ]
    for label, key, target in (
        ("incremental update", "update_ms", "p95 <= 20 ms"),
        ("definition lookup", "lookup_ms", "p95 <= 2 ms"),
        ("prefix lookup", "prefix_ms", ""),
        ("fuzzy lookup", "fuzzy_ms", ""),
        ("similar chunks", "similar_ms", ""),
    ):
        v = r[key]
        lines.append(
            f"{label:<30}p50 {v['p50']:7.2f} ms  p95 {v['p95']:7.2f} ms"
            + (f"   (target {target})" if target else "")
        )
    return "\n".join(lines)
