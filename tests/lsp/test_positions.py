"""UTF-16 <-> code point <-> UTF-8 byte position mapping round-trips exactly (generated).

LSP columns are UTF-16 code units, Python indexes code points, tree-sitter columns are UTF-8
bytes; each direction is checked against the encoders themselves, and against tree-sitter's
own byte columns on generated Python source.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth.lsp import positions as P

sys.path.insert(0, str(Path(__file__).parent))
from generated import require_soak, texts

DEFAULT_TEXTS = 300
SOAK_TEXTS = 5000
counted = {"texts": 0, "positions": 0}


def _u16(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def check_text(text: str) -> None:
    counted["texts"] += 1
    spans = list(P.line_spans(text))
    assert len(spans) == P.line_count(text)
    assert "".join(P.split_lines(text)) == text
    for n, (start, end, _nxt) in enumerate(spans):
        line = text[start:end]
        assert "\n" not in line and "\r" not in line
        for i in range(len(line) + 1):
            counted["positions"] += 1
            c16 = P.index_to_column(line, i, P.UTF16)
            b8 = P.index_to_byte(line, i)
            assert c16 == _u16(line[:i])
            assert b8 == len(line[:i].encode("utf-8"))
            assert P.column_to_index(line, c16, P.UTF16) == i
            assert P.byte_to_index(line, b8) == i
            assert P.utf16_to_byte(line, c16) == b8
            assert P.byte_to_utf16(line, b8) == c16
            assert P.column_to_index(line, i, P.UTF32) == i
            assert P.offset_at(text, n, c16) == start + i
            assert P.position_at(text, start + i) == (n, c16)
        # Columns between units of one character round down; past the end, clamp.
        for i, ch in enumerate(line):
            c16 = P.index_to_column(line, i, P.UTF16)
            if ord(ch) > 0xFFFF:
                assert P.column_to_index(line, c16 + 1, P.UTF16) == i
            b8 = P.index_to_byte(line, i)
            for k in range(1, len(ch.encode("utf-8"))):
                assert P.byte_to_index(line, b8 + k) == i
        assert P.column_to_index(line, _u16(line) + 5, P.UTF16) == len(line)
    assert P.offset_at(text, len(spans) + 3, 0) == len(text)


def run_generated(count: int) -> int:
    before = counted["texts"]

    @settings(max_examples=count, deadline=None, database=None)
    @given(st.one_of(texts, st.text(max_size=40)))
    def check(text: str) -> None:
        check_text(text)

    check()
    return counted["texts"] - before


def test_examples() -> None:
    line = "x = '😋é'"
    assert P.index_to_column(line, 6) == 7  # after the emoji: 2 UTF-16 units
    assert P.index_to_byte(line, 6) == 9  # 4 UTF-8 bytes
    assert P.byte_to_utf16(line, 11) == 8
    assert P.split_lines("a\u2028b\r\nc\rd\n") == ["a\u2028b\r\n", "c\r", "d\n"]
    assert P.position_at("ab\r\n", 3) == (0, 2)  # between CR and LF: end of the line
    assert P.position_at("ab\n", 3) == (1, 0)


def test_positions_round_trip() -> None:
    ran = run_generated(DEFAULT_TEXTS)
    print(f"positions: {ran} generated texts, {counted['positions']} positions checked")
    assert ran >= DEFAULT_TEXTS // 2


@pytest.mark.soak
def test_positions_round_trip_soak(request: pytest.FixtureRequest) -> None:
    require_soak(request.config)
    ran = run_generated(SOAK_TEXTS)
    print(f"positions soak: {ran} generated texts, {counted['positions']} positions checked")
    assert ran >= SOAK_TEXTS


def test_tree_sitter_byte_columns_map_to_the_right_characters() -> None:
    """tree-sitter's columns (bytes) land on the identifiers' first characters."""
    import tree_sitter_python
    from tree_sitter import Language, Parser

    parser = Parser(Language(tree_sitter_python.language()))
    names = ["ä", "x😋", "中文", "𝄞b", "plain"]  # strings hold the astral ones
    source = "\n".join(f"s{k} = '{n}'; id_{k} = {k}" for k, n in enumerate(names))
    tree = parser.parse(source.encode("utf-8"))
    lines = P.split_lines(source)
    seen = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type != "identifier":
            continue
        row, col = node.start_point
        line = lines[row].rstrip("\r\n")
        index = P.byte_to_index(line, col)
        assert line[index:].startswith(node.text.decode("utf-8"))
        c16 = P.byte_to_utf16(line, col)
        assert P.utf16_to_byte(line, c16) == col
        seen += 1
    assert seen == 2 * len(names)
