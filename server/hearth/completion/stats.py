"""Local completion statistics for `hearth stats`: acceptance rate and latency percentiles.

Events are appended to a JSON-lines file in Hearth's cache folder and never sent anywhere.
Only counts and timings are kept: no code, no file names.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_BYTES = 4 * 1024 * 1024  # beyond this the older half is dropped
EVENTS = ("served", "shown", "accepted", "rejected")


def default_stats_path() -> Path:
    from hearth.paths import cache_dir

    return cache_dir() / "stats" / "completions.jsonl"


@dataclass(frozen=True)
class StatsEvent:
    event: str  # one of EVENTS
    source: str = ""  # "model" | "cache" for served events
    latency_ms: float | None = None
    language: str | None = None
    accepted_chars: int | None = None
    length: int | None = None  # characters of the suggestion shown or accepted
    partial: bool = False  # accepted in part (a word or a line), with acceptedLength
    again: bool = False  # a further accept of a suggestion already counted as accepted


class StatsStore:
    def __init__(self, path: Path | None = None, enabled: bool = True) -> None:
        self.path = path or default_stats_path()
        self.enabled = enabled
        self._lock = threading.Lock()

    def record(self, ev: StatsEvent) -> None:
        if not self.enabled:
            return
        row: dict[str, Any] = {"t": round(time.time(), 3), "e": ev.event}
        if ev.source:
            row["src"] = ev.source
        if ev.latency_ms is not None:
            row["ms"] = round(ev.latency_ms, 2)
        if ev.language:
            row["lang"] = ev.language
        if ev.accepted_chars is not None:
            row["chars"] = ev.accepted_chars
        if ev.length is not None:
            row["len"] = ev.length
        if ev.partial:
            row["part"] = 1
        if ev.again:
            row["again"] = 1
        line = json.dumps(row, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line)
                if self.path.stat().st_size > MAX_BYTES:
                    self._shrink()
            except OSError as exc:
                log.warning("cannot write completion stats to %s: %s", self.path, exc)
                self.enabled = False

    def _shrink(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        self.path.write_text("".join(lines[len(lines) // 2 :]), encoding="utf-8")

    def read(self, since: float | None = None) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and (since is None or row.get("t", 0) >= since):
                rows.append(row)
        return rows


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts, rates and percentiles; a suggestion accepted in several parts counts once."""
    counts = Counter(str(r.get("e")) for r in rows if not r.get("again"))
    out: dict[str, Any] = {e: counts.get(e, 0) for e in EVENTS}
    shown = counts.get("shown", 0)
    out["acceptance_rate"] = round(counts.get("accepted", 0) / shown, 3) if shown else None
    accepts = [r for r in rows if r.get("e") == "accepted"]
    out["accepted_partial"] = sum(1 for r in accepts if r.get("part"))
    out["accepted_chars"] = sum(_int(r.get("chars")) for r in accepts)
    shown_chars = sum(_int(r.get("len")) for r in rows if r.get("e") == "shown")
    out["shown_chars"] = shown_chars
    out["char_acceptance_rate"] = (
        round(out["accepted_chars"] / shown_chars, 3) if shown_chars else None
    )
    latency: dict[str, Any] = {}
    for src in ("model", "cache"):
        ms = [float(r["ms"]) for r in rows if r.get("e") == "served" and r.get("src") == src]
        latency[src] = {
            "count": len(ms),
            "p50_ms": _round(percentile(ms, 0.5)),
            "p95_ms": _round(percentile(ms, 0.95)),
        }
    out["latency"] = latency
    langs = Counter(str(r["lang"]) for r in accepts if r.get("lang") and not r.get("again"))
    out["accepted_by_language"] = dict(langs.most_common())
    return out


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def format_summary(summary: dict[str, Any], path: Path) -> str:
    rate = summary["acceptance_rate"]
    lines = [
        f"completion statistics (local only: {path})",
        f"  suggestions served {summary['served']}, shown {summary['shown']}, "
        f"accepted {summary['accepted']}, rejected {summary['rejected']}",
        "  acceptance rate    "
        + (f"{rate * 100:.1f}%" if rate is not None else "n/a (none shown)"),
    ]
    if summary["accepted_partial"] or summary["char_acceptance_rate"] is not None:
        chars = summary["char_acceptance_rate"]
        share = f" ({chars * 100:.1f}% of {summary['shown_chars']} shown)" if chars else ""
        lines.append(
            f"  partial accepts    {summary['accepted_partial']} (a word or a line); "
            f"characters accepted {summary['accepted_chars']}{share}"
        )
    for src, label in (("model", "from the model"), ("cache", "from the cache")):
        lat = summary["latency"][src]
        if lat["count"]:
            lines.append(
                f"  latency {label:<15} p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms "
                f"({lat['count']} requests)"
            )
    if summary["accepted_by_language"]:
        by = ", ".join(f"{k} {v}" for k, v in summary["accepted_by_language"].items())
        lines.append(f"  accepted by language {by}")
    return "\n".join(lines)
