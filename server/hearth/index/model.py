"""What the index knows about one file: plain data passed from extraction to the store.

Lines are 0-based; columns are 0-based UTF-8 byte offsets within the line, as tree-sitter
gives them (the LSP layer converts to UTF-16 with the document text at hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Kinds of definitions, the same names in every language's query file.
KINDS = (
    "function",
    "method",
    "class",
    "struct",
    "interface",
    "trait",
    "enum",
    "type",
    "constant",
    "module",
)


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str
    qualname: str  # enclosing scopes and the name joined by ".", e.g. "Stack.push"
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    signature: str  # the header up to the body, whitespace-normalised ("def push(self, item)")
    doc: str | None = None  # first line of the docstring or of the comment right above

    @property
    def scope(self) -> str:
        """The enclosing scopes only ("Stack" for "Stack.push"; "" at top level)."""
        return self.qualname.rpartition(".")[0]


@dataclass(frozen=True)
class Import:
    spec: str  # the module or path as written: "os.path", "./util", "crate::a::b", "fmt"
    line: int
    names: tuple[str, ...] = ()  # names imported from it, when the syntax lists them
    level: int = 0  # Python relative import level (number of leading dots)


@dataclass(frozen=True)
class Chunk:
    start_line: int
    end_line: int  # inclusive
    text: str
    kind: str  # "definition" or "window"
    name: str | None = None  # the definition's qualname for definition chunks
    idents: str = ""  # the identifier bag, space-separated (computed where the text is parsed)


@dataclass
class FileSymbols:
    language: str
    definitions: list[Definition] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    error: str | None = None  # why extraction was partial (e.g. parse timeout), if it was
