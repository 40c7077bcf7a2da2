"""A candidate piece of context from one source, and the text measures sources share."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from hearth.index.extract import identifiers

# Sources in the order their parts appear in the prompt (cross-file material first).
DEFINITION = "definition"
SIMILAR = "similar"
RECENT_EDIT = "recent-edit"
SCOPE = "scope"
PREFIX = "prefix"
SUFFIX = "suffix"
CROSS_FILE_SOURCES = (DEFINITION, SIMILAR, RECENT_EDIT)
IMPORTS = "imports"  # the name of a definition snippet listing the names imported from a file

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Snippet:
    """Code from `path` lines `start_line`..`end_line` (0-based, inclusive) worth showing."""

    source: str
    path: str
    start_line: int
    end_line: int
    text: str  # the code as it will be shown (before the layout adds headers)
    score: float  # higher is more useful; comparable within a source
    name: str | None = None  # the definition's qualname, for definitions

    @property
    def key(self) -> str:
        """Identity across builds: same place and same text."""
        digest = hashlib.blake2b(self.text.encode("utf-8"), digest_size=6).hexdigest()
        return f"{self.source}:{self.path}:{self.start_line}:{self.end_line}:{digest}"

    def overlaps(self, other: Snippet) -> bool:
        """Same file, overlapping lines (a block of imported headers overlaps nothing)."""
        if IMPORTS in (self.name, other.name):
            return False
        return (
            self.path == other.path
            and self.start_line <= other.end_line
            and other.start_line <= self.end_line
        )


# Languages whose files can use each other's definitions.
_FAMILY = {"typescript": "js", "tsx": "js", "javascript": "js", "c": "c", "cpp": "c"}


def family(language: str | None) -> str | None:
    return _FAMILY.get(language, language) if language else None


def family_of_path(path: str) -> str | None:
    from hearth.index.languages import language_for_path

    return family(language_for_path(path))


def ident_set(text: str) -> frozenset[str]:
    return frozenset(identifiers(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def norm_lines(text: str) -> set[str]:
    """Non-trivial lines with whitespace squeezed, to spot code the model already sees."""
    out = set()
    for line in text.split("\n"):
        squeezed = _WS.sub(" ", line).strip()
        if len(squeezed) > 3:
            out.add(squeezed)
    return out


def duplicated_share(text: str, seen: set[str]) -> float:
    """The share of `text`'s non-trivial lines already present in `seen`."""
    lines = norm_lines(text)
    if not lines:
        return 1.0
    return len(lines & seen) / len(lines)
