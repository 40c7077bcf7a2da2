"""Languages as data: `languages.toml` names each grammar wheel and query file.

Nothing here imports tree-sitter or a grammar until a language is asked for, so start-up
stays fast and a missing grammar wheel costs only its own language (logged once).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, NamedTuple

from hearth._toml import tomllib
from hearth.index.model import KINDS

if TYPE_CHECKING:
    import tree_sitter

log = logging.getLogger(__name__)

# What a query pattern is for, read once from the pattern's own text (see queries/README.md).
ROLE_NONE, ROLE_DEFINITION, ROLE_SCOPE, ROLE_IMPORT = range(4)
_CAPTURE = re.compile(r"@([A-Za-z_][\w.\-]*)")


@dataclass(frozen=True)
class LanguageEntry:
    """One `languages.toml` entry: enough to map files and label snippets without a grammar."""

    name: str
    extensions: tuple[str, ...]
    module: str
    function: str
    comment: str
    query_file: str
    wrappers: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()


class PatternRole(NamedTuple):
    """A tuple, so extraction unpacks it in one step per match."""

    role: int  # ROLE_*
    capture: str = ""  # the capture on the whole node: "definition.function", "scope.impl"
    kind: str = ""  # the definition kind, or "scope"


@dataclass(frozen=True)
class LanguageSpec:
    """A loaded language: grammar, compiled query and what each of its patterns captures."""

    entry: LanguageEntry
    language: tree_sitter.Language
    query: tree_sitter.Query
    roles: tuple[PatternRole, ...]
    # Node kind ids (cheaper to read from a node than its type name) of comments, and of the
    # entry's wrappers and attributes.
    comment_ids: frozenset[int] = frozenset()
    wrapper_ids: frozenset[int] = frozenset()
    attribute_ids: frozenset[int] = frozenset()

    @property
    def name(self) -> str:
        return self.entry.name

    def parser(self) -> tree_sitter.Parser:
        """A fresh parser: parsers hold per-parse state, so each thread or call needs its own."""
        import tree_sitter

        return tree_sitter.Parser(self.language)


def _strings(raw: object) -> tuple[str, ...]:
    return tuple(str(v) for v in raw) if isinstance(raw, list) else ()


@cache
def _entries() -> dict[str, LanguageEntry]:
    text = (files("hearth.index") / "languages.toml").read_text(encoding="utf-8")
    out: dict[str, LanguageEntry] = {}
    for name, raw in tomllib.loads(text).items():
        out[name] = LanguageEntry(
            name=name,
            extensions=tuple(e.lower() for e in _strings(raw["extensions"])),
            module=str(raw["module"]),
            function=str(raw.get("function", "language")),
            comment=str(raw.get("comment", "#")),
            query_file=str(raw.get("query", f"{name}.scm")),
            wrappers=frozenset(_strings(raw.get("wrappers"))),
            attributes=frozenset(_strings(raw.get("attributes"))),
        )
    return out


@cache
def _by_extension() -> dict[str, str]:
    return {ext: e.name for e in _entries().values() for ext in e.extensions}


def all_languages() -> list[str]:
    """Every configured language, whether or not its grammar is installed."""
    return list(_entries())


def all_extensions() -> list[str]:
    return list(_by_extension())


def entry(name: str) -> LanguageEntry:
    """The TOML entry alone (no grammar import); KeyError for an unknown language."""
    return _entries()[name]


def language_for_path(path: str) -> str | None:
    ext = os.path.splitext(path)[1].lower()
    return _by_extension().get(ext) if ext else None


def _roles(query: tree_sitter.Query, source: str, where: str) -> tuple[PatternRole, ...]:
    """Classify each pattern by its capture names, so extraction dispatches on the pattern
    index instead of scanning capture names per match."""
    data = source.encode("utf-8")
    roles = []
    for i in range(query.pattern_count):
        text = data[query.start_byte_for_pattern(i) : query.end_byte_for_pattern(i)]
        names = _CAPTURE.findall(text.decode("utf-8"))
        role = PatternRole(ROLE_NONE)
        for cap in names:
            if cap.startswith("definition."):
                kind = cap.partition(".")[2]
                if kind not in KINDS:
                    raise ValueError(f"{where}: unknown definition kind {kind!r}")
                role = PatternRole(ROLE_DEFINITION, cap, kind)
                break
            if cap == "import":
                role = PatternRole(ROLE_IMPORT, cap)
                break
            if cap.startswith("scope.") and cap != "scope.name":
                role = PatternRole(ROLE_SCOPE, cap, "scope")
                break
        roles.append(role)
    return tuple(roles)


# Languages that failed to load, with why: not retried, and logged once.
_unavailable: dict[str, str] = {}


def get_language(name: str) -> LanguageSpec:
    """The grammar and compiled query, loaded once. Raises KeyError for an unknown language
    and ImportError when the grammar or its query cannot be loaded (logged the first time)."""
    why = _unavailable.get(name)
    if why is not None:
        raise ImportError(why)
    try:
        return _load(name)
    except KeyError:
        raise
    except Exception as exc:  # a missing wheel, an incompatible grammar, a bad query
        why = f"language {name} is unavailable: {exc}"
        _unavailable[name] = why
        log.warning("%s", why)
        raise ImportError(why) from exc


@cache
def _load(name: str) -> LanguageSpec:
    import tree_sitter

    e = _entries()[name]
    module = importlib.import_module(e.module)
    language = tree_sitter.Language(getattr(module, e.function)())
    source = (files("hearth.index") / "queries" / e.query_file).read_text(encoding="utf-8")
    query = tree_sitter.Query(language, source)
    kinds = [(i, language.node_kind_for_id(i) or "") for i in range(language.node_kind_count)]
    return LanguageSpec(
        e,
        language,
        query,
        _roles(query, source, e.query_file),
        comment_ids=frozenset(i for i, k in kinds if "comment" in k),
        wrapper_ids=frozenset(i for i, k in kinds if k in e.wrappers),
        attribute_ids=frozenset(i for i, k in kinds if k in e.attributes),
    )


@cache
def available_languages() -> list[str]:
    """Languages whose grammar and query load here; the others are logged once and skipped."""
    out = []
    for name in _entries():
        try:
            get_language(name)
        except ImportError:
            continue
        out.append(name)
    return out
