"""Postprocessing of a raw model completion: each rule a pure function, applied in order.

These are the rules whose absence users of local completion tools complain about most:
leaked special tokens, duplicated closing brackets, wrong indentation, runaway repetition.
Every rule takes the text and what it needs of the document, and returns the new text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_LEADING_WS = re.compile(r"^[ \t]*")


@dataclass(frozen=True)
class CursorContext:
    """What the rules need to know about the document around the cursor."""

    prefix: str  # text before the cursor (at least the current line)
    suffix: str  # text after the cursor
    crlf: bool = False  # the document uses CRLF line ends
    indent_unit: str = "    "  # the document's indentation: "\t" or N spaces
    multiline: bool = True  # a block may be suggested here (else: the rest of the line)

    @property
    def line_before(self) -> str:
        return self.prefix.rpartition("\n")[2]

    @property
    def line_after(self) -> str:
        return self.suffix.partition("\n")[0].rstrip("\r")

    # Computed once per request: `answer_end` reads them at every token while decoding.
    @functools.cached_property
    def block_width(self) -> int:
        """The indentation of the cursor's block: the cursor line's, or the line above's when
        the cursor sits at the start of an empty line."""
        current = self.line_before
        if current:
            return indent_width(current)
        prev = self.prefix.rstrip("\n").rpartition("\n")[2]
        return indent_width(prev) if prev.strip() else 0

    @functools.cached_property
    def following(self) -> list[str]:
        """The next non-blank lines below the cursor's line, stripped (SUFFIX_LINES_CHECKED)."""
        lines = (ln.strip() for ln in self.suffix.split("\n")[1:])
        return [ln for ln in lines if ln][:SUFFIX_LINES_CHECKED]


def strip_special_tokens(text: str, specials: Sequence[str]) -> str:
    """Cut at the first template token that slipped through (everything after is residue)."""
    cut = len(text)
    for token in specials:
        if token:
            i = text.find(token)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def cut_at_undecodable(text: str) -> str:
    """End the suggestion before the first U+FFFD: the model produced bytes that are not
    UTF-8, and nothing it wrote after them can be trusted to be text the user wants."""
    return text.partition("\ufffd")[0]


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def skip_leading_blank_lines(text: str, ctx: CursorContext) -> str:
    """On an empty line, a suggestion that starts with blank lines starts at its code: the
    cursor line is where that code goes, already indented (the cursor's indentation is
    taken off the first line)."""
    if ctx.line_before.strip() or ctx.line_after.strip() or not text.startswith("\n"):
        return text
    lines = text.split("\n")
    while len(lines) > 1 and not lines[0].strip():
        lines.pop(0)
    head = lines[0]
    indent = ctx.line_before
    lines[0] = head[len(indent) :] if head.startswith(indent) else head.lstrip(" \t")
    return "\n".join(lines)


def single_line(text: str, ctx: CursorContext) -> str:
    """Mid-line the suggestion is the rest of the line at most."""
    if ctx.multiline:
        return text
    return text.split("\n", 1)[0]


def stop_at_repetition(text: str, max_repeats: int = 2) -> str:
    """Cut runaway repetition: a non-blank line repeated more than `max_repeats` times in a row."""
    lines = text.split("\n")
    run = 1
    for i in range(1, len(lines)):
        if lines[i].strip() and lines[i] == lines[i - 1]:
            run += 1
            if run > max_repeats:
                return "\n".join(lines[: i - run + 2])
        else:
            run = 1
    return text


def indent_width(s: str, tab: int = 4) -> int:
    width = 0
    for ch in s:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += tab - width % tab
        else:
            break
    return width


def _dedent_line(lines: list[str], block: int) -> int | None:
    """Index of the first line after the first that has code below the block's depth."""
    for i in range(1, len(lines)):
        line = lines[i]
        if line.strip() and indent_width(line) < block:
            return i
    return None


