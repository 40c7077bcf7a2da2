"""Definitions, imports and chunks of one file, from its language's query file.

The query runs once per file and everything after it is a pass over its matches, so the
Python work grows with the number of definitions and imports, not with the size of the
syntax tree. Nothing here recurses over the tree or raises on bad input: a file that cannot
be parsed in time yields a reason in `FileSymbols.error` instead of symbols.
"""

from __future__ import annotations

import logging
import re
import time
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from hearth.index.languages import (
    ROLE_DEFINITION,
    ROLE_IMPORT,
    ROLE_SCOPE,
    LanguageSpec,
    get_language,
)
from hearth.index.model import Chunk, Definition, FileSymbols, Import

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

log = logging.getLogger(__name__)

CHUNK_WINDOW_LINES = 40  # most lines in a window of top-level statements
SPLIT_CLASS_LINES = 80  # a class-like definition longer than this is chunked by member
SIGNATURE_CHARS = 200
MAX_NESTING = 64  # definitions nested deeper are not indexed (keeps pathological input linear)
_READ_BYTES = 4096  # slice handed to tree-sitter per read: small, since predicates re-read text
# Query cost of runs of unnamed siblings (see _irregular): about 1.5 ns a step, so ~0.3 s.
_QUERY_STEP_LIMIT = 200_000_000

# Kinds whose name prefixes the qualified names of what they contain.
_NAMING = frozenset(
    {"function", "method", "class", "struct", "interface", "trait", "enum", "module", "scope"}
)
# A function directly inside one of these is a method.
_METHOD_OWNERS = frozenset({"class", "struct", "interface", "trait", "enum", "scope"})
# Big ones of these are chunked member by member.
_CONTAINERS = _METHOD_OWNERS | {"module"}

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")  # identifiers of two or more characters
# Words every file of a language shares: they would make unrelated chunks look alike.
_KEYWORD_TEXT = """
    abstract and as async await boolean break case catch class const continue def default do
    elif else end enum except export extends false False final finally fn for from func function
    if impl implements import in int interface is lambda let local match mod mut namespace new nil
    None not null number or package pass private protected pub public raise readonly return self
    static string struct super switch then this throw true True try type typeof undefined use var
    void where while with yield
"""
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_COMMENT_OPEN = re.compile(r"^(?:/\*+!?|//[/!]?|#+!?|--+(?:\[=*\[)?|\*+(?!/))\s*")
_COMMENT_CLOSE = re.compile(r"\s*(?:\*+/|\]=*\])$")
_QUOTE_OPEN = re.compile(r"^[rRbBuUfF]{0,2}(?:\"\"\"|'''|\"|'|`)")
_QUOTE_CLOSE = re.compile(r"(?:\"\"\"|'''|\"|'|`)$")
_XML_TAGS = re.compile(r"^(?:<\w+[^>]*>\s*)+|(?:\s*</\w+>)+$")
_MARK_START = frozenset("/#-*\"'`rRbBuUfF")
_MARK_END = frozenset("/]\"'`")


def identifiers(text: str) -> list[str]:
    """The identifier bag behind chunk similarity: names of two or more characters, with
    keywords dropped since every file shares them."""
    return [t for t in _IDENT.findall(text) if t not in _KEYWORDS]


def _bag(text: str) -> str:
    bag = dict.fromkeys(_IDENT.findall(text))
    for keyword in _KEYWORDS.intersection(bag):
        del bag[keyword]
    return " ".join(bag)


