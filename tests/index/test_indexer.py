"""The indexer over the fixture workspace: full pass, restart, edits, deletes, buffers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hearth.index.indexer import Indexer
from hearth.index.store import IndexStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "workspace"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(FIXTURE, root)
    (root / ".env").write_text("TOKEN = 'do-not-index-me'\n")
    return root


def test_full_index_then_queries(ws: Path, tmp_path: Path) -> None:
    indexer = Indexer(ws, IndexStore(tmp_path / "i.sqlite3"))
    stats = indexer.index_all()
    store = indexer.store
    assert stats.indexed >= 25
    assert stats.skipped["secret"] == 1
    assert stats.skipped["excluded-dir"] >= 1  # node_modules
    assert store.definitions("leakedDependency") == []
    assert store.definitions("ignored_function") == []
    assert [h.path for h in store.definitions("circle_from_diameter")] == ["py/pkg/shapes.py"]
    assert {h.path for h in store.definitions("Circle")} >= {"py/pkg/shapes.py", "go/geom/geom.go"}
    assert store.definitions_with_prefix("circle_from")
    assert (
        store.definitions_fuzzy("circel_from_diameter")[0].definition.name == "circle_from_diameter"
    )
    assert "TOKEN" not in {h.definition.name for h in store.definitions_with_prefix("TOK")}
    resolved = dict((i.spec, t) for i, t in indexer.resolved_imports("go/main.go"))
    assert resolved["example.com/geo/geom"] == ["go/geom/geom.go"]
    rs = dict((i.spec, t) for i, t in indexer.resolved_imports("rust/src/main.rs"))
    assert rs["geom"] == ["rust/src/geom.rs"]
    hits = store.similar_chunks("r = util.clamp(radius, 0, MAX_SIDE)", exclude_path="py/app.py")
    assert hits and hits[0].path == "py/pkg/shapes.py"


def test_restart_reads_only_what_changed(ws: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite3"
    Indexer(ws, IndexStore(db)).index_all()
    (ws / "py" / "pkg" / "util.py").write_text("def clamp2(v):\n    return v\n")
    (ws / "js" / "src" / "util.js").unlink()
    (ws / "py" / "new_mod.py").write_text("def brand_new():\n    pass\n")
    indexer = Indexer(ws, IndexStore(db))
    stats = indexer.index_all()
    assert stats.indexed == 2
    assert stats.removed == 1
    store = indexer.store
    assert store.definitions("clamp") == []
    assert store.definitions("clamp2")
    assert store.definitions("brand_new")
    assert store.definitions("formatNumber") == []
    assert store.file("js/src/util.js") is None


def test_touch_without_change_is_not_reindexed(ws: Path, tmp_path: Path) -> None:
    indexer = Indexer(ws, IndexStore(tmp_path / "i.sqlite3"))
    indexer.index_all()
    target = ws / "py" / "app.py"
    target.write_text(target.read_text())
    stats = indexer.update_paths([target])
    assert stats.indexed == 0
    assert stats.unchanged == 1


def test_rename_leaves_nothing_behind(ws: Path, tmp_path: Path) -> None:
    indexer = Indexer(ws, IndexStore(tmp_path / "i.sqlite3"))
    indexer.index_all()
    old, new = ws / "py" / "pkg" / "util.py", ws / "py" / "pkg" / "helpers.py"
    old.rename(new)
    indexer.update_paths([old, new])
    assert [h.path for h in indexer.store.definitions("clamp")] == ["py/pkg/helpers.py"]


def test_buffers_win_and_secrets_are_refused(ws: Path, tmp_path: Path) -> None:
    indexer = Indexer(ws, IndexStore(None))
    indexer.index_all()
    app = ws / "py" / "app.py"
    assert indexer.set_buffer(app, app.read_text() + "\ndef unsaved_fn():\n    pass\n")
    assert indexer.store.definitions("unsaved_fn")
    # An external write to a file open in the editor does not override the buffer.
    app.write_text("x = 1\n")
    indexer.update_paths([app])
    assert indexer.store.definitions("unsaved_fn")
    indexer.close_buffer(app)
    assert indexer.store.definitions("unsaved_fn") == []
    assert not indexer.set_buffer(ws / ".env", "def leaked(): pass\n")
    assert not indexer.set_buffer(ws / "node_modules" / "dep" / "x.js", "function leaked() {}\n")
    assert indexer.store.definitions("leaked") == []


def test_file_deleted_while_indexing_and_bad_files(ws: Path, tmp_path: Path) -> None:
    (ws / "bad.py").write_bytes(b"\xff\xfe\x00\x00 not utf8")
    (ws / "deep.py").write_bytes(b"x = " + b"(" * 5000)
    indexer = Indexer(ws, IndexStore(None))
    stats = indexer.index_all()
    assert stats.skipped["binary"] == 1
    assert indexer.store.file("deep.py") is not None
    gone = ws / "py" / "app.py"
    gone.unlink()
    assert indexer.update_paths([gone]).removed == 1


def test_nested_ignore_file_change_applies_to_later_updates(ws: Path, tmp_path: Path) -> None:
    indexer = Indexer(ws, IndexStore(tmp_path / "i.sqlite3"))
    indexer.index_all()
    (ws / "py" / "gen.py").write_text("def generated_thing():\n    pass\n")
    indexer.update_paths([ws / "py" / "gen.py"])
    assert indexer.store.definitions("generated_thing")
    (ws / "py" / ".gitignore").write_text("gen.py\n")
    (ws / "py" / "gen.py").write_text("def generated_thing2():\n    pass\n")
    indexer.update_paths([ws / "py" / ".gitignore", ws / "py" / "gen.py"])
    assert indexer.store.definitions("generated_thing") == []
    assert indexer.store.definitions("generated_thing2") == []


def test_go_mod_change_re_resolves_imports(ws: Path, tmp_path: Path) -> None:
    indexer = Indexer(ws, IndexStore(tmp_path / "i.sqlite3"))
    indexer.index_all()
    resolved = dict((i.spec, t) for i, t in indexer.resolved_imports("go/main.go"))
    assert resolved["example.com/geo/geom"] == ["go/geom/geom.go"]
    go_mod = ws / "go" / "go.mod"
    go_mod.write_text(go_mod.read_text().replace("example.com/geo", "example.com/renamed"))
    indexer.update_paths([go_mod])
    resolved = dict((i.spec, t) for i, t in indexer.resolved_imports("go/main.go"))
    assert resolved["example.com/geo/geom"] == []


def test_fifty_thousand_line_file_is_indexed(ws: Path, tmp_path: Path) -> None:
    body = "".join(f"def generated_{i}(x):\n    return x + {i}\n\n" for i in range(16_667))
    (ws / "py" / "huge.py").write_text(body)
    assert body.count("\n") >= 50_000
    indexer = Indexer(ws, IndexStore(None))
    indexer.index_all()
    assert indexer.store.definitions("generated_16666")
    assert len(indexer.store.symbols_of("py/huge.py")) == 16_667
