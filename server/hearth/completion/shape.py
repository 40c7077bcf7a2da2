"""Single or multi-line, and whether the cursor sits in a comment or a string, from the syntax.

An empty line or a block opener (`:` ending a Python header, `{`, `(`, `[`) invites a block,
but only where the block is still open: when the code below the cursor continues at the
cursor's depth (or deeper), the user is adding a line to a block that exists, and a block
suggestion would collide with that code. In the middle of a line only the rest of the line
makes sense. Tree-sitter tells a `:` that
opens a block from one in a dict or a slice, and a `{` in code from one in a string. Only a
window of lines around the cursor is parsed, so the cost does not grow with the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearth.completion.postprocess import indent_width

if TYPE_CHECKING:
    import tree_sitter

log = logging.getLogger(__name__)

WINDOW_BEFORE = 120  # lines parsed above the cursor
WINDOW_AFTER = 20
_OPENERS = ("{", "(", "[")
_STRING_TYPES = {
    "string",
    "string_content",
    "string_fragment",
    "template_string",
    "raw_string_literal",
    "interpreted_string_literal",
    "string_literal",
    "char_literal",
    "character_literal",
    "heredoc_body",
}
# Parents of a `:` that does not open a Python block.
_NOT_BLOCK_COLON = {"pair", "dictionary", "slice", "subscript", "lambda", "type", "parameters"}


@dataclass(frozen=True)
class CursorShape:
    multiline: bool
    in_comment: bool = False
    in_string: bool = False


def _text_shape(line_before: str, line_after: str, language: str | None) -> bool:
    """The multi-line decision from the text alone."""
    if not line_before.strip() and not line_after.strip():
        return True
    if line_after.strip():
        return False
    tail = line_before.rstrip()
    if tail.count('"') % 2 or tail.count("'") % 2:
        return False  # an unclosed string on this line (tree-sitter may not see it as one)
    if tail.endswith(_OPENERS):
        return True
    return language == "python" and tail.endswith(":")


def block_continues(lines: list[str], line: int, before: str) -> bool:
    """Whether the next non-blank line below the cursor carries on the cursor's block.

    On a blank line the block's depth is the cursor's indentation; after an opener (`:`,
    `{`) at the end of a line the block is the body, deeper than that line. Nothing below,
    or a line that dedents, leaves the block open for the suggestion to write.
    """
    current = indent_width(before)
    opener = bool(before.strip())
    for below in lines[line + 1 : line + 1 + WINDOW_AFTER * 5]:
        if not below.strip():
            continue
        depth = indent_width(below.rstrip("\r"))
        return depth > current if opener else depth >= current
    return False


def _parse_window(
    lines: list[str], line: int, language: str
) -> tuple[tree_sitter.Tree, int] | None:
    from hearth.index.languages import get_language

    try:
        spec = get_language(language)
    except (KeyError, ImportError):
        return None
    first = max(0, line - WINDOW_BEFORE)
    text = "\n".join(lines[first : line + WINDOW_AFTER + 1])
    return spec.parser().parse(text.encode("utf-8")), first


def _ancestors(node: tree_sitter.Node | None) -> list[tree_sitter.Node]:
    out = []
    while node is not None:
        out.append(node)
        node = node.parent
    return out


def cursor_shape(
    text: str, line: int, character: int, language: str | None, mode: str = "auto"
) -> CursorShape:
    """Shape at a 0-based (line, code point) cursor; `mode` "always"/"never" forces it."""
    lines = text.split("\n")
    line = min(max(line, 0), len(lines) - 1)
    current = lines[line].rstrip("\r")
    character = min(max(character, 0), len(current))
    before, after = current[:character], current[character:]
    multiline = _text_shape(before, after, language)
    in_comment = in_string = False
    parsed = _parse_window(lines, line, language) if language else None
    if parsed is not None:
        tree, first = parsed
        row = line - first
        col = len(before.encode("utf-8"))
        point = (row, col)
        around = _ancestors(tree.root_node.descendant_for_point_range(point, point))
        if col > 0:  # the node just left of the cursor (a line comment ends at the cursor)
            around += _ancestors(tree.root_node.descendant_for_point_range((row, col - 1), point))
        for n in around:
            if "comment" in n.type and n.start_point < point <= n.end_point:
                in_comment = True
            elif n.type in _STRING_TYPES and n.start_point < point < n.end_point:
                in_string = True
        tail = before.rstrip()
        if multiline and tail and not after.strip():
            # Check the opener itself: a `:` of a dict or a `{` inside a string is no block.
            opener_col = len(tail.encode("utf-8")) - 1
            leaf = tree.root_node.descendant_for_point_range(
                (row, opener_col), (row, opener_col + 1)
            )
            types = {n.type for n in _ancestors(leaf)}
            if types & (_STRING_TYPES | {"comment", "line_comment", "block_comment"}):
                multiline = False
            elif tail.endswith(":") and leaf is not None and leaf.parent is not None:
                multiline = leaf.parent.type not in _NOT_BLOCK_COLON
    if multiline and not after.strip() and block_continues(lines, line, before):
        multiline = False
    if mode == "always":
        multiline = True
    elif mode == "never":
        multiline = False
    return CursorShape(multiline, in_comment, in_string)