def stop_at_dedent(text: str, ctx: CursorContext) -> str:
    """A block completion ends where a line dedents below the cursor's block.

    Code at a lower indentation than the cursor's block belongs to the enclosing scope, which
    the suffix already holds.
    """
    if "\n" not in text:
        return text
    lines = text.split("\n")
    i = _dedent_line(lines, ctx.block_width)
    return text if i is None else "\n".join(lines[:i]).rstrip(" \t")


_EXIT = re.compile(r"(return|raise|break|continue|throw)\b")


def _exit_line(lines: list[str], ctx: CursorContext) -> int | None:
    """Index of the first whole statement at the block's own depth that leaves the block
    (`return`, `raise`, ...): what follows it there is dead code, or the next block."""
    block = ctx.block_width
    for i, line in enumerate(lines):
        full = ctx.line_before + line if i == 0 else line
        if i > 0 and indent_width(line) != block:
            continue
        if _EXIT.match(full.strip()) and _imbalance(full) == 0:
            return i
    return None


def stop_after_exit(text: str, ctx: CursorContext) -> str:
    """A block suggestion ends with a statement that leaves the block (the model at the end
    of a file wrote `return result` and then commented-out prints up to its token limit)."""
    if not ctx.multiline or "\n" not in text:
        return text
    lines = text.split("\n")
    i = _exit_line(lines, ctx)
    return text if i is None else "\n".join(lines[: i + 1])


def answer_end(text: str, ctx: CursorContext) -> int | None:
    """Where generating can stop because the rules below would cut the rest anyway: a line
    that leaves the block, a finished line the suffix already has, a runaway repeat.

    Called while the model writes, so a decided suggestion costs no more tokens.
    """
    if "\n" not in text:
        return None
    if not ctx.multiline:  # the first line with code ends it (blank lines before it are skipped)
        code = len(text) - len(text.lstrip())
        end = text.find("\n", code)
        return None if code == len(text) or end == -1 else end
    lines = text.split("\n")
    following = ctx.following
    if not ctx.line_after.strip() and (ctx.line_before + lines[0]).strip() in following:
        return 0  # its first line is already below: nothing to suggest
    cut = _dedent_line(lines, ctx.block_width)
    done = lines[:-1]  # the last line may still grow
    exit_at = _exit_line(done, ctx)
    if exit_at is not None and (cut is None or exit_at + 1 < cut):
        cut = exit_at + 1
    for i in range(1, len(done) if cut is None else min(cut, len(done))):
        line = done[i].strip()
        repeated = i >= 2 and line and line == done[i - 1].strip() == done[i - 2].strip()
        if line in following or repeated:
            cut = i
            break
    if cut is None:
        return None
    return len("\n".join(lines[:cut]))


_CLOSERS = {")": "(", "]": "[", "}": "{"}
_QUOTES = "\"'`"


def _imbalance(line: str) -> int:
    """How far a line is from balanced brackets and quotes (0 = balanced)."""
    score = sum(abs(line.count(c) - line.count(o)) for c, o in _CLOSERS.items())
    return score + sum(line.count(q) % 2 for q in _QUOTES)


def _trim_line_overlap(head: str, before: str, after: str) -> str:
    """Drop closing characters at the end of `head` that `after` already provides."""
    if not after.strip():
        return head

    def cost(h: str) -> int:
        return _imbalance(before + h + after)

    best = head.rstrip()
    tail = after.strip()
    if best.endswith(tail) and cost(best[: len(best) - len(tail)]) < cost(best):
        best = best[: len(best) - len(tail)]
    while best and (best[-1] in _CLOSERS or best[-1] in _QUOTES) and best[-1] in after:
        shorter = best[:-1]
        if cost(shorter) >= cost(best):
            break
        best = shorter
    return best if best != head.rstrip() else head


SUFFIX_LINES_CHECKED = 3  # the suffix lines a suggestion must not write again


