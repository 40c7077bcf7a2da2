"""What the expression before a `.` at the cursor refers to, read from the unsaved text.

Most names a completion needs after the first few characters of a line are members reached
through a receiver (`self.console.print`, `this.#client.getQueryCache`), and the index cannot
look those up by name alone: many classes have a `print`. So the receiver's class is worked out
from the text the way a reader would, without a type checker: `self`/`this` is the enclosing
class (and its bases), an attribute or variable has the type its annotation or constructor call
gives it. Only class names come out of here; the definition source resolves them in the index.
"""

from __future__ import annotations

import re

SCAN_LINES = 400  # how far above the cursor a variable's declaration is looked for
SELF_NAMES = frozenset({"self", "this", "cls"})

_CHAIN = re.compile(r"((?:[A-Za-z_$#][\w$]*(?:\(\))?\??\.)+)([A-Za-z_$]\w*)?$")
CLASS_HEADER = re.compile(
    r"^(\s*)(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)(.*)$"
)
_TYPE_NAME = re.compile(r"[A-Z][\w$]*")
_SKIP_TYPES = frozenset(
    {
        "Optional",
        "Union",
        "List",
        "Dict",
        "Set",
        "Tuple",
        "Type",
        "Iterable",
        "Sequence",
        "Mapping",
        "Callable",
        "Any",
        "ClassVar",
        "Final",
        "Array",
        "Promise",
        "Record",
        "Partial",
        "Readonly",
        "ReadonlyArray",
        "Map",
        "Iterator",
        "Generator",
        "Awaitable",
        "None",
        "Literal",
        "Annotated",
        "Generic",
        "Protocol",
        "Object",
        "NamedTuple",
        "TypedDict",
    }
)


def receiver_chain(head: str) -> tuple[list[str], str] | None:
    """(`["self", "console"]`, partial) for a cursor line ending in `self.console.pri`;
    None when the cursor is not after a member access. Calls are kept as `name()`."""
    m = _CHAIN.search(head)
    if m is None:
        return None
    parts = [p.rstrip("?") for p in m.group(1).split(".") if p]
    parts = [p for p in parts if p]
    if not parts:
        return None
    return parts, m.group(2) or ""


def type_names(annotation: str) -> list[str]:
    """Class-like names in a type annotation, generic wrappers left out
    (`Optional["Console"]` -> ["Console"], `Map<string, Query>` -> ["Query"])."""
    out: list[str] = []
    for name in _TYPE_NAME.findall(annotation):
        leaf = name.rsplit(".", 1)[-1]
        if leaf not in _SKIP_TYPES and leaf not in out:
            out.append(leaf)
    return out


def class_bases(rest: str) -> list[str]:
    """Base classes from what follows a class name in its header line:
    `(JupyterMixin, Base)` in Python, `extends A<T> implements B` in TypeScript."""
    rest = rest.strip()
    if rest.startswith("<"):  # type parameters of a TypeScript class
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "<"
            depth -= ch == ">"
            if depth == 0:
                rest = rest[i + 1 :].strip()
                break
    if rest.startswith("("):
        inner = rest[1 : rest.rfind(")")] if ")" in rest else rest[1:]
        names = []
        for arg in inner.split(","):
            arg = arg.strip()
            if not arg or "=" in arg:  # metaclass=..., total=False
                continue
            m = re.match(r"[A-Za-z_][\w.]*", arg)
            if m:
                names.append(m.group(0).rsplit(".", 1)[-1])
        return [n for n in names if n not in _SKIP_TYPES and n != "object"]
    names = []
    while True:  # generic arguments hold commas and names that are no bases
        bare = re.sub(r"<[^<>]*>", "", rest)
        if bare == rest:
            break
        rest = bare
    for m in re.finditer(r"\b(?:extends|implements)\s+([^{]+)", rest):
        for part in re.split(r",|\bimplements\b", m.group(1)):
            word = re.match(r"\s*([A-Za-z_$][\w$.]*)", part)
            if word:
                names.append(word.group(1).rsplit(".", 1)[-1])
    return names


