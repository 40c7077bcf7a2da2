"""Position arithmetic between LSP columns, Python string indexes and UTF-8 byte columns.

LSP counts columns in UTF-16 code units by default (UTF-8 or UTF-32 when negotiated),
Python indexes code points, and tree-sitter reports byte columns of the UTF-8 text: every
conversion between them lives here, with one rule set taken from the LSP specification:

- lines end at `\\r\\n`, `\\r` or `\\n` only (not at `\\v`, `\\f`, `\\x85`, U+2028/2029, which
  `str.splitlines` also splits on; pygls 2.1.1 uses `splitlines`, upstream should not);
- a column past the end of its line means the end of the line (before its line break);
- a line past the last line means the end of the document;
- a column inside a character (between the halves of a surrogate pair, or inside a UTF-8
  sequence) means the start of that character, so no edit ever splits a character.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"

_BREAK = re.compile(r"\r\n|\r|\n")
BLOCK = 1 << 16  # code points counted per step by `line_start`


def line_spans(text: str) -> Iterator[tuple[int, int, int]]:
    """(start, content_end, next_start) code point offsets of each line, LSP line breaks only.

    A text that ends with a line break has a last, empty line after it, as in every editor.
    """
    start = 0
    for m in _BREAK.finditer(text):
        yield start, m.start(), m.end()
        start = m.end()
    yield start, len(text), len(text)


def line_count(text: str) -> int:
    """Lines as LSP counts them (an empty text has one empty line)."""
    return len(_BREAK.findall(text)) + 1


def split_lines(text: str) -> list[str]:
    """The lines with their line breaks, split at LSP line breaks only.

    Like `str.splitlines(keepends=True)`: no empty last entry after a final line break.
    """
    return [text[s:n] for s, _e, n in line_spans(text) if n > s]


def units(text: str, encoding: str = UTF16) -> int:
    """Length of `text` in the code units of `encoding`."""
    if encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _char_units(c: str, encoding: str) -> int:
    o = ord(c)
    if encoding == UTF16:
        return 2 if o > 0xFFFF else 1
    if encoding == UTF8:
        return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4
    return 1


def column_to_index(line: str, column: int, encoding: str = UTF16) -> int:
    """Code point index in `line` (its content, no line break) of an LSP/byte column.

    Clamped to the line; a column inside a character rounds down to that character's start.
    """
    if column <= 0:
        return 0
    if encoding == UTF32 or line.isascii():
        return min(column, len(line))
    seen = 0
    for i, c in enumerate(line):
        seen += _char_units(c, encoding)
        if seen > column:
            return i
        if seen == column:
            return i + 1
    return len(line)


def index_to_column(line: str, index: int, encoding: str = UTF16) -> int:
    """LSP/byte column of code point `index` in `line` (clamped to the line)."""
    index = max(0, min(index, len(line)))
    return units(line[:index], encoding)


def _breaks(text: str, a: int, b: int, cr: bool = True) -> int:
    """Line breaks in `text[a:b]` (a `\\r\\n` counts once; `b` must not split one); `cr`
    False says the text holds no `\\r` (two counts saved)."""
    n = text.count("\n", a, b)
    if cr:
        n += text.count("\r", a, b) - text.count("\r\n", a, b)
    return n


def line_start(text: str, line: int) -> int | None:
    """Code point offset where `line` (0-based) starts, or None past the last line.

    Counted block by block with `str.count` (C speed), then line by line inside one block:
    an edit near the end of a 1,000,000-line document costs milliseconds, not a Python loop
    over every line.
    """
    if line <= 0:
        return 0
    pos, left, n = 0, line, len(text)
    cr = "\r" in text
    while pos < n:
        end = min(n, pos + BLOCK)
        if text[end - 1 : end + 1] == "\r\n":
            end += 1  # never split a CRLF between two blocks
        k = _breaks(text, pos, end, cr)
        if k >= left:
            for m in _BREAK.finditer(text, pos, end):
                left -= 1
                if left == 0:
                    return m.end()
        left -= k
        pos = end
    return None


def offset_at(text: str, line: int, column: int, encoding: str = UTF16) -> int:
    """Code point offset in `text` of an LSP position, clamped as the specification says."""
    if line < 0:
        return 0
    start = line_start(text, line)
    if start is None:
        return len(text)
    m = _BREAK.search(text, start)
    end = m.start() if m else len(text)
    return start + column_to_index(text[start:end], column, encoding)


def position_at(text: str, offset: int, encoding: str = UTF16) -> tuple[int, int]:
    """(line, column) of code point `offset` in `text`; an offset inside a `\\r\\n` or past the
    end maps to the end of that line or of the document."""
    offset = max(0, min(offset, len(text)))
    if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        offset -= 1  # between CR and LF: the end of that line
    cr = "\r" in text
    start = text.rfind("\n", 0, offset) + 1
    if cr:
        start = max(start, text.rfind("\r", 0, offset) + 1)
    return _breaks(text, 0, offset, cr), units(text[start:offset], encoding)


def apply_change(
    text: str,
    start: tuple[int, int],
    end: tuple[int, int],
    new_text: str,
    encoding: str = UTF16,
) -> str:
    """`text` with the LSP range `start`..`end` (line, column) replaced by `new_text`.

    A reversed range is taken in order; positions are clamped as in `offset_at`.
    """
    a = offset_at(text, start[0], start[1], encoding)
    b = offset_at(text, end[0], end[1], encoding)
    if b < a:
        a, b = b, a
    return text[:a] + new_text + text[b:]


def byte_to_index(line: str, byte_column: int) -> int:
    """Code point index of a UTF-8 byte column (a tree-sitter column) in `line`."""
    return column_to_index(line, byte_column, UTF8)


def index_to_byte(line: str, index: int) -> int:
    """UTF-8 byte column (as tree-sitter counts) of code point `index` in `line`."""
    return index_to_column(line, index, UTF8)


def utf16_to_byte(line: str, column: int) -> int:
    """UTF-8 byte column of an LSP UTF-16 column in `line`."""
    return index_to_byte(line, column_to_index(line, column, UTF16))


def byte_to_utf16(line: str, byte_column: int) -> int:
    """LSP UTF-16 column of a UTF-8 byte column in `line`."""
    return index_to_column(line, byte_to_index(line, byte_column), UTF16)
