"""When not to ask the model: cheap rules checked before any work is queued.

A suggestion in the middle of a word or before a line full of code is almost never accepted,
and each skipped request is CPU left for the next keystroke. An explicit request from the user
(a keybinding) bypasses the position rules.
"""

from __future__ import annotations

from dataclasses import dataclass

# What may stand right of the cursor without blocking a suggestion: closing brackets, quotes
# and separators that an editor auto-inserts.
_CLOSING = set(")]}>\"'`;,:. \t")
MAX_CLOSING_RIGHT = 8


@dataclass(frozen=True)
class TriggerInput:
    line_before: str  # the cursor's line up to the cursor
    line_after: str  # the rest of the line, without its line end
    explicit: bool = False  # the user asked (keybinding), rather than typing
    in_comment: bool = False
    in_string: bool = False


@dataclass(frozen=True)
class TriggerRules:
    in_comments: bool = False
    in_strings: bool = False


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def skip_reason(inp: TriggerInput, rules: TriggerRules) -> str | None:
    """Why no suggestion should be made here, or None to go ahead."""
    if inp.explicit:
        return None
    before, after = inp.line_before[-1:], inp.line_after[:1]
    if before and after and _word_char(before) and _word_char(after):
        return "middle of a word"
    right = inp.line_after.strip()
    if right and (len(right) > MAX_CLOSING_RIGHT or not set(right) <= _CLOSING):
        return "code right of the cursor"
    if inp.in_comment and not rules.in_comments:
        return "inside a comment"
    if inp.in_string and not rules.in_strings:
        return "inside a string"
    return None