def trim_suffix_overlap(text: str, ctx: CursorContext) -> str:
    """Drop what the suffix already has: closing characters and whole following lines.

    Covers the classic duplicated `)`/`]`/quote at the end of a suggestion (only when the
    line would otherwise be unbalanced, so `print(|)` + `f(x)` keeps its own parenthesis)
    and a suggestion that runs into the code below the cursor: it ends before the first line
    that repeats one of the next lines of the suffix, and a suggestion whose first line
    already stands below is no suggestion.
    """
    first, nl, rest = text.partition("\n")
    first = _trim_line_overlap(first, ctx.line_before, ctx.line_after)
    text = first + nl + rest
    following = ctx.following
    if not following:
        return text
    if not ctx.line_after.strip() and (ctx.line_before + first).strip() in following:
        return ""
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip() in following:
            return "\n".join(lines[:i]).rstrip(" \t\n")
    return text


def match_indentation(text: str, ctx: CursorContext) -> str:
    """Re-indent continuation lines in the document's style (tabs vs spaces and width)."""
    if "\n" not in text:
        return text
    unit = ctx.indent_unit
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        lead = _LEADING_WS.match(line)
        ws = lead.group(0) if lead else ""
        if not ws:
            out.append(line)
            continue
        if unit == "\t":
            width = indent_width(ws)
            new_ws = "\t" * (width // 4) + " " * (width % 4)
        else:
            width = indent_width(ws, tab=len(unit) or 4)
            new_ws = " " * width
        out.append(new_ws + line[len(ws) :])
    return "\n".join(out)


def trim_trailing_whitespace(text: str) -> str:
    """No trailing blank lines or spaces: the editor would show them as a phantom block."""
    return "\n".join(ln.rstrip(" \t") for ln in text.split("\n")).rstrip("\n")


def drop_whitespace_only(text: str) -> str:
    return "" if not text.strip() else text


def to_document_newlines(text: str, ctx: CursorContext) -> str:
    return text.replace("\n", "\r\n") if ctx.crlf else text


def postprocess_steps(
    text: str, ctx: CursorContext, specials: Sequence[str] = ()
) -> tuple[str, list[str]]:
    """All rules in order, and the names of those that changed the text (for records)."""
    steps: list[tuple[str, Callable[[str], str]]] = [
        ("special_tokens", lambda t: strip_special_tokens(t, specials)),
        ("undecodable", cut_at_undecodable),
        ("newlines", normalize_newlines),
        ("leading_blank_lines", lambda t: skip_leading_blank_lines(t, ctx)),
        ("single_line", lambda t: single_line(t, ctx)),
        ("repetition", stop_at_repetition),
        ("dedent", lambda t: stop_at_dedent(t, ctx)),
        ("exit", lambda t: stop_after_exit(t, ctx)),
        ("suffix_overlap", lambda t: trim_suffix_overlap(t, ctx)),
        ("indentation", lambda t: match_indentation(t, ctx)),
        ("trailing_whitespace", trim_trailing_whitespace),
        ("whitespace_only", drop_whitespace_only),
        ("document_newlines", lambda t: to_document_newlines(t, ctx)),
    ]
    changed = []
    for name, rule in steps:
        new = rule(text)
        if new != text:
            changed.append(name)
        text = new
    return text, changed


def postprocess(text: str, ctx: CursorContext, specials: Sequence[str] = ()) -> str:
    """All rules in order; an empty string means "no suggestion here"."""
    return postprocess_steps(text, ctx, specials)[0]


def detect_indent_unit(text: str) -> str:
    """The document's indentation: a tab if most indented lines start with one, else the most
    common step between consecutive indentation widths (2, 4 or 8 spaces)."""
    tabs = spaces = 0
    steps: dict[int, int] = {}
    prev = 0
    for line in text.split("\n")[:2000]:
        if not line.strip():
            continue
        ws = _LEADING_WS.match(line)
        lead = ws.group(0) if ws else ""
        if lead.startswith("\t"):
            tabs += 1
        elif lead.startswith(" "):
            spaces += 1
        width = len(lead.expandtabs(4))
        step = abs(width - prev)
        if step in (2, 4, 8):
            steps[step] = steps.get(step, 0) + 1
        prev = width
    if tabs > spaces:
        return "\t"
    if not steps:
        return "    "
    return " " * max(steps, key=lambda s: (steps[s], -s))
