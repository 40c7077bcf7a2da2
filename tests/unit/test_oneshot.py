"""`hearth complete FILE:LINE:COL` plumbing: positions, splitting, the window, reading files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.completion import oneshot
from hearth.completion.oneshot import (
    Position,
    cursor_window,
    parse_position,
    read_source,
    split_at,
)
from hearth.errors import InputFileError, PositionError, UsageError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("a/b.py:3:4", Position(Path("a/b.py"), 3, 4), id="relative"),
        pytest.param("C:/x.py:1:1", Position(Path("C:/x.py"), 1, 1), id="windows-drive"),
        pytest.param(
            "/tmp/a:b.py:10:20", Position(Path("/tmp/a:b.py"), 10, 20), id="colon-in-name"
        ),
        pytest.param("x.py:0:0", Position(Path("x.py"), 0, 0), id="zero-parses"),
    ],
)
def test_parse_position(spec: str, expected: Position) -> None:
    assert parse_position(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param("a.py", id="no-position"),
        pytest.param("a.py:3", id="line-only"),
        pytest.param("a.py:x:4", id="line-not-number"),
        pytest.param("a.py:3:", id="empty-column"),
        pytest.param("a.py:-1:4", id="negative"),
        pytest.param("3:4", id="no-file"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_position_rejects(spec: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_position(spec)
    assert repr(spec) in err.value.message
    assert err.value.hint is not None and "1-based" in err.value.hint


TEXT = "def f():\n    return 1\n"


@pytest.mark.parametrize(
    ("text", "line", "column", "prefix"),
    [
        pytest.param(TEXT, 1, 1, "", id="start-of-file"),
        pytest.param(TEXT, 1, 5, "def ", id="first-line-middle"),
        pytest.param(TEXT, 1, 9, "def f():", id="first-line-end"),
        pytest.param(TEXT, 2, 5, "def f():\n    ", id="second-line"),
        pytest.param(TEXT, 2, 13, "def f():\n    return 1", id="second-line-len-plus-one"),
        pytest.param(TEXT, 3, 1, TEXT, id="empty-last-line"),
        pytest.param("x = 1", 1, 6, "x = 1", id="no-final-newline"),
        pytest.param("", 1, 1, "", id="empty-file"),
        pytest.param("a\r\nbc\r\n", 1, 2, "a", id="crlf-end-before-cr"),
        pytest.param("a\r\nbc\r\n", 2, 3, "a\r\nbc", id="crlf-second-line"),
        pytest.param("ä = '日本'\nx", 1, 8, "ä = '日本", id="unicode-columns-in-characters"),
    ],
)
def test_split_at(text: str, line: int, column: int, prefix: str) -> None:
    before, after = split_at(text, line, column)
    assert before == prefix
    assert before + after == text


@pytest.mark.parametrize(
    ("text", "line", "column", "fragments"),
    [
        pytest.param(TEXT, 4, 1, ["line 4", "it has 3 lines"], id="line-past-end"),
        pytest.param(TEXT, 0, 1, ["line 0", "it has 3 lines"], id="line-zero"),
        pytest.param(TEXT, 1, 10, ["column 10", "8 characters", "last position is 9"], id="col"),
        pytest.param(TEXT, 2, 0, ["column 0", "12 characters"], id="column-zero"),
        pytest.param(
            "ab\r\nc", 1, 4, ["2 characters", "last position is 3"], id="crlf-not-counted"
        ),
    ],
)
def test_split_at_out_of_range(text: str, line: int, column: int, fragments: list[str]) -> None:
    with pytest.raises(PositionError) as err:
        split_at(text, line, column)
    for fragment in fragments:
        assert fragment in err.value.message


@pytest.mark.parametrize(
    ("prefix", "suffix", "limits", "expected"),
    [
        pytest.param("ab\ncd\n", "ef\ngh\n", (100, 100), ("ab\ncd\n", "ef\ngh\n"), id="fits"),
        pytest.param(
            "line1\nline2\nline3 x", "", (10, 10), ("line3 x", ""), id="prefix-whole-lines"
        ),
        pytest.param(
            "line1\nline2\nxy", "", (9, 10), ("line2\nxy", ""), id="prefix-keeps-line-in-limit"
        ),
        pytest.param("", "a = 1\nb = 2\nc = 3\n", (10, 10), ("", "a = 1\n"), id="suffix-lines"),
        pytest.param("", "a = 1\nb = 2\n", (10, 12), ("", "a = 1\nb = 2\n"), id="suffix-exact"),
        pytest.param("abcdefghij", "", (4, 4), ("ghij", ""), id="prefix-one-long-line"),
        pytest.param("", "abcdefghij", (4, 4), ("", "abcd"), id="suffix-one-long-line"),
    ],
)
def test_cursor_window(
    prefix: str, suffix: str, limits: tuple[int, int], expected: tuple[str, str]
) -> None:
    got = cursor_window(prefix, suffix, *limits)
    assert got == expected
    assert len(got[0]) <= limits[0] and len(got[1]) <= limits[1]
    assert prefix.endswith(got[0]) and suffix.startswith(got[1])


def test_read_source(tmp_path: Path) -> None:
    path = tmp_path / "ok.py"
    path.write_bytes("x = 'ü'\r\n".encode())
    assert read_source(path) == "x = 'ü'\r\n"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"x = 1\n\0\0\0", "binary", id="nul-bytes"),
        pytest.param(b"ok\nok\nbad \xff here\n", "line 3", id="invalid-utf8-line"),
        pytest.param(b"\xc3", "line 1", id="cut-multibyte"),
    ],
)
def test_read_source_rejects(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as err:
        read_source(path)
    assert fragment in err.value.message
    assert str(path) in err.value.message


def test_read_source_missing(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.py", tmp_path):
        with pytest.raises(InputFileError, match="no such file"):
            read_source(path)


def test_read_source_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oneshot, "MAX_SOURCE_BYTES", 16)
    path = tmp_path / "big.py"
    path.write_text("x" * 16, encoding="utf-8")
    assert read_source(path) == "x" * 16  # exactly the limit is fine
    path.write_text("x" * 17, encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        read_source(path)
    assert str(path) in err.value.message
    assert "up to" in err.value.message