def enclosing_class(lines: list[str], row: int) -> tuple[int, str, list[str]] | None:
    """(header line, name, bases) of the class whose body holds line `row`: the nearest
    class header above with less indentation than some line between it and the cursor."""
    row = min(row, len(lines) - 1)
    probe = row
    while probe >= 0 and not lines[probe].strip():
        probe -= 1
    if probe < 0:
        return None
    if probe != row:
        m = CLASS_HEADER.match(lines[probe])
        if m:  # a blank line right under a class header: inside its body
            return probe, m.group(2), class_bases(header_rest(lines, probe, m.group(3)))
    indent = len(lines[probe]) - len(lines[probe].lstrip())
    for n in range(probe - 1, -1, -1):
        line = lines[n]
        stripped = line.lstrip()
        if not stripped:
            continue
        ind = len(line) - len(stripped)
        if ind >= indent:
            continue
        m = CLASS_HEADER.match(line)
        if m:
            return n, m.group(2), class_bases(header_rest(lines, n, m.group(3)))
        if stripped[0] in ">)]" or (stripped[0] == "}" and stripped.rstrip().endswith("{")):
            continue  # the end of a header split over lines (`> extends Base {`)
        indent = ind
        if ind == 0:
            return None
    return None


def header_rest(lines: list[str], n: int, rest: str) -> str:
    """What follows the class name, joined over the lines of a header split over several."""
    out = rest
    i = n
    while not re.search(r"[{:]\s*(?:#.*|//.*)?$", out) and i + 1 < len(lines) and i < n + 12:
        i += 1
        out += " " + lines[i].strip()
    return out


def _declared_type(line: str, name: str, owner: bool) -> str | None:
    """The class a line gives `name`: an annotation (`name: T`, `self.name: T`,
    `private name: T`) or a constructor call (`name = T(...)`, `this.name = new T(`)."""
    pre = r"(?:\b(?:self|this)\.)" if owner else r"(?<![\w.$#])"
    esc = "#?" + re.escape(name.lstrip("#"))
    m = re.search(pre + esc + r"\??\s*:\s*([^=;{]+)", line)
    if m and not line.lstrip().startswith(("return", "case")):
        found = type_names(m.group(1))
        if found:
            return found[0]
    m = re.search(
        pre + esc + r"\s*=\s*(?:[\w.$#]+\s*(?:or|\?\?|\|\|)\s*)?(?:new\s+|await\s+)?"
        r"([A-Z][\w$.]*)\s*[(<]",
        line,
    )
    if m:
        return m.group(1).rsplit(".", 1)[-1]
    return None


def assigned_from(line: str, name: str) -> str | None:
    """`other` in `self.name = other` (or `this.name = other`), else None."""
    m = re.search(
        r"\b(?:self|this)\.#?" + re.escape(name.lstrip("#")) + r"\s*=\s*([A-Za-z_$][\w$]*)\b", line
    )
    return m.group(1) if m else None


def variable_type(lines: list[str], row: int, name: str) -> str | None:
    """The class of local variable or parameter `name` used at line `row`."""
    for n in range(row, max(-1, row - SCAN_LINES), -1):
        line = lines[n]
        if name not in line:
            continue
        found = _declared_type(line, name, owner=False)
        if found:
            return found
    return None


def attribute_type(lines: list[str], first: int, last: int, name: str) -> str | None:
    """The class that lines `first`..`last` (a class body) give attribute `name`:
    `self.name: T`, `self.name = T(...)`, a class-level `name: T`, `#name: T` or `private
    name: T` field."""
    last = min(last, len(lines) - 1)
    for n in range(max(0, first), last + 1):
        line = lines[n]
        if name not in line:
            continue
        found = _declared_type(line, name, owner=True) or (
            _declared_type(line, name, owner=False)
            if re.match(r"\s*(?:(?:private|public|protected|readonly|static)\s+)*[#\w$]", line)
            and not re.match(r"\s*(?:def|function|return|if|for|while)\b", line)
            else None
        )
        if found:
            return found
        source = assigned_from(line, name)
        if source is not None and source not in SELF_NAMES:
            found = variable_type(lines, n, source)
            if found:
                return found
    return None


def return_type(signature: str) -> str | None:
    """The class a function's signature says it returns (`-> T`, `): T`)."""
    m = re.search(r"->\s*(.+)$", signature) or re.search(r"\)\s*:\s*([^{=]+)", signature)
    if not m:
        return None
    found = type_names(m.group(1))
    return found[0] if found else None
