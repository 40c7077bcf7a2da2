"""The SQLite store on its own: writes, queries, FTS upkeep, recovery."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from hearth.index.model import Chunk, Definition, FileSymbols, Import
from hearth.index.store import SCHEMA_VERSION, FileRecord, IndexStore, content_hash


def _defn(
    name: str, qualname: str | None = None, kind: str = "function", line: int = 0
) -> Definition:
    return Definition(
        name=name,
        kind=kind,
        qualname=qualname or name,
        start_line=line,
        start_col=0,
        end_line=line + 2,
        end_col=0,
        signature=f"def {name}()",
        doc=f"{name} docs",
    )


def _put(store: IndexStore, path: str, symbols: FileSymbols, *, fts: bool = True) -> None:
    data = path.encode()
    record = FileRecord(path, symbols.language, len(data), 1, content_hash(data), "disk", None)
    with store.transaction() as conn:
        store.put_file(conn, record, symbols, fts=fts)


def _shapes() -> FileSymbols:
    return FileSymbols(
        language="python",
        definitions=[
            _defn("Circle", kind="class", line=3),
            _defn("area", "Circle.area", kind="method", line=5),
            _defn("circle_from_diameter", line=10),
        ],
        imports=[Import("math", 0), Import("", 1, ("util",), level=1)],
        chunks=[
            Chunk(
                3,
                8,
                "class Circle:\n    def area(self):\n        return math.pi * self.r ** 2\n",
                "definition",
                "Circle",
            ),
            Chunk(
                10,
                12,
                "def circle_from_diameter(d):\n    return Circle(d / 2)\n",
                "definition",
                "circle_from_diameter",
            ),
        ],
    )


@pytest.fixture
def store() -> IndexStore:
    s = IndexStore(None)
    yield s
    s.close()


def test_exact_prefix_fuzzy_and_qualname_lookups(store: IndexStore) -> None:
    _put(store, "pkg/shapes.py", _shapes())
    assert [h.path for h in store.definitions("Circle")] == ["pkg/shapes.py"]
    assert store.definitions("Circle.area")[0].definition.kind == "method"
    assert {h.definition.name for h in store.definitions_with_prefix("circ")} == {
        "circle_from_diameter"
    }
    assert {h.definition.name for h in store.definitions_with_prefix("Circ")} == {"Circle"}
    fuzzy = store.definitions_fuzzy("circle_from_diamter")  # a typo
    assert fuzzy and fuzzy[0].definition.name == "circle_from_diameter"
    assert [d.name for d in store.symbols_of("pkg/shapes.py")] == [
        "Circle",
        "area",
        "circle_from_diameter",
    ]
    assert store.imports_of("pkg/shapes.py")[1] == Import("", 1, ("util",), level=1)


def test_similar_chunks_rank_by_shared_identifiers(store: IndexStore) -> None:
    _put(store, "pkg/shapes.py", _shapes())
    hits = store.similar_chunks("r = Circle(2)\nprint(r.area() * math.pi)")
    assert hits[0].chunk.name == "Circle"
    assert hits[0].score > 0
    assert store.similar_chunks("print(r.area())", exclude_path="pkg/shapes.py") == []


def test_rewriting_a_file_leaves_no_stale_rows(store: IndexStore) -> None:
    _put(store, "pkg/shapes.py", _shapes())
    _put(store, "pkg/shapes.py", FileSymbols("python", [_defn("Square", kind="class")]))
    assert store.definitions("Circle") == []
    assert store.definitions_fuzzy("Circle") == []
    assert store.similar_chunks("Circle area math") == []
    assert [h.definition.name for h in store.definitions("Square")] == ["Square"]
    with store.transaction() as conn:
        assert store.remove_files(conn, ["pkg/shapes.py"]) == 1
    assert store.definitions("Square") == []
    assert store.stats()["files"] == 0


def test_bulk_write_without_fts_then_rebuild(store: IndexStore) -> None:
    _put(store, "a.py", _shapes(), fts=False)
    assert store.definitions_fuzzy("circle_from_diam") == []
    store.rebuild_fts()
    assert store.definitions_fuzzy("circle_from_diam")[0].path == "a.py"


def test_schema_version_change_rebuilds(tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite3"
    store = IndexStore(db)
    _put(store, "a.py", _shapes())
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    store = IndexStore(db)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert store.stats()["files"] == 0
    store.close()


def test_corrupt_database_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite3"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    store = IndexStore(db)
    assert store.warning and "rebuilding" in store.warning
    assert not store.in_memory
    _put(store, "a.py", _shapes())
    assert store.definitions("Circle")
    assert list(tmp_path.glob("i.sqlite3.broken-*"))
    store.close()


def test_unwritable_cache_dir_falls_back_to_memory(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    store = IndexStore(blocked / "index" / "i.sqlite3")
    assert store.in_memory
    assert store.warning and "memory" in store.warning
    _put(store, "a.py", _shapes())
    assert store.definitions("Circle")
    store.close()


def test_readers_on_other_threads_see_committed_data(tmp_path: Path) -> None:
    import threading

    store = IndexStore(tmp_path / "i.sqlite3")
    _put(store, "a.py", _shapes())
    found: list[int] = []
    t = threading.Thread(target=lambda: found.append(len(store.definitions("Circle"))))
    t.start()
    t.join()
    assert found == [1]
    store.close()


def test_locked_database_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite3"
    IndexStore(db).close()
    holder = sqlite3.connect(db)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = IndexStore(db)
        assert store.warning and "rebuilding" in store.warning
        _put(store, "a.py", _shapes())
        assert store.definitions("Circle")
        store.close()
    finally:
        holder.rollback()
        holder.close()
