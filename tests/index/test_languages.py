"""The language table: extension mapping, lazy grammar loading, query files that compile."""

from __future__ import annotations

import logging
import subprocess
import sys
from importlib.resources import files

import pytest

from hearth.index import languages
from hearth.index.extract import extract
from hearth.index.languages import (
    ROLE_DEFINITION,
    ROLE_IMPORT,
    LanguageEntry,
    all_extensions,
    all_languages,
    available_languages,
    entry,
    get_language,
    language_for_path,
)

EXPECTED = [
    *("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp"),
    *("ruby", "csharp", "php", "bash", "lua"),
]


def test_every_language_is_configured_and_loads() -> None:
    assert all_languages() == EXPECTED
    assert available_languages() == EXPECTED


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a.py", "python"),
        ("stubs/a.pyi", "python"),
        ("a.js", "javascript"),
        ("a.mjs", "javascript"),
        ("a.cjs", "javascript"),
        ("App.jsx", "javascript"),
        ("a.ts", "typescript"),
        ("types.d.ts", "typescript"),
        ("a.mts", "typescript"),
        ("a.cts", "typescript"),
        ("View.tsx", "tsx"),
        ("main.go", "go"),
        ("lib.rs", "rust"),
        ("App.java", "java"),
        ("main.c", "c"),
        ("geom.h", "c"),
        ("a.cc", "cpp"),
        ("a.cpp", "cpp"),
        ("a.cxx", "cpp"),
        ("a.hpp", "cpp"),
        ("a.hh", "cpp"),
        ("a.hxx", "cpp"),
        ("tool.rb", "ruby"),
        ("Program.cs", "csharp"),
        ("index.php", "php"),
        ("build.sh", "bash"),
        ("env.bash", "bash"),
        ("init.lua", "lua"),
        ("UPPER.PY", "python"),
        ("dir.with.dots/file.Go", "go"),
        ("README.md", None),
        ("Makefile", None),
        (".py", None),  # a dotfile named ".py" has no extension
        ("archive.tar.gz", None),
        ("", None),
    ],
)
def test_language_for_path(path: str, language: str | None) -> None:
    assert language_for_path(path) == language


def test_table_entries_are_complete() -> None:
    assert len(all_extensions()) == len(set(all_extensions()))
    queries = files("hearth.index") / "queries"
    for name in all_languages():
        e = entry(name)
        assert e.comment in ("#", "//", "--")
        assert e.module.startswith("tree_sitter_") and e.function.startswith("language")
        assert (queries / e.query_file).is_file(), e.query_file
        assert all(ext.startswith(".") and ext == ext.lower() for ext in e.extensions)
    assert entry("tsx").query_file == entry("typescript").query_file == "typescript.scm"
    assert (entry("tsx").module, entry("tsx").function) == (
        "tree_sitter_typescript",
        "language_tsx",
    )
    assert entry("php").function == "language_php"


@pytest.mark.parametrize("name", EXPECTED)
def test_grammar_query_and_parser(name: str) -> None:
    spec = get_language(name)
    assert get_language(name) is spec  # loaded once
    assert spec.name == name
    assert len(spec.roles) == spec.query.pattern_count
    roles = {r.role for r in spec.roles}
    assert {ROLE_DEFINITION, ROLE_IMPORT} <= roles
    tree = spec.parser().parse(b"x")
    assert tree.root_node is not None


def test_importing_the_table_loads_no_grammar() -> None:
    code = (
        "import sys\n"
        "import hearth.index.extract\n"
        "from hearth.index.languages import all_languages, entry, language_for_path\n"
        "assert language_for_path('a.py') == 'python' and entry('go').comment == '//'\n"
        "assert len(all_languages()) == 14\n"
        "print(sorted(m for m in sys.modules if m.startswith('tree_sitter')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_missing_grammar_is_skipped_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = languages._entries()
    ghost = LanguageEntry("ghost", (".ghost",), "tree_sitter_ghost_missing", "language", "#", "x")
    monkeypatch.setattr(languages, "_entries", lambda: {**real, "ghost": ghost})
    monkeypatch.setattr(languages, "_unavailable", {})
    with caplog.at_level(logging.WARNING, logger="hearth.index.languages"):
        names = available_languages.__wrapped__()
        with pytest.raises(ImportError, match="tree_sitter_ghost_missing"):
            get_language("ghost")  # not retried, not logged again
    assert "ghost" not in names and "python" in names
    assert caplog.text.count("ghost is unavailable") == 1
    assert "tree_sitter_ghost_missing" in caplog.text
    result = extract(b"x", "ghost")
    assert result.error is not None and "unavailable" in result.error
