"""What `hearth explain` and `hearth review` read: FILE[:START-END] and changed git hunks."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import UsageError

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
# Hunks closer than this many lines are reviewed together (one model call, shared context).
MERGE_GAP = 3


@dataclass(frozen=True)
class Target:
    path: Path
    start: int | None = None  # 1-based, inclusive; None: the whole file
    end: int | None = None


def parse_target(spec: str) -> Target:
    """`FILE`, `FILE:LINE` or `FILE:START-END` (1-based, inclusive)."""
    head, sep, tail = spec.rpartition(":")
    m = _RANGE.match(tail) if sep else None
    if not m:
        return Target(Path(spec))
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else start
    if start < 1 or end < start:
        raise UsageError(
            f"bad line range in {spec!r}", "lines are 1-based and START <= END, e.g. app.py:10-24"
        )
    return Target(Path(head), start, end)


def parse_diff(diff: str) -> list[Target]:
    """Added/changed line ranges per file from a unified diff (`git diff -U0`)."""
    out: list[Target] = []
    path: Path | None = None
    ranges: list[tuple[int, int]] = []

    def flush() -> None:
        if path is None:
            return
        merged: list[list[int]] = []
        for a, b in sorted(ranges):
            if merged and a <= merged[-1][1] + MERGE_GAP + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        out.extend(Target(path, a, b) for a, b in merged)

    for line in diff.splitlines():
        if line.startswith("+++ "):
            flush()
            name = line[4:].strip()
            path = (
                None if name == "/dev/null" else Path(name[2:] if name.startswith("b/") else name)
            )
            ranges = []
        elif (m := _HUNK.match(line)) and path is not None:
            start, count = int(m.group(1)), int(m.group(2) or 1)
            if count > 0:  # a pure deletion leaves no lines to review
                ranges.append((start, start + count - 1))
    flush()
    return out


def diff_targets(rev: str, cwd: Path | None = None) -> list[Target]:
    """The changed hunks between `rev` and the working tree, as review targets."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "diff", "-U0", "--no-color", "--no-ext-diff", rev, "--"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except FileNotFoundError:
        raise UsageError("git is not installed", "review files by name instead") from None
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or "").strip().splitlines()
        raise UsageError(
            f"git diff {rev} failed: {detail[-1] if detail else exc}",
            "run inside a git repository and pass a valid revision, e.g. --diff HEAD~1",
        ) from None
    root = Path(top)
    base = (cwd or Path.cwd()).resolve()
    out = []
    for t in parse_diff(diff):
        full = root / t.path
        try:
            shown = full.relative_to(base)
        except ValueError:
            shown = full
        out.append(Target(shown, t.start, t.end))
    return out
