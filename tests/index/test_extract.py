"""Extraction per language: the fixture workspace file by file, then snippets, chunks and
input that must not break the extractor."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hearth.index.extract import MAX_NESTING, extract, identifiers
from hearth.index.languages import all_languages, language_for_path
from hearth.index.model import KINDS, FileSymbols

WS = Path(__file__).resolve().parents[1] / "fixtures" / "workspace"

# file -> every definition, in source order: (qualname, kind, signature start, doc)
DEFINITIONS: dict[str, list[tuple[str, str, str, str | None]]] = {
    "py/app.py": [
        ("DEFAULT_RADIUS", "constant", "DEFAULT_RADIUS = 2.0", None),
        ("main", "function", "def main() -> None", None),
    ],
    "py/pkg/__init__.py": [],
    "py/pkg/shapes.py": [
        ("MAX_SIDE", "constant", "MAX_SIDE = 1000", None),
        ("Number", "type", "Number: TypeAlias = float", None),
        ("Shape", "class", "class Shape", "Base class of all shapes."),
        ("Shape.area", "method", "def area(self) -> float", "Area in square units."),
        ("Circle", "class", "class Circle(Shape)", "A circle given by its radius."),
        ("Circle.__init__", "method", "def __init__(self, radius: float) -> None", None),
        ("Circle.area", "method", "def area(self) -> float", None),
        (
            "Circle.diameter",
            "method",
            "def diameter(self) -> Number",
            "The distance across, through the centre.",
        ),
        ("Square", "class", "class Square(Shape)", None),
        ("Square.__init__", "method", "def __init__(self, side: float)", None),
        ("Square.area", "method", "def area(self) -> float", None),
        (
            "circle_from_diameter",
            "function",
            "def circle_from_diameter(diameter: float) -> Circle",
            "Build a circle from its diameter.",
        ),
    ],
    "py/pkg/util.py": [
        ("clamp", "function", "def clamp(value: float,", "Limit value to [low, high]."),
    ],
    "js/src/index.js": [
        ("Report", "class", "class Report", None),
        ("Report.constructor", "method", "constructor(title)", None),
        ("Report.render", "method", "render(value)", None),
        ("main", "function", "function main()", None),
    ],
    "js/src/util.js": [
        ("PRECISION", "constant", "PRECISION = 2", "Formatting helpers."),
        ("formatNumber", "function", "function formatNumber(value)", "Round a number for display."),
        ("double", "function", "double = (x) =>", None),
    ],
    "ts/src/index.ts": [
        ("greet", "function", "function greet(user: User): string", None),
        ("store", "constant", "store = new UserStore()", None),
    ],
    "ts/src/models.ts": [
        ("User", "interface", "interface User", "A user account."),
        ("UserId", "type", 'type UserId = User["id"]', None),
        ("Role", "enum", "enum Role", None),
        ("DEFAULT_ROLE", "constant", "DEFAULT_ROLE = Role.Member as Role", None),
        ("UserStore", "class", "class UserStore", "Store of users in memory."),
        ("UserStore.add", "method", "add(user: User): void", None),
        ("UserStore.find", "method", "find(id: UserId): User | undefined", None),
    ],
    "ts/src/view.tsx": [
        ("UserCard", "function", "function UserCard(props: { user: User })", None),
        ("render", "function", "render = (u: User) =>", None),
    ],
    "go/main.go": [("main", "function", "func main()", None)],
    "go/geom/geom.go": [
        (
            "Pi",
            "constant",
            "Pi = math.Pi",
            "Pi is the ratio of a circle's circumference to its diameter.",
        ),
        ("Shape", "interface", "Shape interface", "Shape is anything with an area."),
        ("Shape.Area", "method", "Area() float64", None),
        ("Circle", "struct", "Circle struct", "Circle is a round shape."),
        (
            "Circle.Area",
            "method",
            "func (c *Circle) Area() float64",
            "Area returns the circle's area.",
        ),
        ("NewCircle", "function", "func NewCircle(r float64) *Circle", "NewCircle makes a circle."),
    ],
    "rust/src/main.rs": [("main", "function", "fn main()", None)],
    "rust/src/geom.rs": [
        ("MAX_RADIUS", "constant", "pub const MAX_RADIUS: f64", "The largest radius accepted."),
        ("Shape", "trait", "pub trait Shape", "A shape with an area."),
        ("Shape.area", "method", "fn area(&self) -> f64", None),
        ("Circle", "struct", "pub struct Circle", "A circle."),
        ("Circle.new", "method", "pub fn new(radius: f64) -> Self", "Make a circle."),
        ("Circle.area", "method", "fn area(&self) -> f64", None),
        ("Kind", "enum", "pub enum Kind", None),
    ],
    "java/src/com/example/App.java": [
        ("App", "class", "public class App", None),
        ("App.main", "method", "public static void main(String[] args)", None),
    ],
    "java/src/com/example/geom/Circle.java": [
        ("Circle", "class", "public class Circle implements Shape", "A circle."),
        ("Circle.MAX_RADIUS", "constant", "public static final double MAX_RADIUS", None),
        ("Circle.Circle", "method", "public Circle(double radius)", None),
        ("Circle.area", "method", "@Override public double area()", "The area."),
    ],
    "java/src/com/example/geom/Shape.java": [
        ("Shape", "interface", "public interface Shape", "A shape with an area."),
        ("Shape.area", "method", "double area()", None),
    ],
    "c/geom.h": [
        ("MAX_RADIUS", "constant", "#define MAX_RADIUS 1000.0", None),
        ("circle", "struct", "struct circle", "A circle."),
        ("circle_t", "type", "typedef struct circle circle_t", None),
        ("circle_area", "function", "double circle_area(const circle_t *c)", None),
    ],
    "c/main.c": [
        ("SCALE", "constant", "static const double SCALE = 2.0", None),
        ("circle_area", "function", "double circle_area(const circle_t *c)", "Area of a circle."),
        ("main", "function", "int main(void)", None),
    ],
    "cpp/shape.hpp": [
        ("geo", "module", "namespace geo", None),
        ("geo.Shape", "class", "class Shape", "A shape with an area."),
        ("geo.Shape.~Shape", "method", "virtual ~Shape() = default", None),
        ("geo.Shape.area", "method", "virtual double area() const = 0", None),
        ("geo.Circle", "class", "class Circle : public Shape", None),
        ("geo.Circle.Circle", "method", "explicit Circle(double r)", None),
        ("geo.Circle.area", "method", "double area() const override", None),
        ("geo.Radius", "type", "using Radius = double", None),
    ],
    "cpp/main.cpp": [
        ("geo", "module", "namespace geo", None),
        ("geo.Circle.area", "method", "double Circle::area() const", None),
        ("main", "function", "int main()", None),
    ],
    "other/tool.rb": [
        ("VERSION", "constant", 'VERSION = "1.0"', None),
        ("Tools", "module", "module Tools", None),
        ("Tools.Greeter", "class", "class Greeter", "Greets people."),
        ("Tools.Greeter.greet", "method", "def greet(name)", None),
    ],
    "other/helper.rb": [("helper_value", "method", "def helper_value", None)],
    "other/Program.cs": [
        ("Company.App", "module", "namespace Company.App", None),
        ("Company.App.Program", "class", "public class Program", "Entry point."),
        ("Company.App.Program.Main", "method", "public static void Main(string[] args)", None),
    ],
    "other/index.php": [
        ("VERSION", "constant", 'VERSION = "1.0"', None),
        ("greet", "function", "function greet(User $u): string", "Greets a user."),
        ("Greeter", "class", "class Greeter", None),
        ("Greeter.greet", "method", "public function greet(string $name): string", None),
    ],
    "other/helpers.php": [("helper", "function", "function helper(): int", None)],
    "other/build.sh": [
        ("OUT_DIR", "constant", "OUT_DIR=dist", None),
        ("build", "function", "build()", None),
    ],
    "other/lib.sh": [("log", "function", "log()", None)],
    "other/init.lua": [
        ("M.greet", "function", "function M.greet(name)", "Greets someone."),
        ("M.shout", "method", "function M:shout(name)", None),
        ("private_helper", "function", "local function private_helper()", None),
    ],
    "other/util.lua": [("U.upper", "function", "function U.upper(s)", None)],
}

# file -> every import, in source order: (spec, names, level)
IMPORTS: dict[str, list[tuple[str, tuple[str, ...], int]]] = {
    "py/app.py": [("pkg.shapes", ("Circle", "circle_from_diameter"), 0), ("pkg", (), 0)],
    "py/pkg/__init__.py": [("shapes", ("Circle", "Square"), 1)],
    "py/pkg/shapes.py": [
        ("math", (), 0),
        ("typing", ("TypeAlias",), 0),
        ("", ("util",), 1),
        ("util", ("clamp",), 1),
    ],
    "py/pkg/util.py": [],
    "js/src/index.js": [("./util", ("formatNumber", "double"), 0), ("path", (), 0)],
    "js/src/util.js": [],
    "ts/src/index.ts": [
        ("./models", ("UserStore", "User", "DEFAULT_ROLE"), 0),
        ("./view", ("render",), 0),
    ],
    "ts/src/models.ts": [],
    "ts/src/view.tsx": [("./models", ("User",), 0)],
    "go/main.go": [("fmt", (), 0), ("example.com/geo/geom", (), 0)],
    "go/geom/geom.go": [("math", (), 0)],
    "rust/src/main.rs": [
        ("geom", ("<mod>",), 0),
        ("crate::geom", ("Circle", "Shape"), 0),
        ("std::fmt", (), 0),
    ],
    "rust/src/geom.rs": [],
    "java/src/com/example/App.java": [
        ("com.example.geom.Circle", (), 0),
        ("com.example.geom", ("*",), 0),
        ("java.util.List", (), 0),
    ],
    "java/src/com/example/geom/Circle.java": [],
    "c/main.c": [("geom.h", (), 0)],  # <stdio.h> is a system header: not an import
    "c/geom.h": [],
    "cpp/main.cpp": [("shape.hpp", (), 0)],
    "cpp/shape.hpp": [],
    "other/tool.rb": [("./helper", (), 0)],
    "other/Program.cs": [("System", (), 0), ("Company.Geom", (), 0)],
    "other/index.php": [("App\\Models\\User", (), 0), ("helpers.php", (), 0)],
    "other/build.sh": [("./lib.sh", (), 0)],
    "other/init.lua": [("util", (), 0)],
}

FIXTURE_FILES = sorted(
    p.relative_to(WS).as_posix()
    for p in WS.rglob("*")
    if p.is_file()
    and language_for_path(p.name)
    and not {"node_modules", "ignored_build"} & set(p.parts)
)


def _extract(rel: str) -> FileSymbols:
    lang = language_for_path(rel)
    assert lang is not None, rel
    result = extract((WS / rel).read_bytes(), lang)
    assert result.error is None, result.error
    return result


def test_every_fixture_file_has_expectations() -> None:
    assert set(FIXTURE_FILES) == set(DEFINITIONS)
    assert set(IMPORTS) <= set(FIXTURE_FILES)
    covered = {language_for_path(rel) for rel in FIXTURE_FILES}
    assert covered == set(all_languages())


@pytest.mark.parametrize("rel", sorted(DEFINITIONS))
def test_definitions(rel: str) -> None:
    got = _extract(rel).definitions
    assert [d.qualname for d in got] == [q for q, *_ in DEFINITIONS[rel]]
    for d, (qualname, kind, sig, doc) in zip(got, DEFINITIONS[rel], strict=True):
        assert (d.kind, d.doc) == (kind, doc), qualname
        assert d.signature.startswith(sig), (qualname, d.signature)
        assert d.name == qualname.rpartition(".")[2]
        assert d.kind in KINDS
        assert (d.start_line, d.start_col) <= (d.end_line, d.end_col)
        assert len(d.signature) <= 200 and "\n" not in d.signature


@pytest.mark.parametrize("rel", sorted(IMPORTS))
def test_imports(rel: str) -> None:
    got = [(i.spec, i.names, i.level) for i in _extract(rel).imports]
    assert got == IMPORTS[rel]


def test_positions_are_zero_based_lines_and_byte_columns() -> None:
    defs = {d.qualname: d for d in _extract("py/pkg/shapes.py").definitions}
    circle = defs["Circle"]
    assert (circle.start_line, circle.start_col, circle.end_line) == (20, 0, 32)
    assert (defs["Circle.diameter"].start_line, defs["Circle.diameter"].start_col) == (31, 4)
    # A #define node ends with its newline: it still ends on its own line.
    macro = _extract("c/geom.h").definitions[0]
    assert (macro.start_line, macro.end_line) == (3, 3)
    lines = [i.line for i in _extract("go/main.go").imports]
    assert lines == [3, 5]


@pytest.mark.parametrize("rel", FIXTURE_FILES)
def test_chunks_cover_lines_once_with_exact_text(rel: str) -> None:
    source = (WS / rel).read_text(encoding="utf-8")
    lines = source.split("\n")
    result = _extract(rel)
    covered: set[int] = set()
    for c in result.chunks:
        span = set(range(c.start_line, c.end_line + 1))
        assert not covered & span, f"line(s) {sorted(covered & span)} in two chunks"
        covered |= span
        assert c.text == "\n".join(lines[c.start_line : c.end_line + 1])
        assert c.kind in ("definition", "window")
        assert c.end_line - c.start_line < 40 or c.kind == "definition"
        assert c.idents == " ".join(dict.fromkeys(identifiers(c.text)))
    for i, line in enumerate(lines):
        if identifiers(line):
            assert i in covered, f"line {i} {line!r} is in no chunk"
    top = [d for d in result.definitions if "." not in d.qualname and d.kind != "constant"]
    named = {c.name for c in result.chunks if c.kind == "definition"}
    assert {d.qualname for d in top} <= named


def test_a_definition_chunk_starts_with_its_comment_and_decorators() -> None:
    chunks = {c.name: c for c in _extract("go/geom/geom.go").chunks if c.kind == "definition"}
    assert chunks["Circle.Area"].text.startswith("// Area returns the circle's area.\nfunc")
    src = b"import x\n\n# Cached.\n@functools.cache\n@other\ndef f():\n    return 1\n"
    (chunk,) = [c for c in extract(src, "python").chunks if c.kind == "definition"]
    assert (chunk.start_line, chunk.end_line, chunk.name) == (2, 6, "f")


def test_a_big_class_is_chunked_by_member() -> None:
    body = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(40))
    src = f'class Big:\n    """Many methods."""\n    LIMIT = 3\n\n{body}x = Big()\n'.encode()
    chunks = extract(src, "python").chunks
    names = [(c.name, c.start_line, c.end_line) for c in chunks if c.kind == "definition"]
    assert names[0] == ("Big", 0, 3)  # the class header up to its first member
    assert [n for n, *_ in names[1:]] == [f"Big.m{i}" for i in range(40)]
    assert chunks[-1].kind == "window" and chunks[-1].text == "x = Big()"
    small = extract(b"class Small:\n    def m(self):\n        pass\n", "python").chunks
    assert [(c.kind, c.name) for c in small] == [("definition", "Small")]


def test_windows_group_top_level_statements_without_cutting_them() -> None:
    table = "TABLE = {\n" + "".join(f"    'k{i}': {i},\n" for i in range(30)) + "}\n"
    src = "".join(f"a{i} = {i}\n" for i in range(25)) + table + "b = 1\n\n\ndef f():\n    pass\n"
    chunks = extract(src.encode(), "python").chunks
    windows = [(c.start_line, c.end_line) for c in chunks if c.kind == "window"]
    assert windows == [(0, 24), (25, 57)]  # TABLE (lines 25-56) is not cut in two
    long = "".join(f"v{i} = {i}\n" for i in range(100)).encode()
    spans = [(c.start_line, c.end_line) for c in extract(long, "python").chunks]
    assert spans == [(0, 39), (40, 79), (80, 99)]


# language -> snippet, then the (qualname, kind) pairs and imports it must give
SNIPPETS: list[tuple[str, str, list[tuple[str, str]], list[tuple[str, tuple[str, ...], int]]]] = [
    (
        "python",
        "from __future__ import annotations\n"
        "import os.path as osp, sys\n"
        "from ..core.base import (Base as B, helper)\n"
        "from . import *\n"
        "type Vec = list[float]\n"
        "lower_case = 1\n"
        "_PRIVATE_LIMIT = 2\n"
        "x = 1  # trailing comment, not a doc\n"
        "def outer():\n"
        "    CONST = 3\n"
        "    def inner():\n"
        "        pass\n"
        "    class Local:\n"
        "        async def run(self): pass\n",
        [
            ("Vec", "type"),
            ("_PRIVATE_LIMIT", "constant"),
            ("outer", "function"),
            ("outer.inner", "function"),
            ("outer.Local", "class"),
            ("outer.Local.run", "method"),
        ],
        [
            ("os.path", (), 0),
            ("sys", (), 0),
            ("core.base", ("Base", "helper"), 2),
            ("", ("*",), 1),
        ],
    ),
    (
        "javascript",
        'import Def, * as ns from "./a";\n'
        'export * from "./b";\n'
        'export { x as y } from "./c";\n'
        'const { one, two: renamed } = require("./d");\n'
        'const lazy = import("./e");\n'
        "const app = express();\n"
        "let notConst = 5;\n"
        "exports.handler = async function (req) {};\n"
        "class A extends B { #secret() {} static make = () => new A(); }\n"
        "function* gen() {}\n",
        [
            ("app", "constant"),
            ("handler", "function"),
            ("A", "class"),
            ("A.#secret", "method"),
            ("A.make", "method"),
            ("gen", "function"),
        ],
        [
            ("./a", ("Def", "*"), 0),
            ("./b", (), 0),
            ("./c", ("x",), 0),
            ("./d", ("one", "two"), 0),
            ("./e", (), 0),
        ],
    ),
    (
        "typescript",
        'import type { T } from "./t";\n'
        'import fs = require("fs");\n'
        "export default abstract class Repo<T> { abstract get(id: string): T; }\n"
        "export interface Named { name(): string }\n"
        "declare function ambient(a: number): void;\n"
        "namespace NS { export const inner = () => 1; }\n"
        'declare module "ext" {}\n'
        "export type Id = string | number;\n"
        "export enum Dir { Up }\n",
        [
            ("Repo", "class"),
            ("Repo.get", "method"),
            ("Named", "interface"),
            ("Named.name", "method"),
            ("ambient", "function"),
            ("NS", "module"),
            ("NS.inner", "function"),
            ("ext", "module"),
            ("Id", "type"),
            ("Dir", "enum"),
        ],
        [("./t", ("T",), 0), ("fs", (), 0)],
    ),
    (
        "go",
        "package p\n"
        'import (\n\tf "fmt"\n\t_ "embed"\n)\n'
        "// Limits.\nconst (\n\tLow = 1\n\tHigh = 2\n)\n"
        "var notConst = 3\n"
        "type Pair[K comparable, V any] struct{ k K }\n"
        "type Alias = Pair[int, int]\n"
        "type Handler func(int) error\n"
        "func (p *Pair[K, V]) Key() K { return p.k }\n"
        "func local() { const inner = 1 }\n",
        [
            ("Low", "constant"),
            ("High", "constant"),
            ("Pair", "struct"),
            ("Alias", "type"),
            ("Handler", "type"),
            ("Pair.Key", "method"),
            ("local", "function"),
        ],
        [("fmt", (), 0), ("embed", (), 0)],
    ),
    (
        "rust",
        "use std::{fmt, io::{self, Write}};\n"
        "use a::b as c;\n"
        "use super::*;\n"
        "extern crate serde;\n"
        "mod tests;\n"
        "pub mod inline { pub fn f() {} }\n"
        "/// Documented.\n#[derive(Debug)]\npub union U { a: u32 }\n"
        "pub static COUNT: u32 = 0;\n"
        "pub type Res<T> = Result<T, ()>;\n"
        "macro_rules! m { () => {} }\n"
        "impl<T: Clone> Tr for Wrapper<T> { type Out = T; fn go(&self) {} }\n",
        [
            ("inline", "module"),
            ("inline.f", "function"),
            ("U", "struct"),
            ("COUNT", "constant"),
            ("Res", "type"),
            ("m", "function"),
            ("Wrapper.Out", "type"),
            ("Wrapper.go", "method"),
        ],
        [
            ("std", ("fmt", "io"), 0),
            ("a::b", (), 0),
            ("super", ("*",), 0),
            ("serde", (), 0),
            ("tests", ("<mod>",), 0),
        ],
    ),
    (
        "java",
        "import static java.lang.Math.max;\n"
        "class A {\n"
        "  static final int X = 1, Y = 2;\n"
        "  private static int mutable = 3;\n"
        "  interface I { int K = 5; void h(); }\n"
        "  enum E { P; void g() {} }\n"
        "  record R(int x) {}\n"
        "  @interface Ann { String value(); }\n"
        "}\n",
        [
            ("A", "class"),
            ("A.X", "constant"),
            ("A.Y", "constant"),
            ("A.I", "interface"),
            ("A.I.K", "constant"),
            ("A.I.h", "method"),
            ("A.E", "enum"),
            ("A.E.g", "method"),
            ("A.R", "class"),
            ("A.Ann", "interface"),
            ("A.Ann.value", "method"),
        ],
        [("java.lang.Math.max", (), 0)],
    ),
    (
        "c",
        '#include "local.h"\n#include <stdlib.h>\n'
        "#define GUARD_H\n#define SQUARE(x) ((x) * (x))\n"
        "const char *const NAMES[] = {0};\n"
        "int mutable_global = 1;\n"
        "typedef struct point { int x; } point_t;\n"
        "typedef int (*callback)(int);\n"
        "enum color { RED };\n"
        "char **split(const char *s);\n"
        "static int helper(void) { const int local = 1; return local; }\n",
        [
            ("SQUARE", "function"),
            ("NAMES", "constant"),
            ("point_t", "type"),
            ("point", "struct"),
            ("callback", "type"),
            ("color", "enum"),
            ("split", "function"),
            ("helper", "function"),
        ],
        [("local.h", (), 0)],
    ),
    (
        "cpp",
        "namespace a::b {\n"
        "template <typename T> class Box {\n"
        "  static constexpr int N = 3;\n"
        "  bool operator==(const Box&) const;\n"
        "};\n"
        "constexpr double PI = 3.14;\n"
        "template <typename T> T Box<T>::get() const { return T(); }\n"
        "}\n"
        'extern "C" { void c_api(); }\n',
        [
            ("a.b", "module"),
            ("a.b.Box", "class"),
            ("a.b.Box.N", "constant"),
            ("a.b.Box.operator==", "method"),
            ("a.b.PI", "constant"),
            ("a.b.Box.get", "method"),
            ("c_api", "function"),
        ],
        [],
    ),
    (
        "ruby",
        'require "json"\nrequire_relative("lib/x")\nload "not_an_import.rb"\n'
        "module Outer::Inner\n  LIMIT = 3\n  class Thing < Base\n"
        "    def self.build; end\n    def call(x) = x\n  end\nend\n",
        [
            ("Outer.Inner", "module"),
            ("Outer.Inner.LIMIT", "constant"),
            ("Outer.Inner.Thing", "class"),
            ("Outer.Inner.Thing.build", "method"),
            ("Outer.Inner.Thing.call", "method"),
        ],
        [("json", (), 0), ("lib/x", (), 0)],
    ),
    (
        "csharp",
        "using static System.Math;\nusing Geo = Company.Geom.Square;\n"
        "namespace A.B {\n"
        "  public record Rec(int X);\n"
        "  struct S { public const int K = 1; static readonly int R = 2; }\n"
        "  interface I { void M(); }\n"
        "  enum E { V }\n"
        "  delegate void D(int x);\n"
        "}\n",
        [
            ("A.B", "module"),
            ("A.B.Rec", "class"),
            ("A.B.S", "struct"),
            ("A.B.S.K", "constant"),
            ("A.B.I", "interface"),
            ("A.B.I.M", "method"),
            ("A.B.E", "enum"),
            ("A.B.D", "type"),
        ],
        [("System.Math", (), 0), ("Company.Geom.Square", (), 0)],
    ),
    (
        "php",
        "<?php\nuse App\\Models\\{Post, Tag as T};\nuse Lib\\Thing as Other;\n"
        'include_once("inc.php");\ndefine("LIMIT", 10);\nconst A = 1, B = 2;\n'
        "interface I { public function m(); }\ntrait Tr { function t() {} }\n"
        "enum Suit: string { case H = 'h'; }\nnamespace Blk { function inside() {} }\n",
        [
            ("LIMIT", "constant"),
            ("A", "constant"),
            ("B", "constant"),
            ("I", "interface"),
            ("I.m", "method"),
            ("Tr", "trait"),
            ("Tr.t", "method"),
            ("Suit", "enum"),
            ("Blk", "module"),
            ("Blk.inside", "function"),
        ],
        [("App\\Models", ("Post", "Tag"), 0), ("Lib\\Thing", (), 0), ("inc.php", (), 0)],
    ),
    (
        "bash",
        '. "$DIR/common.sh"\nsource "$(dirname "$0")/x.sh"\n'
        "readonly RO=1\nlower=2\nfunction build { echo; }\nf() {\n  INNER=1\n}\n",
        [("RO", "constant"), ("build", "function"), ("f", "function")],
        [("$DIR/common.sh", (), 0), ('$(dirname "$0")/x.sh', (), 0)],
    ),
    (
        "lua",
        'local json = require "cjson"\nlocal M = {}\n'
        "local f = function() end\nM.g = function(x) return x end\n"
        "function a.b.c() end\n",
        [("f", "function"), ("M.g", "function"), ("a.b.c", "function")],
        [("cjson", (), 0)],
    ),
]


@pytest.mark.parametrize(
    ("language", "source", "defs", "imports"), SNIPPETS, ids=[s[0] for s in SNIPPETS]
)
def test_snippets(
    language: str,
    source: str,
    defs: list[tuple[str, str]],
    imports: list[tuple[str, tuple[str, ...], int]],
) -> None:
    result = extract(source.encode(), language)
    assert result.error is None
    assert [(d.qualname, d.kind) for d in result.definitions] == defs
    assert [(i.spec, i.names, i.level) for i in result.imports] == imports


def test_docs_come_from_the_adjacent_comment_only() -> None:
    src = (
        b"// Header of the file.\n\n"
        b"/**\n * Summary line.\n * @param x more\n */\nfunction a(x) {}\n"
        b"// Separated by a blank line.\n\nfunction b() {}\n"
        b"let y = 1; // trailing\nfunction c() {}\n"
    )
    docs = {d.name: d.doc for d in extract(src, "javascript").definitions}
    assert docs == {"a": "Summary line.", "b": None, "c": None}
    rust = b"//! Crate docs.\nfn f() {}\n/** Block doc. */\n#[inline]\nfn g() {}\n"
    assert [d.doc for d in extract(rust, "rust").definitions] == [None, "Block doc."]
    py = b'def f():\n    r"""\n    Raw docstring, first line.\n    """\n'
    assert extract(py, "python").definitions[0].doc == "Raw docstring, first line."


def test_signature_is_capped_and_single_line() -> None:
    params = ", ".join(f"argument_{i}: int" for i in range(60))
    src = f"def f(\n    {params},\n) -> None:\n    pass\n".encode()
    (d,) = extract(src, "python").definitions
    assert d.signature.startswith("def f( argument_0: int, argument_1: int")
    assert len(d.signature) == 200


def test_deeply_nested_definitions_stop_at_the_nesting_limit() -> None:
    depth = 300
    src = "".join(f"function f{i}() {{\n" for i in range(depth)) + "}\n" * depth
    result = extract(src.encode(), "javascript")
    assert result.error is None
    assert len(result.definitions) == MAX_NESTING
    assert result.definitions[-1].qualname.count(".") == MAX_NESTING - 1


BAD_INPUTS = {
    "invalid-utf8": b"\xff\xfe def broken(:\n\xc3\x28 class {\n\x80\x81",
    "nul-bytes": b"\x00" * 500 + b"def f(): pass\nfunction g() {}\n" + b"\x00" * 500,
    "deep-parens": b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
    "deep-brackets": b"y = " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deep-braces": b"{" * 5000 + b"}" * 5000,
    "unclosed": b"[" * 5000,
    "operators": b"x" + b" +" * 5000,
    "empty": b"",
    "binary": bytes(range(256)) * 40,
}


@pytest.mark.parametrize("language", all_languages())
@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_never_raises(language: str, name: str) -> None:
    start = time.perf_counter()
    result = extract(BAD_INPUTS[name], language, timeout_ms=300)
    assert result.language == language
    assert time.perf_counter() - start < 3
    for c in result.chunks:
        assert c.start_line <= c.end_line


def test_text_is_decoded_leniently_and_line_endings_are_kept() -> None:
    src = b"def caf\xe9():\r\n    return '\xff'\r\n"
    result = extract(src, "python")
    assert result.error is None
    assert result.definitions[0].signature.startswith("def caf")
    assert result.chunks[0].text == "def caf\ufffd():\r\n    return '\ufffd'\r"
    assert extract(bytearray(b"def f(): pass\n"), "python").definitions[0].name == "f"  # type: ignore[arg-type]


def test_a_50000_line_file_is_fast() -> None:
    body = "".join(f"    y{j} = x * {j}\n" for j in range(7))
    src = "".join(
        f'def f{i}(x):\n    """Doc {i}."""\n{body}    return x\n\n' for i in range(5000)
    ).encode()
    assert src.count(b"\n") == 55000
    start = time.perf_counter()
    result = extract(src, "python")
    elapsed = time.perf_counter() - start
    assert result.error is None and len(result.definitions) == 5000
    assert len(result.chunks) == 5000
    assert elapsed < 1.5, f"{elapsed:.2f} s"


def test_limits_and_failures_are_reported_not_raised() -> None:
    too_big = extract(b"x = 1\n" * 100, "python", max_bytes=10)
    assert too_big.error is not None and "limit" in too_big.error
    assert too_big.definitions == [] and too_big.chunks == []
    unknown = extract(b"x", "cobol")
    assert unknown.error is not None and unknown.language == "cobol"
    slow = extract(b"[" * 500_000, "lua", timeout_ms=50)
    assert slow.error is not None and "timed out" in slow.error
    irregular = extract(b"[" * 50_000, "python")  # would take seconds to query
    assert irregular.error is not None and irregular.definitions == []


def test_syntax_errors_still_give_what_parses() -> None:
    src = b"def good():\n    pass\n\ndef broken(:\n\nclass Fine:\n    pass\n"
    result = extract(src, "python")
    assert result.error is None
    assert {"good", "Fine"} <= {d.name for d in result.definitions}


def test_identifier_bag_drops_keywords_and_short_names() -> None:
    assert identifiers("def area(self, r): return math.pi * r") == ["area", "math", "pi"]
    assert identifiers("x1 = 0x1f + 2e10 + café") == ["x1", "x1f", "e10", "caf"]
    assert identifiers("") == []
