"""Definitions the code at the cursor refers to, resolved through the workspace index.

Two kinds of candidates: for each identifier near the cursor (closest first), its definition
rendered in full when short, else as an outline (header, doc line, members); and for each
imported workspace file, one compact block with the headers of the names imported from it,
which is what the next line most often calls.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearth.context.receivers import (
    CLASS_HEADER,
    SELF_NAMES,
    attribute_type,
    class_bases,
    enclosing_class,
    header_rest,
    receiver_chain,
    return_type,
    variable_type,
)
from hearth.context.snippet import DEFINITION, IMPORTS, Snippet, family
from hearth.index.extract import identifiers
from hearth.index.model import Definition
from hearth.index.redact import redact
from hearth.index.store import DefinitionHit, content_hash

if TYPE_CHECKING:
    from hearth.index.indexer import Indexer

log = logging.getLogger(__name__)

SHORT_LINES = 12  # a definition this short is shown whole
NEAR_LINES = 30  # identifiers are taken from this many lines around the cursor
MAX_IDENTS = 40
MAX_HITS = 20
AMBIGUOUS = 4  # more definitions than this, none in an imported file: too unsure to show
MAX_MEMBERS = 30
MAX_IMPORTED_NAMES = 24
HEADER_LINES = 4
RECEIVER_SCORE = 3.0  # the receiver's class outranks every name looked up on its own
RECEIVER_MEMBERS = 60
CLASS_KINDS = frozenset({"class", "struct", "interface", "trait", "enum"})

_COMMENT_LINE = re.compile(r"^\s*(?://|#|/\*\*?|\*|--)")
# Prose around the code: docstrings, strings and comments. A word in them names no
# definition the code uses (a docstring's "sample" fetched every `sample` in the workspace).
_PROSE = re.compile(
    r'"""[\s\S]*?(?:"""|$)|\'\'\'[\s\S]*?(?:\'\'\'|$)'
    r'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\''
    r"|(?<![\w$])#(?![\w\[!]).*|//.*|/\*[\s\S]*?(?:\*/|$)"
)


def code_only(text: str) -> str:
    """`text` without its comments and string literals (a cheap lexer, for lookups only)."""
    return _PROSE.sub(" ", text)


class SourceLines:
    """Lines of workspace files by path, cached while their indexed content hash holds."""

    def __init__(self, indexer: Indexer, entries: int = 256) -> None:
        self.indexer = indexer
        self.entries = entries
        self._cache: OrderedDict[str, tuple[str, list[str]]] = OrderedDict()

    def get(self, path: str) -> list[str] | None:
        record = self.indexer.store.file(path)
        if record is None:
            return None
        hit = self._cache.get(path)
        if hit is not None and hit[0] == record.hash:
            self._cache.move_to_end(path)
            return hit[1]
        text = self.indexer.buffers.get(path)
        if text is None:
            try:
                text = (self.indexer.root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
        lines = redact(text).split("\n")
        self._cache[path] = (record.hash, lines)
        if len(self._cache) > self.entries:
            self._cache.popitem(last=False)
        return lines


def _header(lines: list[str], start: int) -> list[str]:
    """The definition's header: its first line, and more while brackets stay open."""
    out = []
    depth = 0
    for i in range(start, min(len(lines), start + HEADER_LINES)):
        line = lines[i].rstrip("\r")
        out.append(line)
        depth += line.count("(") + line.count("[") - line.count(")") - line.count("]")
        if depth <= 0:
            break
    return out


def _doc_comment_above(lines: list[str], start: int) -> list[str]:
    out: list[str] = []
    i = start - 1
    while i >= 0 and len(out) < 4 and _COMMENT_LINE.match(lines[i]) and lines[i].strip():
        out.append(lines[i].rstrip("\r"))
        i -= 1
    # Decorators directly above belong to the definition too.
    out.reverse()
    return out


def _body_indent(header: str) -> str:
    lead = header[: len(header) - len(header.lstrip(" \t"))]
    return lead + ("\t" if "\t" in lead else "    ")


def direct_members(d: Definition, members: list[Definition]) -> list[Definition]:
    """The members one level inside `d` (its methods and fields, not theirs)."""
    prefix = d.qualname + "."
    return [
        m
        for m in members
        if m.qualname.startswith(prefix)
        and "." not in m.qualname[len(prefix) :]
        and d.start_line <= m.start_line <= d.end_line
    ]


def render_definition(
    d: Definition,
    lines: list[str],
    members: list[Definition],
    comment: str,
    *,
    max_members: int = MAX_MEMBERS,
    outline: bool = False,
) -> str:
    """Whole when short; else header, doc line, member headers and an elision comment."""
    start = max(0, min(d.start_line, len(lines) - 1))
    end = max(start, min(d.end_line, len(lines) - 1))
    above = _doc_comment_above(lines, start)
    if end - start + 1 <= SHORT_LINES and not (outline and d.kind in CLASS_KINDS):
        body = [ln.rstrip("\r") for ln in lines[start : end + 1]]
        return "\n".join(above + body) + "\n"
    header = _header(lines, start)
    inner = _body_indent(header[0])
    out = above + header
    if d.doc and not above:
        out.append(f"{inner}{comment} {d.doc}")
    if d.kind in CLASS_KINDS:
        shown = 0
        for m in direct_members(d, members):
            if shown >= max_members:
                break
            if 0 <= m.start_line < len(lines):
                out.append(lines[m.start_line].rstrip("\r"))
                shown += 1
    out.append(f"{inner}{comment} ...")
    if header[-1].rstrip().endswith("{"):
        out.append(header[0][: len(header[0]) - len(header[0].lstrip(" \t"))] + "}")
    return "\n".join(out) + "\n"


def near_identifiers(lines: list[str], row: int, col: int) -> tuple[list[str], str]:
    """Identifiers around the cursor, closest first, and the partial word at the cursor."""
    head = lines[row][:col]
    partial_match = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", head)
    partial = partial_match.group(0) if partial_match else ""
    before_text = "\n".join(
        [*lines[max(0, row - NEAR_LINES) : row], head[: len(head) - len(partial)]]
    )
    after_text = "\n".join([lines[row][col:], *lines[row + 1 : row + 4]])
    before = list(reversed(identifiers(code_only(before_text))))
    after = identifiers(code_only(after_text))
    out: dict[str, None] = {}
    # Mostly what comes before the cursor; a little of what follows it.
    ai = 0
    for i, name in enumerate(before):
        out.setdefault(name, None)
        if i % 4 == 3 and ai < len(after):
            out.setdefault(after[ai], None)
            ai += 1
    for name in after[ai:]:
        out.setdefault(name, None)
    return list(out)[:MAX_IDENTS], partial


@dataclass
class _FileInfo:
    hash: str
    imported_files: set[str]
    imported_names: dict[str, set[str]]  # name -> files it is imported from
    import_groups: list[tuple[str, list[str]]]  # (file, names) in import order


class DefinitionSource:
    """Finds definition candidates; caches per-file facts keyed by content hash."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer
        self.sources = SourceLines(indexer)
        self._files: OrderedDict[str, _FileInfo] = OrderedDict()
        self._members: OrderedDict[tuple[str, str], list[Definition]] = OrderedDict()
        self.truncated = False  # the last `candidates` call ran out of time

    def _file_info(self, relpath: str) -> _FileInfo | None:
        record = self.indexer.store.file(relpath)
        if record is None:
            return None
        info = self._files.get(relpath)
        if info is not None and info.hash == record.hash:
            return info
        files: set[str] = set()
        names: dict[str, set[str]] = {}
        groups: dict[str, list[str]] = {}
        for imp, targets in self.indexer.resolved_imports(relpath):
            for target in targets:
                if target == relpath:
                    continue
                files.add(target)
                group = groups.setdefault(target, [])
                for name in imp.names:
                    names.setdefault(name, set()).add(target)
                    if name not in group:
                        group.append(name)
        info = _FileInfo(record.hash, files, names, list(groups.items()))
        self._files[relpath] = info
        if len(self._files) > 64:
            self._files.popitem(last=False)
        return info

    def _members_of(self, path: str) -> list[Definition]:
        record = self.indexer.store.file(path)
        key = (path, record.hash if record else "")
        hit = self._members.get(key)
        if hit is None:
            hit = self.indexer.store.symbols_of(path)
            self._members[key] = hit
            if len(self._members) > 128:
                self._members.popitem(last=False)
        return hit

    def candidates(
        self,
        relpath: str | None,
        text: str,
        lines: list[str],
        row: int,
        col: int,
        visible: tuple[int, int],
        comment: str,
        deadline: float | None,
        language: str | None = None,
    ) -> list[Snippet]:
        """Definition snippets, best first. `visible` is the local window's line range."""
        store = self.indexer.store
        info = self._file_info(relpath) if relpath else None
        current_fresh = info is not None and info.hash == content_hash(
            text.encode("utf-8", "surrogatepass")
        )
        imported_files = info.imported_files if info else set()
        imported_names = info.imported_names if info else {}
        here = relpath.rpartition("/")[0] if relpath else None
        out: list[Snippet] = []
        taken: set[tuple[str, int]] = set()
        kin = family(language)
        idents, partial = near_identifiers(lines, row, col)
        lookups: list[tuple[str, bool]] = [(name, False) for name in idents]
        if len(partial) >= 3:
            lookups.insert(0, (partial, True))
        self.truncated = False
        for rank, (name, is_partial) in enumerate(lookups):
            if deadline is not None and time.monotonic() > deadline:
                self.truncated = True
                break
            hits = (
                store.definitions_with_prefix(name, limit=MAX_HITS)
                if is_partial
                else store.definitions(name, limit=MAX_HITS)
            )
            scored: list[tuple[float, str, Definition]] = []
            # A name the current file defines itself shadows same-named definitions elsewhere
            # (they would be noise, e.g. every other `main`), unless imported by that name.
            shadowed = relpath is not None and any(h.path == relpath for h in hits)
            for hit in hits:
                d = hit.definition
                if family(hit.language) != kin:
                    continue
                if (
                    shadowed
                    and hit.path != relpath
                    and hit.path not in imported_names.get(name, ())
                ):
                    continue
                if hit.path == relpath:
                    if not current_fresh or visible[0] <= d.start_line <= visible[1]:
                        continue
                    weight = 1.0
                elif name in imported_names and hit.path in imported_names[name]:
                    weight = 2.0
                elif hit.path in imported_files:
                    weight = 1.6
                elif here is not None and hit.path.rpartition("/")[0] == here:
                    weight = 1.2
                else:
                    weight = 0.8
                scored.append((weight, hit.path, d))
            if not scored:
                continue
            scored.sort(key=lambda s: -s[0])
            best = scored[0][0]
            tied = [s for s in scored if s[0] == best]
            if best < 1.6 and len(tied) > AMBIGUOUS:
                continue
            proximity = 1.0 / (1.0 + 0.1 * rank)
            for weight, path, d in tied[:2]:
                if (path, d.start_line) in taken:
                    continue
                snippet = self._snippet(path, d, comment, weight * proximity / len(tied) ** 0.5)
                if snippet is not None:
                    taken.add((path, d.start_line))
                    out.append(snippet)
        chain = receiver_chain(lines[row][:col]) if 0 <= row < len(lines) else None
        if chain is not None and not (deadline is not None and time.monotonic() > deadline):
            at = {(s.path, s.start_line): i for i, s in enumerate(out)}
            for snippet in self._receiver_snippets(
                relpath, lines, row, chain[0], kin, imported_files, comment
            ):
                place = (snippet.path, snippet.start_line)
                if place in at:  # the receiver's fuller outline replaces a shorter one
                    out[at[place]] = snippet
                elif place not in taken:
                    taken.add(place)
                    out.append(snippet)
        if info is not None:
            out.extend(self._import_groups(info, comment, deadline))
        out.sort(key=lambda s: -s.score)
        return out

    def _classes(self, name: str, kin: str | None, imported: set[str]) -> list[DefinitionHit]:
        """Class-like definitions named `name`, those in imported files first."""
        hits = [
            h
            for h in self._lookup(name)
            if h.definition.kind in CLASS_KINDS | {"type"} and family(h.language) == kin
        ]
        hits.sort(key=lambda h: h.path not in imported)
        return hits[:2]

    def _lookup(self, name: str) -> list[DefinitionHit]:
        return self.indexer.store.definitions(name, limit=MAX_HITS)

    def _member_type(self, hit: DefinitionHit, attr: str) -> str | None:
        """The class `attr` of class `hit` holds or (for `attr()`) returns."""
        call = attr.endswith("()")
        attr = attr.removesuffix("()").lstrip("#")
        d = hit.definition
        for m in direct_members(d, self._members_of(hit.path)):
            if m.name.lstrip("#") == attr:
                found = return_type(m.signature)
                if found or call:
                    return found
        if call:
            return None
        lines = self.sources.get(hit.path)
        return attribute_type(lines, d.start_line, d.end_line, attr) if lines else None

    def _receiver_snippets(
        self,
        relpath: str | None,
        lines: list[str],
        row: int,
        chain: list[str],
        kin: str | None,
        imported: set[str],
        comment: str,
    ) -> list[Snippet]:
        """Outlines of the class the receiver before the cursor's `.` has, and its bases."""
        first = chain[0]
        rest = chain[1:]
        types: list[str] = []
        if first in SELF_NAMES:
            enclosing = enclosing_class(lines, row)
            if enclosing is None:
                return []
            header, _name, bases = enclosing
            if rest:
                attr = rest[0].removesuffix("()").lstrip("#")
                found = attribute_type(lines, header, len(lines) - 1, attr)
                if found is None:
                    return []
                types, rest = [found], rest[1:]
            else:
                types = bases
        elif first[:1].isupper() and not first.endswith("()"):
            types = [first]
        else:
            found = variable_type(lines, row, first.removesuffix("()"))
            if found is None:
                return []
            types = [found]
        for attr in rest:
            hits = self._classes(types[0], kin, imported) if types else []
            found = self._member_type(hits[0], attr) if hits else None
            if found is None:
                return []
            types = [found]
        out: list[Snippet] = []
        for rank, name in enumerate(types[:3]):
            for hit in self._classes(name, kin, imported)[:1]:
                if hit.path == relpath:
                    continue
                snippet = self._snippet(
                    hit.path, hit.definition, comment, RECEIVER_SCORE / (1 + rank), outline=True
                )
                if snippet is not None:
                    out.append(snippet)
                header_lines = self.sources.get(hit.path) or []
                start = hit.definition.start_line
                m = (
                    CLASS_HEADER.match(header_lines[start])
                    if 0 <= start < len(header_lines)
                    else None
                )
                header_tail = header_rest(header_lines, start, m.group(3)) if m else ""
                for base in class_bases(header_tail)[:2]:
                    for bhit in self._classes(base, kin, imported)[:1]:
                        if bhit.path == relpath:
                            continue
                        snippet = self._snippet(
                            bhit.path,
                            bhit.definition,
                            comment,
                            RECEIVER_SCORE / (2 + rank),
                            outline=True,
                        )
                        if snippet is not None:
                            out.append(snippet)
        return out

    def _snippet(
        self, path: str, d: Definition, comment: str, score: float, *, outline: bool = False
    ) -> Snippet | None:
        lines = self.sources.get(path)
        if lines is None:
            return None
        members = self._members_of(path) if d.kind in CLASS_KINDS else []
        text = render_definition(
            d,
            lines,
            members,
            comment,
            max_members=RECEIVER_MEMBERS if outline else MAX_MEMBERS,
            outline=outline,
        )
        return Snippet(DEFINITION, path, d.start_line, d.end_line, text, score, d.qualname)

    def _import_groups(
        self, info: _FileInfo, comment: str, deadline: float | None
    ) -> Iterable[Snippet]:
        """One block per imported file: the headers of the names imported from it."""
        n = len(info.import_groups)
        for i, (path, names) in enumerate(info.import_groups):
            if not names or (deadline is not None and time.monotonic() > deadline):
                continue
            lines = self.sources.get(path)
            if lines is None:
                continue
            wanted = set(names[:MAX_IMPORTED_NAMES])
            defs = [d for d in self._members_of(path) if d.name in wanted and "." not in d.qualname]
            if not defs:
                continue
            shown: list[str] = []
            for d in defs:
                if 0 <= d.start_line < len(lines):
                    shown.extend(_header(lines, d.start_line))
                    if d.doc:
                        shown.append(f"{_body_indent(shown[-1])}{comment} {d.doc}")
            text = "\n".join(shown) + "\n"
            first = min(d.start_line for d in defs)
            last = max(d.end_line for d in defs)
            score = 0.3 * (1.0 - i / (n + 1))
            yield Snippet(DEFINITION, path, first, last, text, score, IMPORTS)
