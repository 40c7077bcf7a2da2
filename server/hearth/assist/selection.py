"""What Explain and Review work on: whole lines of one document, with path and language.

Selections are line-based (a review finding points at lines; a half-selected line is read
whole). An empty selection means the innermost definition around the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth.errors import InputFileError, UsageError

# Definition kinds worth explaining on their own when nothing is selected.
_ENCLOSING_KINDS = ("function", "method", "class", "struct", "interface", "trait", "enum")


@dataclass(frozen=True)
class Selection:
    """Lines `start_line`..`end_line` (0-based, inclusive) of `text`."""

    path: str
    language: str | None
    text: str
    start_line: int
    end_line: int

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")[self.start_line : self.end_line + 1]

    @property
    def code(self) -> str:
        return "\n".join(line.rstrip("\r") for line in self.lines)

    def numbered(self, upto: int | None = None) -> str:
        """The code with 1-based line numbers, as the review prompt shows it."""
        last = self.end_line if upto is None else min(self.end_line, upto)
        width = len(str(last + 1))
        rows = self.text.split("\n")[self.start_line : last + 1]
        first = self.start_line + 1
        return "\n".join(
            f"{first + i:>{width}}: {row.rstrip(chr(13))}" for i, row in enumerate(rows)
        )


def check_text(text: str, path: str) -> None:
    """A clear error for documents Explain and Review cannot read."""
    if "\0" in text[:8192]:
        raise InputFileError(
            f"{path} looks like a binary file (it contains NUL bytes)",
            "Explain and Review work on text source files",
        )


def select_lines(
    text: str,
    path: str,
    language: str | None,
    start_line: int,
    end_line: int,
    *,
    end_character: int | None = None,
) -> Selection:
    """The selection from `start_line` to `end_line` (0-based); an `end_character` of 0 on a
    later line means the selection stops at the end of the previous line (editors do that)."""
    check_text(text, path)
    n_lines = len(text.split("\n"))
    if end_character == 0 and end_line > start_line:
        end_line -= 1
    start_line = max(0, min(start_line, n_lines - 1))
    end_line = max(start_line, min(end_line, n_lines - 1))
    sel = Selection(path, language, text, start_line, end_line)
    if not sel.code.strip():
        raise UsageError(
            f"the selection (lines {start_line + 1}-{end_line + 1} of {path}) is empty",
            "select some code, or place the cursor inside a function",
        )
    return sel


def enclosing_definition(text: str, language: str | None, line: int) -> tuple[int, int] | None:
    """The innermost function/class around `line` (0-based), as (start, end) lines."""
    if language is None:
        return None
    from hearth.index.extract import extract

    symbols = extract(text.encode("utf-8"), language)
    best: tuple[int, int] | None = None
    for d in symbols.definitions:
        if d.kind not in _ENCLOSING_KINDS or not d.start_line <= line <= d.end_line:
            continue
        if best is None or d.end_line - d.start_line < best[1] - best[0]:
            best = (d.start_line, d.end_line)
    return best


def select_at_cursor(text: str, path: str, language: str | None, line: int) -> Selection:
    """The innermost definition around the cursor, for an empty selection."""
    check_text(text, path)
    found = enclosing_definition(text, language, line)
    if found is None:
        raise UsageError(
            f"nothing is selected and line {line + 1} of {path} is not inside a function or class",
            "select the code to explain or review",
        )
    return select_lines(text, path, language, found[0], found[1])