def _text(source: bytes, node: Node) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def _first_line(text: str) -> str | None:
    """First non-empty line of a comment or docstring, its markers and quotes removed."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line[0] in _MARK_START:  # the regular expressions only where they can apply
            line = _QUOTE_OPEN.sub("", _COMMENT_OPEN.sub("", line))
        if line and line[-1] in _MARK_END:
            line = _QUOTE_CLOSE.sub("", _COMMENT_CLOSE.sub("", line))
        if "<" in line:
            line = _XML_TAGS.sub("", line)
        line = line.strip()
        if line:
            return line[:SIGNATURE_CHARS]
    return None


def _strip_spec(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in "\"'`<" and text[-1] in "\"'`>":
        text = text[1:-1]
    return text


def _parse(spec: LanguageSpec, source: bytes, timeout_ms: int) -> tuple[Tree | None, str | None]:
    parser = spec.parser()
    if timeout_ms <= 0:
        return parser.parse(source), None
    deadline = time.monotonic() + timeout_ms / 1000

    # Parsing through a read callback is what allows a progress callback (the only way to
    # stop a parse in tree-sitter 0.26). The callback must return bytes, not memoryview:
    # query predicates read node text back through it.
    def read(offset: int, _point: Any) -> bytes:
        return source[offset : offset + _READ_BYTES]

    def cancel(_offset: int, _has_error: bool) -> bool:
        return time.monotonic() > deadline

    try:
        tree = parser.parse(read, encoding="utf8", progress_callback=cancel)
    except ValueError as exc:  # what a cancelled parse raises
        if time.monotonic() > deadline:
            return None, f"parse timed out after {timeout_ms} ms"
        return None, f"parse failed: {exc}"
    if tree is None:
        return None, "parse failed"
    return tree, None


def _irregular(root: Node) -> bool:
    """Whether running a query would take quadratic time: tree-sitter's query cursor scans
    ahead over unnamed siblings for every node it visits, and error recovery can leave one
    node with tens of thousands of unnamed children (`[[[[...`). Only the parts of the tree
    that contain errors are visited, so valid code costs nothing here."""
    steps = 0
    stack = [root]
    while stack:
        node = stack.pop()
        children = node.children
        if len(children) - node.named_child_count > 1000:
            run = 0
            for child in children:
                if child.is_named:
                    steps += run * run // 2
                    run = 0
                else:
                    run += 1
            steps += run * run // 2
            if steps > _QUERY_STEP_LIMIT:
                return True
        stack.extend(c for c in children if c.has_error)
    return False


def extract(
    source: bytes, language: str, *, max_bytes: int | None = None, timeout_ms: int = 2000
) -> FileSymbols:
    """Parse `source` and pull out what the index stores. Never raises on bad input.

    `timeout_ms` bounds the parse (<= 0: no bound). The query cannot be stopped (a progress
    callback on queries crashes tree-sitter 0.26.1), so trees it would take quadratic time on
    are refused up front (`_irregular`); otherwise its cost is linear in the parsed tree.
    """
    result = FileSymbols(language=language)
    if max_bytes is not None and len(source) > max_bytes:
        result.error = f"not parsed: {len(source)} bytes is over the limit of {max_bytes}"
        return result
    if not isinstance(source, bytes):  # slices of a memoryview crash tree-sitter's predicates
        source = bytes(source)
    try:
        spec = get_language(language)
    except Exception as exc:  # unknown language, missing wheel, bad query file
        result.error = f"no grammar for {language}: {exc}"
        return result
    try:
        tree, error = _parse(spec, source, timeout_ms)
        if tree is None:
            result.error = error
            return result
        import tree_sitter

        root = tree.root_node
        if root.has_error and _irregular(root):
            result.error = "not indexed: syntax errors too irregular to query in time"
            return result
        matches = tree_sitter.QueryCursor(spec.query).matches(root)
        builder = _Builder(spec, source)
        builder.add_matches(matches)
        result.definitions = builder.definitions
        result.imports = builder.imports()
        result.chunks = builder.chunks(root)
    except Exception as exc:  # a grammar quirk must cost one file, not the indexer
        log.warning("extracting a %s file failed", language, exc_info=True)
        return FileSymbols(language=language, error=f"extraction failed: {exc!r}")
    return result


class _Builder:
    """Turns query matches into definitions, imports and chunks for one file."""

    def __init__(self, spec: LanguageSpec, source: bytes) -> None:
        self.spec = spec
        self.source = source
        self.body_field = spec.language.field_id_for_name("body")
        self.comment = spec.entry.comment.encode()
        self.comment_ids = spec.comment_ids
        self.wrapper_ids = spec.wrapper_ids
        self.attribute_ids = spec.attribute_ids
        self.lines = source.split(b"\n")
        self.definitions: list[Definition] = []
        # Per definition or scope, for chunking: (first row with its comments and decorators,
        # last row, qualname, kind, parent entry index or -1, child entry indexes)
        self.entries: list[tuple[int, int, str, str, int, list[int]]] = []
        # statement start byte -> [line, {pos: spec}, {pos: name}, level, is `mod x;`]
        self._imports: dict[int, list[Any]] = {}

    # -- matches -------------------------------------------------------------------------
    def add_matches(self, matches: list[tuple[int, dict[str, list[Node]]]]) -> None:
        roles = self.spec.roles
        found: list[tuple[int, int, int, int, str, Node, dict[str, list[Node]]]] = []
        append = found.append
        for seq, (pattern, caps) in enumerate(matches):
            role, capture, kind = roles[pattern]
            if role in (ROLE_DEFINITION, ROLE_SCOPE):
                nodes = caps.get(capture)
                if nodes:
                    node = nodes[0]
                    append((node.start_byte, -node.end_byte, pattern, seq, kind, node, caps))
            elif role == ROLE_IMPORT:
                self._add_import(caps)
        # Outer before inner, then the first pattern of the query file for the same node (the
        # unique match number ends every comparison before it reaches the nodes).
        found.sort()
        self._add_definitions(found)

    def _add_import(self, caps: dict[str, list[Node]]) -> None:
        stmt = caps["import"][0]
        rec = self._imports.get(stmt.start_byte)
        if rec is None:
            rec = self._imports[stmt.start_byte] = [stmt.start_point[0], {}, {}, 0, False]
        source = self.source
        for n in caps.get("import.spec", ()):
            rec[1][n.start_byte] = _strip_spec(_text(source, n))
        for n in caps.get("import.relative", ()):
            text = _text(source, n).strip()
            rest = text.lstrip(".")
            rec[3] = len(text) - len(rest)
            rec[1][n.start_byte] = rest.strip()
        for n in caps.get("import.mod", ()):
            rec[1][n.start_byte] = _text(source, n).strip()
            rec[4] = True
        for n in caps.get("import.name", ()):
            rec[2][n.start_byte] = " ".join(_text(source, n).split())

    def imports(self) -> list[Import]:
        out = []
        for _pos, (line, specs, names, level, is_mod) in sorted(self._imports.items()):
            listed = ("<mod>",) if is_mod else tuple(names[k] for k in sorted(names))
            for pos in sorted(specs):
                out.append(Import(specs[pos], line, listed, level))
        return out

    def _add_definitions(
        self, found: list[tuple[int, int, int, int, str, Node, dict[str, list[Node]]]]
    ) -> None:
        source = self.source
        lines = self.lines
        entries = self.entries
        definitions = self.definitions
        leading = self._leading
        signature_of = self._signature
        # open naming scopes: (start byte, end byte, qualname, kind, entry index)
        stack: list[tuple[int, int, str, str, int]] = []
        seen: set[tuple[int, int, str]] = set()
        for start, neg_end, _pattern, _seq, kind, node, caps in found:
            end = -neg_end
            while stack and (
                stack[-1][1] <= start or (stack[-1][0] == start and stack[-1][1] == end)
            ):
                stack.pop()
            name_nodes = caps.get("scope.name" if kind == "scope" else "name")
            if not name_nodes or len(stack) >= MAX_NESTING:
                continue
            name = _text(source, name_nodes[0]).strip()
            if not name:
                continue
            key = (start, end, name)
            if key in seen:
                continue  # another pattern for the same definition: the first one won
            seen.add(key)
            parent = stack[-1] if stack else None
            prefix = parent[2] if parent else ""
            receiver = caps.get("receiver")
            if receiver:
                recv = _text(source, receiver[0]).strip().replace("::", ".")
                prefix = f"{prefix}.{recv}" if prefix and recv else prefix or recv
            qualname = f"{prefix}.{name}" if prefix else name
            if kind == "function" and parent is not None and parent[3] in _METHOD_OWNERS:
                kind = "method"
            sp = node.start_point
            ep = node.end_point
            end_row = ep[0] - 1 if ep[1] == 0 and ep[0] > sp[0] else ep[0]
            first_row, doc = leading(node, sp[0], caps.get("doc"))
            index = len(entries)
            parent_index = parent[4] if parent else -1
            entries.append((first_row, end_row, qualname, kind, parent_index, []))
            if parent_index >= 0:
                entries[parent_index][5].append(index)
            if kind in _NAMING:
                stack.append((start, end, qualname, kind, index))
            if kind == "scope":
                continue
            end_col = ep[1] if end_row == ep[0] else len(lines[end_row])
            signature = signature_of(node, start, caps.get("body"))
            definitions.append(
                Definition(name, kind, qualname, sp[0], sp[1], end_row, end_col, signature, doc)
            )

    @staticmethod
    def _end_row(node: Node) -> int:
        """The last line a node is on: one that ends with its newline ends on the line before."""
        row, col = node.end_point
        return row - 1 if col == 0 and row > node.start_point[0] else row

    def _signature(self, node: Node, start: int, body_caps: list[Node] | None) -> str:
        """The header up to the body (or the first line), whitespace collapsed."""
        source = self.source
        if body_caps:
            body: Node | None = body_caps[0]
        elif self.body_field is not None:
            body = node.child_by_field_id(self.body_field)
        else:
            body = None
        if body is not None and body.start_byte > start:
            end = body.start_byte
        else:
            end = source.find(b"\n", start, node.end_byte)
            if end < 0:
                end = node.end_byte
        header = source[start : min(end, start + 4 * SIGNATURE_CHARS)]
        marker = self.comment
        if marker in header and b"\n" in header:  # comment lines are not part of a header
            header = b" ".join(
                ln for ln in header.split(b"\n") if not ln.lstrip().startswith(marker)
            )
        text = " ".join(header.decode("utf-8", errors="replace").split())
        return text.rstrip(" {:;").rstrip()[:SIGNATURE_CHARS]

    def _leading(self, node: Node, row: int, doc_caps: list[Node] | None) -> tuple[int, str | None]:
        """The first row of the definition's chunk (wrappers, attributes and its comment
        included) and its doc: the `@doc` capture, else the comment right above."""
        comment_ids = self.comment_ids
        anchor = node
        prev = node.prev_named_sibling
        # Climb out of wrappers (decorators, `export`) and of parents that start where the
        # definition starts, unless it is not the first of its group (`const (A = 1; B = 2)`)
        # or a comment sits right inside.
        kind_id = -1
        while True:
            if prev is not None:
                pid = prev.kind_id
                if pid in comment_ids:
                    break
                if kind_id < 0:
                    kind_id = node.kind_id
                if pid == kind_id:
                    break
            parent = anchor.parent
            if parent is None or (
                parent.kind_id not in self.wrapper_ids and parent.start_byte != anchor.start_byte
            ):
                break
            anchor, prev = parent, parent.prev_named_sibling
        top = row if anchor is node else anchor.start_point[0]
        comments: list[Node] = []
        while prev is not None:
            pid = prev.kind_id
            if pid in self.attribute_ids:
                if top - self._end_row(prev) > 1:
                    break
                top = prev.start_point[0]
                prev = prev.prev_named_sibling
                continue
            if pid not in comment_ids or top - self._end_row(prev) > 1:
                break
            before = prev.prev_named_sibling
            row = prev.start_point[0]
            if before is not None and before.end_point[0] == row:
                break  # a trailing comment of the code before it
            head = self.source[prev.start_byte : prev.start_byte + 3]
            if head.startswith((b"//!", b"/*!")) or head == b"#!/":
                break  # inner docs and shebangs describe the file
            comments.append(prev)
            top = row
            prev = before
        if doc_caps:
            doc = _first_line(_text(self.source, doc_caps[0]))
        elif comments:
            doc = _first_line("\n".join(_text(self.source, c) for c in reversed(comments)))
        else:
            doc = None
        return top, doc

    # -- chunks --------------------------------------------------------------------------
    def chunks(self, root: Node) -> list[Chunk]:
        """Top-level definitions as chunks (big class-likes by member), the statements
        between them as windows of at most CHUNK_WINDOW_LINES lines; no line in two chunks."""
        entries = self.entries
        spans: list[tuple[int, int, str]] = []

        def emit(i: int) -> None:  # recursion is bounded by MAX_NESTING
            first, last, qualname, kind, _parent, children = entries[i]
            kids = [c for c in children if entries[c][3] != "constant"]
            if last - first + 1 > SPLIT_CLASS_LINES and kind in _CONTAINERS and kids:
                head_end = min(entries[kids[0]][0] - 1, first + CHUNK_WINDOW_LINES - 1)
                if head_end >= first:
                    spans.append((first, head_end, qualname))
                for c in kids:
                    emit(c)
            else:
                spans.append((first, last, qualname))

        for i, e in enumerate(entries):
            if e[4] < 0 and e[3] != "constant":
                emit(i)
        spans.sort(key=lambda span: (span[0], -span[1]))  # the outer of two at one line
        ends = sorted({self._end_row(c) for c in root.children})
        out: list[Chunk] = []
        covered = -1
        for first, last, qualname in spans:
            if last <= covered:
                continue  # inside an earlier chunk
            first = max(first, covered + 1)
            self._windows(covered + 1, first - 1, ends, out)
            text = self._slice(first, last)
            out.append(Chunk(first, last, text, "definition", qualname, _bag(text)))
            covered = last
        self._windows(covered + 1, len(self.lines) - 1, ends, out)
        return out

    def _slice(self, first: int, last: int) -> str:
        return b"\n".join(self.lines[first : last + 1]).decode("utf-8", errors="replace")

    def _windows(self, a: int, b: int, ends: list[int], out: list[Chunk]) -> None:
        """Rows a..b as windows that end where a top-level statement ends when one does
        within reach; blank edges trimmed, windows without identifiers dropped."""
        lines = self.lines
        i = a
        while i <= b:
            while i <= b and not lines[i].strip():
                i += 1
            if i > b:
                return
            limit = i + CHUNK_WINDOW_LINES - 1
            if limit >= b:
                j = b
            else:
                k = bisect_right(ends, limit) - 1
                j = ends[k] if k >= 0 and ends[k] >= i else limit
            last = j
            while last > i and not lines[last].strip():
                last -= 1
            text = self._slice(i, last)
            bag = _bag(text)
            if bag:
                out.append(Chunk(i, last, text, "window", None, bag))
            i = j + 1
