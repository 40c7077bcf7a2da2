"""The cursor's file: prefix/suffix windows (with hysteresis) and scope headers."""

from __future__ import annotations

from hearth.context.local import (
    Cursor,
    enclosing_scopes,
    prefix_window,
    scope_text,
    suffix_window,
)
from hearth.context.tokens import EstimateTokenizer, TokenCache, pieces

LONG = "".join(f"value_{i} = compute_{i}(argument_{i})\n" for i in range(400))


def cache() -> TokenCache:
    return TokenCache(EstimateTokenizer())


def test_cursor_clamps_beyond_line_and_file() -> None:
    cur = Cursor.of("ab\ncd", 9, 9)
    assert (cur.line, cur.col) == (1, 2)
    assert Cursor.of("", 3, 3).head == ""
    crlf = Cursor.of("ab\r\ncd", 0, 5)
    assert crlf.col == 2 and crlf.tail == "\r"


def test_prefix_fits_and_is_line_aligned() -> None:
    c = cache()
    cur = Cursor.of(LONG, 300, 4)
    start, text = prefix_window(cur, 200, c, None)
    assert 0 < start < 300
    assert len(c.run(text)) <= 200
    assert text.startswith("value_") and text.endswith("valu")


def test_prefix_start_is_kept_while_typing_then_jumps_with_slack() -> None:
    c = cache()
    lines = LONG.split("\n")
    cur = Cursor.of(LONG, 300, 0)
    start, _ = prefix_window(cur, 200, c, None)
    starts = set()
    row = 300
    typed = ""
    for i in range(120):  # type a few lines below line 300
        typed += "x" if i % 20 else "\n"
        text = "\n".join(lines[:row]) + "\n" + typed + "\n" + "\n".join(lines[row:])
        t_lines = typed.split("\n")
        cur = Cursor.of(text, row + len(t_lines) - 1, len(t_lines[-1]))
        start, window = prefix_window(cur, 200, c, start)
        assert len(c.run(window)) <= 200
        starts.add(start)
    assert len(starts) <= 3  # jumps, not a slide per keystroke


def test_tiny_allowance_keeps_the_end_of_the_line() -> None:
    c = cache()
    cur = Cursor.of("x = " + "a + " * 200, 0, 804)
    start, text = prefix_window(cur, 10, c, None)
    assert start == 0 and 0 < len(c.run(text)) <= 10
    assert text.endswith("a + ")
    assert prefix_window(cur, 0, c, None)[1] == ""


def test_suffix_is_small_and_line_aligned() -> None:
    c = cache()
    cur = Cursor.of(LONG, 10, 3)
    text = suffix_window(cur, 40, c)
    assert text.startswith(LONG.split("\n")[10][3:])
    assert len(c.tokens(text)) <= 40 + 2
    assert text.endswith("\n")
    assert suffix_window(cur, 0, c) == ""


PY = """class Store:
    \"\"\"Docs.\"\"\"

    def add(self, item):
        if item:
            x = 1
            y = 2
            return x
"""


def test_enclosing_scopes_python() -> None:
    cur = Cursor.of(PY, 6, 12)
    assert [n for n, _ in enclosing_scopes(cur, 6)] == [0, 3, 4]
    assert [n for n, _ in enclosing_scopes(cur, 4)] == [0, 3]  # visible ones left out
    text = scope_text(enclosing_scopes(cur, 4), "#")
    assert text.splitlines() == [
        "class Store:",
        "    # ...",
        "    def add(self, item):",
        "        # ...",
    ]


def test_enclosing_scopes_braces_and_blank_cursor_line() -> None:
    go = "package x\n\nfunc (c *C) Area() float64 {\n\tif c != nil {\n\n\t\treturn 1\n\t}\n}\n"
    cur = Cursor.of(go, 4, 0)  # blank line inside the if
    assert [n for n, _ in enclosing_scopes(cur, 5)] == [2, 3]


def test_pieces_cut_stably() -> None:
    text = LONG[:5000]
    cut = pieces(text)
    assert "".join(cut) == text and len(cut) > 3
    longer = pieces(text + "more typing at the end")
    assert longer[:-1] == cut[:-1]
    assert pieces("short") == ["short"]
