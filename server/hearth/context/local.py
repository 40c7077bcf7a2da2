"""The cursor's own file: line-aligned prefix and suffix windows, and enclosing scope headers.

The prefix window keeps its first line from one build to the next while it still fits
(hysteresis), so typing at the cursor only appends tokens; when it no longer fits it jumps
forward with room to spare, instead of sliding one line per keystroke.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hearth.context.tokens import TokenCache

SLACK = 0.75  # a re-cut prefix fills this share of its allowance, leaving room to type into
KEEP_MIN = 0.5  # a kept prefix start must still fill this share of the allowance
SUFFIX_MAX_LINES = 16
MAX_SCOPES = 6
SCOPE_SCAN_LINES = 4000

_HEADER_END = re.compile(r"(?::|\{|\(|=>|\bdo|\bthen)\s*(?:(?://|#|--).*)?$")
_NOT_HEADER = re.compile(
    r"^(?:[})\]]|else\b|elif\b|except\b|finally\b|case\b|default\b|catch\b|@|#|//|/\*|\*|--)"
)


@dataclass(frozen=True)
class Cursor:
    """The document split into lines around a clamped cursor."""

    lines: list[str]
    line: int
    col: int

    @classmethod
    def of(cls, text: str, line: int, character: int) -> Cursor:
        lines = text.split("\n")
        row = min(max(line, 0), len(lines) - 1)
        col = min(max(character, 0), len(lines[row].rstrip("\r")))
        return cls(lines, row, col)

    @property
    def head(self) -> str:
        """The cursor line up to the cursor."""
        return self.lines[self.line][: self.col]

    @property
    def tail(self) -> str:
        """The cursor line after the cursor."""
        return self.lines[self.line][self.col :]

    def prefix_from(self, start: int) -> str:
        before = self.lines[start : self.line]
        return "".join(ln + "\n" for ln in before) + self.head


def _cut_left(text: str, allowance: int, cache: TokenCache) -> str:
    """The end of one overlong line that fits `allowance` tokens."""
    while text and cache.count(text) > allowance:
        text = text[len(text) // 2 :] if len(text) > 8 else ""
    return text


def prefix_window(
    cur: Cursor, allowance: int, cache: TokenCache, previous_start: int | None
) -> tuple[int, str]:
    """(first line, text) of the prefix window within `allowance` tokens."""
    if allowance <= 0:
        return cur.line, ""
    if previous_start is not None and 0 <= previous_start <= cur.line:
        text = cur.prefix_from(previous_start)
        n = len(cache.run(text))
        if n <= allowance and (n >= allowance * KEEP_MIN or previous_start == 0):
            return previous_start, text
    head = cur.head
    head_tokens = cache.count(head)
    if head_tokens > allowance:
        return cur.line, _cut_left(head, allowance, cache)
    whole = cur.prefix_from(0)
    if len(whole) < allowance * 2 and len(cache.run(whole)) <= allowance:
        return 0, whole
    target = allowance * SLACK
    total = head_tokens
    start = cur.line
    while start > 0:
        cost = cache.estimate(cur.lines[start - 1] + "\n", continued=True)
        if total + cost > target:
            break
        total += cost
        start -= 1
    if start == 0 and len(cache.run(whole)) <= allowance:
        return 0, whole
    text = cur.prefix_from(start)
    while start < cur.line:
        over = len(cache.run(text)) - allowance
        if over <= 0:
            break
        # Drop enough lines at once: each try tokenizes the window again.
        dropped = 0.0
        while start < cur.line and dropped < over * 1.1 + 1:
            dropped += cache.estimate(cur.lines[start] + "\n", continued=True)
            start += 1
        text = cur.prefix_from(start)
    return start, text


def suffix_window(cur: Cursor, allowance: int, cache: TokenCache) -> str:
    """The rest of the cursor line and whole following lines, within `allowance` tokens."""
    if allowance <= 0:
        return ""
    tail = cur.tail
    if cache.count(tail) > allowance:
        while tail and cache.count(tail) > allowance:
            tail = tail[: len(tail) // 2] if len(tail) > 8 else ""
        return tail
    if cur.line + 1 >= len(cur.lines):
        return tail
    text = tail + "\n"
    total = cache.count(text)
    last = min(len(cur.lines) - 1, cur.line + SUFFIX_MAX_LINES)
    # Estimated line by line (no tokenizer calls), then checked once as a whole.
    ends = [len(text)]
    for i in range(cur.line + 1, last + 1):
        line = cur.lines[i]
        piece = line + "\n" if i < len(cur.lines) - 1 else line
        cost = cache.estimate(piece, continued=True)
        if total + cost > allowance:
            break
        text += piece
        total += cost
        ends.append(len(text))
    while len(ends) > 1 and len(cache.run(text)) > allowance:
        ends.pop()
        text = text[: ends[-1]]
    return text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def enclosing_scopes(cur: Cursor, above: int) -> list[tuple[int, str]]:
    """Header lines (number, text) of the blocks around the cursor that start before line
    `above`, outermost first: found by indentation, so it works on unsaved text in any
    language that indents its blocks."""
    row = cur.line
    probe = cur.lines[row] if cur.lines[row].strip() else ""
    i = row - 1
    while not probe and i >= 0:
        if cur.lines[i].strip():
            probe = cur.lines[i]
            # The line above opens the block the cursor sits in: count from inside it.
            if _HEADER_END.search(probe.rstrip()):
                probe = probe + "\n"
            break
        i -= 1
    if not probe:
        return []
    level = _indent(probe) + (1 if probe.endswith("\n") else 0)
    found: list[tuple[int, str]] = []
    stop = max(-1, row - SCOPE_SCAN_LINES)
    for n in range(row - 1, stop, -1):
        if level == 0:
            break
        line = cur.lines[n]
        stripped = line.strip()
        if not stripped:
            continue
        ind = _indent(line)
        if ind >= level:
            continue
        level = ind
        if _NOT_HEADER.match(stripped) or not _HEADER_END.search(stripped):
            continue
        if n < above:
            found.append((n, line.rstrip("\r")))
    found.reverse()
    return found[-MAX_SCOPES:]


def scope_text(scopes: list[tuple[int, str]], comment: str) -> str:
    """The headers, each followed by a comment marking the lines left out below it."""
    out = []
    for _n, line in scopes:
        out.append(line + "\n")
        lead = line[: _indent(line)]
        out.append(lead + ("\t" if "\t" in lead else "    ") + f"{comment} ...\n")
    return "".join(out)
