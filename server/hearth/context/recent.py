"""What the user opened and edited lately: similar-snippet windows and recent edits.

Documents are cut into overlapping windows of lines once per version; a query compares the
identifier set of the code at the cursor with each window's (Jaccard), so the cost per
keystroke is set arithmetic over a few hundred windows, not text processing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from hearth.context.snippet import RECENT_EDIT, SIMILAR, Snippet, ident_set, jaccard
from hearth.runs import common_prefix, common_suffix

MAX_DOCUMENTS = 20
MAX_DOCUMENT_CHARS = 400_000
WINDOW_LINES = 16
WINDOW_STEP = 8
MAX_EDITS = 16
EDIT_CONTEXT_LINES = 3
EDIT_MAX_LINES = 20
MIN_SIMILARITY = 0.1
PER_FILE = 2


@dataclass
class _Document:
    text: str
    lines: list[str]
    windows: list[tuple[int, int, frozenset[str]]] = field(default_factory=list)
    stamp: float = 0.0


@dataclass(frozen=True)
class Edit:
    path: str
    start_line: int
    end_line: int  # inclusive, in the document's text after the edit
    stamp: float


def _windows(lines: list[str]) -> list[tuple[int, int, frozenset[str]]]:
    out = []
    n = len(lines)
    start = 0
    while start < n:
        end = min(n, start + WINDOW_LINES) - 1
        bag = ident_set("\n".join(lines[start : end + 1]))
        if bag:
            out.append((start, end, bag))
        if end == n - 1:
            break
        start += WINDOW_STEP
    return out


def changed_lines(old: str, new: str) -> tuple[int, int] | None:
    """The line range of `new` that differs from `old` (common prefix/suffix trimmed)."""
    if old == new:
        return None
    i = common_prefix(old, new)
    j = common_suffix(old, new, min(len(old), len(new)) - i)
    first = new.count("\n", 0, i)
    last = new.count("\n", 0, max(i, len(new) - j))
    return first, max(first, last)


class RecentDocuments:
    """Thread-safe: the LSP thread notes documents while a completion reads them."""

    def __init__(self) -> None:
        self._docs: OrderedDict[str, _Document] = OrderedDict()
        self._edits: list[Edit] = []
        self._lock = threading.Lock()

    def note(self, relpath: str, text: str, *, opened: bool = False) -> None:
        if len(text) > MAX_DOCUMENT_CHARS:
            return
        now = time.monotonic()
        with self._lock:
            old = self._docs.pop(relpath, None)
            if old is not None and old.text == text:
                old.stamp = now
                self._docs[relpath] = old
                return
            doc = _Document(text, text.split("\n"), stamp=now)
            self._docs[relpath] = doc
            while len(self._docs) > MAX_DOCUMENTS:
                self._docs.popitem(last=False)
            if old is not None and not opened:
                rng = changed_lines(old.text, text)
                if rng is not None:
                    self._add_edit(Edit(relpath, rng[0], rng[1], now))

    def _add_edit(self, edit: Edit) -> None:
        last = self._edits[-1] if self._edits else None
        if (
            last is not None
            and last.path == edit.path
            and edit.start_line <= last.end_line + EDIT_CONTEXT_LINES
            and last.start_line <= edit.end_line + EDIT_CONTEXT_LINES
        ):
            edit = Edit(
                edit.path,
                min(edit.start_line, last.start_line),
                max(edit.end_line, last.end_line),
                edit.stamp,
            )
            self._edits[-1] = edit
            return
        self._edits.append(edit)
        del self._edits[:-MAX_EDITS]

    def prepare(self) -> None:
        """Cut every document into windows now (an idle moment), not in the next build."""
        for _path, doc in self._snapshot():
            if not doc.windows:
                doc.windows = _windows(doc.lines)

    def paths(self) -> list[str]:
        with self._lock:
            return list(self._docs)

    def _snapshot(self) -> list[tuple[str, _Document]]:
        with self._lock:
            return list(self._docs.items())

    def similar(self, query: frozenset[str], exclude: str | None) -> list[Snippet]:
        """Windows of recent documents sharing identifiers with `query`, best first."""
        out: list[Snippet] = []
        if not query:
            return out
        for path, doc in self._snapshot():
            if path == exclude:
                continue
            if not doc.windows:
                doc.windows = _windows(doc.lines)
            scored = sorted(
                ((jaccard(query, bag), s, e) for s, e, bag in doc.windows), reverse=True
            )
            picked: list[tuple[int, int]] = []
            for score, s, e in scored:
                if score < MIN_SIMILARITY or len(picked) >= PER_FILE:
                    break
                if any(s <= pe and ps <= e for ps, pe in picked):
                    continue
                picked.append((s, e))
                text = "\n".join(ln.rstrip("\r") for ln in doc.lines[s : e + 1]) + "\n"
                out.append(Snippet(SIMILAR, path, s, e, text, score))
        out.sort(key=lambda sn: -sn.score)
        return out

    def edits(
        self, query: frozenset[str], exclude_range: tuple[str, int, int] | None
    ) -> list[Snippet]:
        """Recently edited regions (newest first), with a few lines around each."""
        with self._lock:
            edits = list(reversed(self._edits))
            docs = dict(self._docs)
        out: list[Snippet] = []
        now = time.monotonic()
        for rank, edit in enumerate(edits):
            doc = docs.get(edit.path)
            if doc is None:
                continue
            s = max(0, edit.start_line - EDIT_CONTEXT_LINES)
            e = min(len(doc.lines) - 1, edit.end_line + EDIT_CONTEXT_LINES, s + EDIT_MAX_LINES)
            if exclude_range is not None:
                path, a, b = exclude_range
                if path == edit.path and s <= b and a <= e:
                    continue  # already in the local window
            text = "\n".join(ln.rstrip("\r") for ln in doc.lines[s : e + 1]) + "\n"
            overlap = jaccard(query, ident_set(text))
            age = now - edit.stamp
            recency = 1.0 / (1.0 + rank) * (1.0 if age < 600 else 0.3)
            score = 0.5 * recency + overlap
            if overlap == 0 and age > 120:
                continue
            out.append(Snippet(RECENT_EDIT, edit.path, s, e, text, score))
        return out
