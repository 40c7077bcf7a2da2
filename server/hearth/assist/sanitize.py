"""Model output is untrusted: take out what a markdown renderer would fetch, run or open.

An explanation or a finding message is text a model wrote, and the code it read can steer it
(a poisoned comment). Rendered in an editor, that text could load a remote image (a request
that leaks data the moment it is shown), carry a `command:` link (VS Code runs a command when
it is clicked) or raw HTML. Backslash escapes take those away and keep the text readable: a
CommonMark renderer shows `\\[` as `[`.

- images: `![` becomes `!\\[` (inline, reference and shortcut images alike);
- raw HTML and autolinks: their `<` becomes `\\<`;
- links whose destination has a scheme other than http, https or mailto (`command:`,
  `javascript:`, `vscode:`, `file:`, `data:`), inline or in a reference definition, and links
  this module cannot read on one line: the `(` or `]` that would make the link is escaped;
- inside a kept link's destination and title, brackets and `<` are escaped (lossless there),
  so nothing in them can form a link if a renderer reads them as text; a link with a backtick
  in them is not kept (it could pair with a code span's backtick);
- control characters (terminal escape sequences), carriage returns and bidirectional
  overrides are removed.

Code is left as written: fenced blocks and one-line code spans. Wherever the reading is not
certain (an indented fence that a list may close, a code span holding a `|` that a table
would split, a backtick left unpaired that a later line may pair, a fence line with a `|` that
a table may claim, a construct spanning lines), the text is treated as prose: a stray backslash in
code is the worst outcome, never a live link or image.

`settled(text)` is the part of `sanitize(text)` that no later text can change, so streamed
progress reports each extend the one before; `Stream` computes it chunk by chunk.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

# Control characters (terminal escape sequences) and bidirectional overrides, which can make
# shown text read differently from what it is; \t and \n stay.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_OPENER = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_OPENER_PREFIX = re.compile(r" {0,3}(?:`{0,2}|~{0,2})")
_EMAIL_AUTOLINK = re.compile(
    r"<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*>"
)
_EMAIL_PREFIX = re.compile(r"<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]*(?:@[A-Za-z0-9.\-]*)?")
_SPECIAL = re.compile(r"[\\`<\[\]!]")
_IN_DESTINATION = frozenset("[]<")  # escaped inside kept destinations and titles


class _Undecided(Exception):
    """The text so far does not settle this construct (streaming only)."""


class _Unsure(Exception):
    """Renderers may read this line as a fence opener or not."""


def sanitize(text: str) -> str:
    """`text` (markdown from a model) safe to render."""
    return _run(text, final=True)


def strip_controls(text: str) -> str:
    """`text` without control characters, carriage returns and bidi overrides (chunk by chunk
    alike: a character is kept or dropped on its own)."""
    return CONTROL.sub("", text.replace("\r", ""))


def settled(text: str) -> str:
    """The prefix of `sanitize(text)` that text appended later cannot change."""
    return _run(text, final=False)


@dataclass(frozen=True)
class _Fence:
    char: str
    length: int
    indent: int

    def reads(self, line: str) -> str:
        """How a renderer reads `line` inside this fence: "code", "close", or "unsure" where
        that depends on the list item holding an indented fence (its content column is at
        most the opener's indentation, and a line indented less may end the item)."""
        body = line.strip(" \t")
        if not body:
            return "code"
        indent = _indent(line)
        if self.indent and indent < self.indent:
            return "unsure"
        if not (len(body) >= self.length and body == self.char * len(body)):
            return "code"
        # A closer is indented at most 3 columns past the content column.
        if indent <= 3:
            return "close"
        return "unsure" if indent <= self.indent + 3 else "code"


def _indent(line: str) -> int:
    col = 0
    for ch in line:
        if ch == " ":
            col += 1
        elif ch == "\t":
            col += 4 - col % 4
        else:
            break
    return col


def _opener(line: str, complete: bool) -> _Fence | None:
    m = _OPENER.fullmatch(line)
    if m and (m.group(2)[0] == "~" or "`" not in m.group(3)):
        if not complete:
            raise _Undecided  # the fence may grow, or a backtick may follow
        if "|" in line:
            raise _Unsure  # followed by a delimiter row, markdown-it reads a table header
        return _Fence(m.group(2)[0], len(m.group(2)), len(m.group(1)))
    if not complete and _OPENER_PREFIX.fullmatch(line):
        raise _Undecided
    return None


@dataclass
class _State:
    """What earlier lines decide for the next: an open fence, and whether fences can still be
    told apart (after a line a renderer may or may not read as the end of a fence, no later
    fence line can be told from a closer: the rest of the text is prose)."""

    fence: _Fence | None = None
    ambiguous: bool = False
    # A backtick left unpaired on a line may close a code span on a later line of the same
    # paragraph, pairing the backticks there differently: until a blank line, no code spans.
    spans: bool = True


def _line(state: _State, line: str, complete: bool, out: list[str]) -> bool:
    """Append the sanitized `line` (no line ending) to `out`; False where an unfinished line
    stops being decided (what was appended up to there is settled)."""
    try:
        fence = state.fence
        if fence is not None:
            if not complete:
                if fence.indent == 0:  # code or closer: written as it is either way
                    out.append(line)
                raise _Undecided  # what it is, and what follows: known once it is whole
            reading = fence.reads(line)
            if reading == "code":
                out.append(line)
                return True
            state.fence = None
            if reading == "close":
                out.append(line)
                return True
            state.ambiguous = True
        try:
            state.fence = None if state.ambiguous else _opener(line, complete)
        except _Unsure:
            state.fence, state.ambiguous = None, True
        if state.fence is not None or not line.strip(" \t"):
            state.spans = True  # a paragraph ends here
            out.append(line)
            return True
        prose = _Prose(line, complete, out, state.spans)
        prose.run()
        state.spans = state.spans and not prose.unpaired
        return True
    except _Undecided:
        return False


def _run(text: str, final: bool) -> str:
    lines = strip_controls(text).split("\n")
    state = _State()
    out: list[str] = []
    for n, line in enumerate(lines):
        last = n == len(lines) - 1
        if not _line(state, line, final or not last, out):
            break
        if not last:
            out.append("\n")
    return "".join(out)


class Stream:
    """`settled` for text arriving in chunks, in time linear in the text: finished lines are
    sanitized once, only the unfinished last line again with each chunk."""

    def __init__(self) -> None:
        self._state = _State()
        self._done: list[str] = []
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """Add `chunk`; return the settled markdown of all the text so far."""
        *finished, self._pending = (self._pending + strip_controls(chunk)).split("\n")
        for line in finished:
            _line(self._state, line, True, self._done)
            self._done.append("\n")
        if len(self._done) > 64:
            self._done = ["".join(self._done)]
        tail: list[str] = []
        _line(replace(self._state), self._pending, False, tail)
        return "".join(self._done) + "".join(tail)


class _Prose:
    """One line of prose, scanned left to right the way a CommonMark parser meets it."""

    def __init__(self, line: str, complete: bool, out: list[str], spans: bool = True) -> None:
        self.s = line
        self.complete = complete
        self.out = out
        self.spans = spans  # whether backticks can still open code spans on this line
        self.unpaired = False  # a backtick run was left unpaired

    def need(self, j: int) -> bool:
        """Whether index `j` exists; past the end of an unfinished line nothing is decided."""
        if j < len(self.s):
            return True
        if not self.complete:
            raise _Undecided
        return False

    def run(self) -> None:
        s, out = self.s, self.out
        i = 0
        bang = False  # the character just written was an unescaped "!"
        while i < len(s):
            m = _SPECIAL.search(s, i)
            j = m.start() if m else len(s)
            if j > i:  # a run of characters that mean nothing here, copied at once
                out.append(s[i:j])
                i, bang = j, False
                continue
            c = s[i]
            after_bang, bang = bang, False
            if c == "\\":
                if self.need(i + 1) and s[i + 1] in _PUNCT:
                    out.append(s[i : i + 2])
                    i += 2
                else:
                    out.append(c)
                    i += 1
            elif c == "`":
                i = self._code_span(i)
            elif c == "<":
                out.append("\\<" if self._html_or_autolink(i) else "<")
                i += 1
            elif c == "[":
                out.append("\\[" if after_bang else "[")
                i += 1
            elif c == "]":
                i = self._bracket(i)
            else:
                out.append(c)
                bang = c == "!"
                i += 1

    def _code_span(self, i: int) -> int:
        s = self.s
        run = len(s[i:]) - len(s[i:].lstrip("`"))
        self.need(i + run)  # the run may still grow
        if self.spans:
            for m in re.finditer(r"`+", s[i + run :]):
                start, end = i + run + m.start(), i + run + m.end()
                if end == len(s):
                    self.need(end)  # the closer may still grow
                if end - start != run:
                    continue
                if "|" not in s[i + run : start]:
                    self.out.append(s[i:end])
                    return end
                # A table row would split this span at the `|` and pair the backticks after
                # it differently: from here on this line has no code, only prose.
                self.spans = False
                break
            else:
                self.need(len(s))  # a closer may still come
        self.out.append("`" * run)  # no span: literal backticks, the rest is prose
        self.unpaired = True
        return i + run

    def _html_or_autolink(self, i: int) -> bool:
        s = self.s
        if not self.need(i + 1):
            return False
        nxt = s[i + 1]
        if nxt.isascii() and (nxt.isalpha() or nxt in "/!?"):
            return True  # a tag, comment, declaration, processing instruction or autolink
        if _EMAIL_AUTOLINK.match(s, i):
            return True  # an e-mail autolink may start with a digit or punctuation
        m = _EMAIL_PREFIX.match(s, i)
        if m and m.end() == len(s):
            self.need(len(s))
        return False

    def _bracket(self, i: int) -> int:
        s, out = self.s, self.out
        if not self.need(i + 1):
            out.append("]")
            return i + 1
        if s[i + 1] == "(":
            end = self._inline_link(i + 2)
            if end is None:
                out.append("]\\(")
                return i + 2
            if "`" in s[i + 2 : end]:
                # Escaping it would add a backtick that can close an earlier code span.
                out.append("]\\(")
                return i + 2
            out.append("](")
            out.extend(
                "\\" + ch if ch in _IN_DESTINATION else ch for ch in _unescaped(s, i + 2, end)
            )
            out.append(")")
            return end + 1
        if s[i + 1] == ":" and not self._safe_definition(i + 2):
            out.append("\\]:")
            return i + 2
        out.append("]")
        return i + 1

    def _inline_link(self, j: int) -> int | None:
        """Index of the `)` closing a one-line inline link from `j` (after `](`) whose
        destination is allowed; None for anything else."""
        s = self.s
        j = _skip_blanks(s, j)
        if not self.need(j) or s[j] == "<":
            return None  # on the next line, or <pointy>: not read here
        start, depth = j, 0
        while True:
            if not self.need(j):
                return None
            ch = s[j]
            if ch == "\\" and self.need(j + 1) and s[j + 1] in _PUNCT:
                j += 2
                continue
            if ch in " \t" or ord(ch) < 0x20 or (ch == ")" and depth == 0):
                break
            depth += {"(": 1, ")": -1}.get(ch, 0)
            j += 1
        if not _allowed(s[start:j]):
            return None
        j = _skip_blanks(s, j)
        if not self.need(j):
            return None
        if s[j] in "\"'(":
            close = ")" if s[j] == "(" else s[j]
            j += 1
            while True:
                if not self.need(j):
                    return None  # the title goes on past this line
                if s[j] == "\\" and self.need(j + 1):
                    j += 2
                    continue
                if s[j] == close:
                    break
                j += 1
            j = _skip_blanks(s, j + 1)
            if not self.need(j):
                return None
        return j if s[j] == ")" else None

    def _safe_definition(self, j: int) -> bool:
        """After `]:`: whether the destination (on this line) has an allowed scheme."""
        s = self.s
        j = _skip_blanks(s, j)
        if not self.need(j):
            return False  # the destination would be on the next line
        if s[j] == "<":
            end = s.find(">", j)
            if end < 0:
                self.need(len(s))
                return False
            return _allowed(s[j + 1 : end])
        end = j
        while self.need(end) and s[end] not in " \t":
            end += 1
        return _allowed(s[j:end])


def _skip_blanks(s: str, j: int) -> int:
    while j < len(s) and s[j] in " \t":
        j += 1
    return j


def _unescaped(s: str, start: int, end: int) -> list[str]:
    """s[start:end] in pieces: escape pairs whole, other characters one by one."""
    out: list[str] = []
    j = start
    while j < end:
        if s[j] == "\\" and j + 1 < end and s[j + 1] in _PUNCT:
            out.append(s[j : j + 2])
            j += 2
        else:
            out.append(s[j])
            j += 1
    return out


def _allowed(destination: str) -> bool:
    """Whether a link destination, decoded as a renderer decodes it, has no scheme or an
    allowed one."""
    decoded = html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", destination))
    decoded = "".join(ch for ch in decoded if ch > " " and not 0x7F <= ord(ch) <= 0x9F).lower()
    m = _SCHEME.match(decoded)
    return m is None or m.group(1) in ALLOWED_SCHEMES
