"""SIGKILL a real Hearth process at random points; the index survives every time.

Five phases, each a real process on a copy of the fixture workspace plus generated modules
that the test keeps editing, adding and deleting between kills:

- `index`: `hearth index PATH` (half of the kills with the worker pool forced on);
- `serve-index`: `hearth serve` indexing the workspace at start;
- `db-write`: `hearth serve` with the index ready, writing incremental updates: files edited
  on disk (the watcher and `didChangeWatchedFiles`), buffers opened, typed and closed;
- `model-load`: `hearth serve` while it loads a model;
- `generation`: `hearth serve` generating a completion while its buffer is edited.

After every kill: `PRAGMA integrity_check` is ok and both FTS5 indexes pass their own
integrity-check; no process of Hearth's outlives it (its worker processes exit); and the next
run (the indexer on the same database, as `hearth index` runs it) opens it without moving it
aside and converges: a canonical dump (files, definitions, imports, chunks) equals that of a
clean rebuild from scratch.

About 10 kills by default; `pytest -m soak` (or HEARTH_SOAK=1) kills 100 times on a larger
workspace (where a full index uses the worker pool by itself).
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp"))
from generated import soak_selected
from rawlsp import RawServer, server_env

from hearth.bench import synth
from hearth.index import indexer as indexer_module
from hearth.index.indexer import IndexOptions
from hearth.index.store import content_hash
from hearth.index.workspace import open_index
from hearth.settings import Settings

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("setsid") is None,
    reason="kills and process groups are checked through /proc and setsid (Linux)",
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "workspace"
PHASES = ("index", "serve-index", "db-write", "model-load", "generation")
DEFAULT_KILLS = {"index": 3, "serve-index": 2, "db-write": 2, "model-load": 1, "generation": 2}
SOAK_KILLS = {"index": 30, "serve-index": 20, "db-write": 25, "model-load": 10, "generation": 15}
DEFAULT_MODULES = 60
SOAK_MODULES = 400  # more than PARALLEL_MIN_FILES: a full index starts the worker pool
ORPHAN_GRACE_S = 5.0
# The pool forced on for a small workspace: the same CLI, one threshold lowered.
FORCED_POOL = (
    "import sys, hearth.index.indexer as m; m.PARALLEL_MIN_FILES = 1; "
    "from hearth.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _soak(config: pytest.Config) -> bool:
    return soak_selected(config) or os.environ.get("HEARTH_SOAK") == "1"


# -- the workspace ---------------------------------------------------------------------------
def _module(i: int, version: int, rnd: random.Random) -> str:
    funcs = rnd.randint(3, 14)
    out = [f'"""Generated module {i}, version {version}."""', "import os", ""]
    if i:
        out.insert(2, f"from gen.m{(i - 1) % 20}.mod{i - 1} import f{i - 1}_0")
    for j in range(funcs):
        out += [
            f"class C{i}_{j}_v{version}:",
            f"    '''Shape {j} of module {i}.'''",
            f"    def area_{j}(self, x: int) -> int:",
            f"        return x * {j + version}",
            "",
            f"def f{i}_{j}(a, b={j}):",
            f"    total = a * b + {version}",
            "    for k in range(b):",
            "        total += k",
            "    return total",
            "",
        ]
    return "\n".join(out)


class Workspace:
    """The fixture plus generated modules, edited between kills with a seeded RNG."""

    def __init__(self, root: Path, modules: int, rnd: random.Random) -> None:
        self.root = root
        self.rnd = rnd
        self.version = 0
        self.next_id = modules
        shutil.copytree(FIXTURE, root)
        for i in range(modules):
            self.write(i)

    def path(self, i: int) -> Path:
        return self.root / "gen" / f"m{i % 20}" / f"mod{i}.py"

    def write(self, i: int) -> Path:
        p = self.path(i)
        p.parent.mkdir(parents=True, exist_ok=True)
        (p.parent / "__init__.py").touch()
        p.write_text(_module(i, self.version, self.rnd))
        return p

    def modules(self) -> list[Path]:
        return sorted((self.root / "gen").rglob("mod*.py"))

    def mutate(self, share: float) -> list[Path]:
        """Edit `share` of the modules, add two, delete one, rename one: what changed."""
        self.version += 1
        mods = self.modules()
        changed = self.rnd.sample(mods, max(1, int(len(mods) * share)))
        for p in changed:
            self.write(int(p.stem[3:]))
        for _ in range(2):
            changed.append(self.write(self.next_id))
            self.next_id += 1
        gone = self.rnd.choice(mods)
        if gone.exists():
            gone.unlink()
            changed.append(gone)
        moved = self.rnd.choice(self.modules())
        target = moved.with_name(f"mod{self.next_id}.py")
        self.next_id += 1
        moved.rename(target)
        changed += [moved, target]
        return changed


# -- processes -------------------------------------------------------------------------------
def _session_pids(sid: int) -> list[int]:
    """Live processes of session `sid` (Hearth and whatever it started)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def _reap_session(sid: int) -> list[str]:
    """Wait for every process of the killed session to exit; kill and name the stragglers."""
    deadline = time.monotonic() + ORPHAN_GRACE_S
    left = _session_pids(sid)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _session_pids(sid)
    names = []
    for pid in left:
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
            names.append(cmd.decode(errors="replace"))
            os.kill(pid, signal.SIGKILL)
    return names


class Serve:
    """`hearth serve` in its own session (setsid keeps the pid and makes it the leader)."""

    def __init__(self, tmp: Path, root: Path, db_dir: Path, options: dict[str, Any]) -> None:
        self.server = RawServer(tmp, prefix=["setsid"], env=server_env(tmp))
        self.root = root
        self.t0 = time.monotonic()
        init = {"indexDir": str(db_dir), "fileWatcher": "server", **options}
        self.server.initialize(
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": {"textDocument": {"inlineCompletion": {}}},
                "initializationOptions": init,
            }
        )

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.server.request("hearth/status", {}, timeout=60)["result"]
        return result

    def wait_for(self, ready: Callable[[dict[str, Any]], bool], timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if ready(st):
                return time.monotonic() - self.t0
            assert st["model"]["state"] != "error", st["model"]
            assert time.monotonic() < deadline, st
            time.sleep(0.02)

    def sigkill(self) -> None:
        """SIGKILL only: safe from a timer thread while the test thread writes."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        self.sigkill()
        self.server.proc.wait()
        # Let the reader threads see the end of the pipes before they are closed.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                if self.server.messages.get(timeout=0.1) is None:
                    break
            except queue.Empty:
                continue
        time.sleep(0.05)
        self.server.close()


def _index_ready(st: dict[str, Any]) -> bool:
    return bool(st["index"].get("state") == "ready")


def _all_ready(st: dict[str, Any]) -> bool:
    return _index_ready(st) and st["model"]["state"] == "ready"


# -- the database ----------------------------------------------------------------------------
def check_integrity(db: Path) -> str:
    """`PRAGMA integrity_check` and FTS5's integrity-check on the killed database."""
    if not db.exists():
        return "no database yet"
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        assert rows == [("ok",)], rows
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        for fts in ("defs_fts", "chunks_fts"):
            if fts in tables:
                conn.execute(f"INSERT INTO {fts}({fts}) VALUES ('integrity-check')")
        return "ok"
    finally:
        conn.close()


_DUMP = {
    "files": "SELECT path, language, size, mtime_ns, hash, source, COALESCE(error, '') FROM files",
    "defs": "SELECT f.path, d.name, d.kind, d.qualname, d.start_line, d.start_col, d.end_line, "
    "d.end_col, d.signature, COALESCE(d.doc, '') FROM defs d JOIN files f ON f.id = d.file_id",
    "imports": "SELECT f.path, i.spec, i.names, i.line, i.level FROM imports i "
    "JOIN files f ON f.id = i.file_id",
    "chunks": "SELECT f.path, c.start_line, c.end_line, c.kind, COALESCE(c.name, ''), c.text, "
    "c.idents FROM chunks c JOIN files f ON f.id = c.file_id",
    "stray rows": "SELECT 'defs', id FROM defs WHERE file_id NOT IN (SELECT id FROM files) "
    "UNION ALL SELECT 'chunks', id FROM chunks WHERE file_id NOT IN (SELECT id FROM files) "
    "UNION ALL SELECT 'imports', file_id FROM imports "
    "WHERE file_id NOT IN (SELECT id FROM files)",
    "meta": "SELECT key, value FROM meta",
}


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The index's content without row ids (which differ between runs), sorted."""
    return {name: sorted(conn.execute(sql)) for name, sql in _DUMP.items()}


def _differences(got: dict[str, Any], want: dict[str, Any]) -> str:
    out = []
    for name in want:
        a, b = set(got[name]), set(want[name])
        if a != b:
            out.append(f"{name}: extra {sorted(a - b)[:3]} missing {sorted(b - a)[:3]}")
    return "; ".join(out)


@dataclass
class Report:
    kills: Counter[str] = field(default_factory=Counter)
    landed: Counter[tuple[str, str]] = field(default_factory=Counter)
    integrity_ok: int = 0
    converged: int = 0
    orphans: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phase_seconds: Counter[str] = field(default_factory=Counter)
    check_seconds: float = 0.0
    pool_kills: int = 0  # `index` kills while its worker pool ran

    def lines(self) -> list[str]:
        out = [
            f"kills per phase: {dict(self.kills)} ({sum(self.kills.values())} in all; "
            f"{self.pool_kills} of the index kills while its worker pool ran)"
        ]
        for phase in PHASES:
            where = {w: n for (p, w), n in self.landed.items() if p == phase}
            if where:
                took = self.phase_seconds[phase] / max(1, self.kills[phase])
                out.append(f"  {phase:<12} landed: {where} ({took:.1f} s per kill and check)")
        out.append(
            f"integrity_check ok: {self.integrity_ok}/{sum(self.kills.values())}; "
            f"converged to a clean rebuild: {self.converged}/{sum(self.kills.values())}; "
            f"stray processes: {len(self.orphans)}; {self.seconds:.1f} s "
            f"({self.check_seconds:.1f} s of it checking)"
        )
        return out


class Checker:
    """After each kill: integrity, stray processes, then the next run against a clean build."""

    def __init__(self, ws: Workspace, db: Path, report: Report) -> None:
        self.ws = ws
        self.db = db
        self.report = report
        self.settings = Settings()
        self._extract_memo: dict[tuple[bytes, str, int | None], Any] = {}

    def _memo_extract(self, real: Callable[..., Any]) -> Callable[..., Any]:
        """tree-sitter extraction is a pure function of the bytes: caching it keeps a clean
        rebuild per kill affordable (the store, walker and indexer all run for real)."""

        def extract(
            data: bytes, language: str, *, max_bytes: int | None = None, timeout_ms: int = 0
        ) -> Any:
            key = (data, language, max_bytes)
            hit = self._extract_memo.get(key)
            if hit is None:
                hit = real(data, language, max_bytes=max_bytes, timeout_ms=60_000)
                self._extract_memo[key] = hit
            return hit

        return extract

    def _landing(self) -> str:
        """Where the kill left the stored file set: nothing, the old state, or the new one."""
        if not self.db.exists():
            return "before-db"
        conn = sqlite3.connect(self.db)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "files" not in tables:
                return "schema-being-made"
            stored = {
                r[0]: (r[1], r[2]) for r in conn.execute("SELECT path, hash, source FROM files")
            }
        finally:
            conn.close()
        if not stored:
            return "empty"
        disk = {
            p.relative_to(self.ws.root).as_posix(): content_hash(p.read_bytes())
            for p in (self.ws.root / "gen").rglob("*.py")
        }
        gen = {k: v for k, v in stored.items() if k.startswith("gen/")}
        # Open buffers (source "buffer") may differ from the disk: they count as present.
        stale = {k for k, v in gen.items() if v[1] == "disk" and disk.get(k) != v[0]}
        return "up-to-date" if not stale and gen.keys() == disk.keys() else "older-state"

    def after_kill(self, phase: str, sid: int, monkeypatch: pytest.MonkeyPatch) -> None:
        r = self.report
        t0 = time.monotonic()
        r.kills[phase] += 1
        stray = _reap_session(sid)
        r.orphans += stray
        assert not stray, f"{phase}: processes outlived the killed Hearth: {stray}"
        r.landed[(phase, self._landing())] += 1
        check_integrity(self.db)
        r.integrity_ok += 1
        with monkeypatch.context() as mp:
            mp.setattr(indexer_module, "extract", self._memo_extract(indexer_module.extract))
            nxt = open_index(self.ws.root, self.settings, db=self.db)
            try:
                assert nxt.store.warning is None, f"{phase}: {nxt.store.warning}"
                nxt.options = IndexOptions(walk=nxt.options.walk, workers=1)
                nxt.index_all()
                got = dump(nxt.store.conn)
            finally:
                nxt.store.close()
            clean = open_index(self.ws.root, self.settings, in_memory=True)
            try:
                clean.options = IndexOptions(walk=clean.options.walk, workers=1)
                clean.index_all()
                want = dump(clean.store.conn)
            finally:
                clean.store.close()
        assert not got["stray rows"], got["stray rows"][:5]
        assert got == want, f"{phase}: the next run differs from a clean rebuild: " + (
            _differences(got, want)
        )
        check_integrity(self.db)
        r.converged += 1
        r.check_seconds += time.monotonic() - t0


# -- the phases ------------------------------------------------------------------------------
@dataclass
class Timings:
    index_s: float  # a full `hearth index` run, start to exit
    serve_index_s: float  # `hearth serve` start to index ready
    load_from_s: float  # model state "loading" seen
    load_to_s: float  # model ready
    generation_s: float  # one completion request, sent to answered


@pytest.fixture(scope="module")
def medium_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough that loading and generating take a moment to kill into."""
    path = tmp_path_factory.mktemp("kill-model") / "medium.gguf"
    return synth.write_llama_spm(path, n_embd=256, n_layer=4, n_head=4, n_head_kv=4, n_ff=1024)


def _model_options(model: Path) -> dict[str, Any]:
    return {
        "model": str(model),
        "threads": 1,
        "maxTokens": 256,
        "timeBudgetMs": 3000,
        "explicitCandidates": 1,
    }


def _index_command(root: Path, db: Path, forced_pool: bool) -> list[str]:
    args = ["index", str(root), "--db", str(db), "--json"]
    if forced_pool:
        return [sys.executable, "-c", FORCED_POOL, *args]
    return [sys.executable, "-m", "hearth", *args]


def _complete(serve: Serve, uri: str, msg_id: int) -> None:
    serve.server.send(
        {
            "jsonrpc": "2.0",
            "id": msg_id,
            "method": "textDocument/inlineCompletion",
            "params": {
                "textDocument": {"uri": uri},
                "position": {"line": 4, "character": 0},
                "context": {"triggerKind": 1},
            },
        }
    )


def _open(serve: Serve, path: Path, text: str) -> str:
    uri = path.as_uri()
    serve.server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    return uri


def _typed(serve: Serve, uri: str, version: int, text: str) -> None:
    serve.server.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
    )


def calibrate(tmp: Path, ws: Workspace, model: Path) -> Timings:
    """One unkilled run of each kind, on a fresh database: where the random points go."""
    db = tmp / "calibrate" / "index.sqlite3"
    t0 = time.monotonic()
    subprocess.run(
        _index_command(ws.root, db, False), env=server_env(tmp), capture_output=True, check=True
    )
    index_s = time.monotonic() - t0
    shutil.rmtree(db.parent)
    serve = Serve(tmp, ws.root, db.parent, _model_options(model))
    try:
        load_from = load_to = serve_index = 0.0
        while not (load_to and serve_index):
            st = serve.status()
            now = time.monotonic() - serve.t0
            if st["model"]["state"] == "loading" and not load_from:
                load_from = now
            if st["model"]["state"] == "ready" and not load_to:
                load_to = now
            if _index_ready(st) and not serve_index:
                serve_index = now
            assert st["model"]["state"] != "error", st["model"]
            assert now < 120, st
            time.sleep(0.02)
        uri = _open(serve, ws.modules()[0], ws.modules()[0].read_text())
        t1 = time.monotonic()
        serve.server.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 4, "character": 0},
                "context": {"triggerKind": 1},
            },
            timeout=60,
        )
        generation = time.monotonic() - t1
    finally:
        serve.kill()
    shutil.rmtree(db.parent, ignore_errors=True)
    return Timings(index_s, serve_index, load_from, load_to, generation)


def kill_index(ctx: Kill, k: int) -> None:
    ws, rnd = ctx.ws, ctx.rnd
    ws.mutate(rnd.uniform(0.1, 0.6))
    if rnd.random() < 0.3:
        shutil.rmtree(ctx.db.parent, ignore_errors=True)
    pool = k % 2 == 1
    proc = subprocess.Popen(
        _index_command(ws.root, ctx.db, forced_pool=pool),
        env=server_env(ctx.tmp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    if pool:  # a random point while the workers run: that is what may leak them
        while len(_session_pids(proc.pid)) < 2 and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rnd.uniform(0.0, 0.5))
        ctx.checker.report.pool_kills += 1
    else:
        time.sleep(rnd.uniform(0.05, ctx.timings.index_s * 1.1))
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ctx.checker.after_kill("index", proc.pid, ctx.monkeypatch)


def kill_serve_index(ctx: Kill, k: int) -> None:
    ctx.ws.mutate(ctx.rnd.uniform(0.1, 0.6))
    if ctx.rnd.random() < 0.4:
        shutil.rmtree(ctx.db.parent, ignore_errors=True)
    serve = Serve(ctx.tmp, ctx.ws.root, ctx.db.parent, {})
    started = time.monotonic() - serve.t0  # `initialize` answered
    at = ctx.rnd.uniform(started, max(started, ctx.timings.serve_index_s) * 1.1)
    time.sleep(max(0.0, at - (time.monotonic() - serve.t0)))
    serve.kill()
    ctx.checker.after_kill("serve-index", serve.pid, ctx.monkeypatch)


def kill_db_write(ctx: Kill, k: int) -> None:
    """Edits on disk and in buffers while `hearth serve` keeps the index up to date."""
    rnd, ws = ctx.rnd, ctx.ws
    serve = Serve(ctx.tmp, ws.root, ctx.db.parent, {})
    serve.wait_for(_index_ready)
    killer = threading.Timer(rnd.uniform(0.05, 1.5), serve.sigkill)
    killer.start()
    version = 1
    opened: dict[str, int] = {}
    try:
        while killer.is_alive():
            step = rnd.random()
            if step < 0.4:
                changed = [str(p) for p in ws.mutate(0.05)]
                serve.server.notify(
                    "workspace/didChangeWatchedFiles",
                    {"changes": [{"uri": Path(p).as_uri(), "type": 2} for p in changed]},
                )
            elif step < 0.8:
                target = rnd.choice(ws.modules())
                uri = target.as_uri()
                version += 1
                text = _module(int(target.stem[3:]), ws.version * 1000 + version, rnd)
                if uri not in opened:
                    _open(serve, target, text)
                else:
                    _typed(serve, uri, version, text)
                opened[uri] = version
            elif opened:
                uri = rnd.choice(sorted(opened))
                serve.server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
                del opened[uri]
            time.sleep(rnd.uniform(0.0, 0.15))
    except (BrokenPipeError, OSError, ValueError):
        pass  # the kill landed while writing to the server
    killer.join()
    serve.kill()
    ctx.checker.after_kill("db-write", serve.pid, ctx.monkeypatch)


def kill_model_load(ctx: Kill, k: int) -> None:
    ctx.ws.mutate(ctx.rnd.uniform(0.05, 0.3))
    t = ctx.timings
    serve = Serve(ctx.tmp, ctx.ws.root, ctx.db.parent, _model_options(ctx.model))
    lo = max(0.0, t.load_from_s - 0.1)
    hi = max(lo + 0.05, t.load_to_s + 0.05)
    time.sleep(max(0.0, ctx.rnd.uniform(lo, hi) - (time.monotonic() - serve.t0)))
    serve.kill()
    ctx.checker.after_kill("model-load", serve.pid, ctx.monkeypatch)


def kill_generation(ctx: Kill, k: int) -> None:
    rnd, ws = ctx.rnd, ctx.ws
    serve = Serve(ctx.tmp, ws.root, ctx.db.parent, _model_options(ctx.model))
    serve.wait_for(_all_ready)
    target = rnd.choice(ws.modules())
    text = target.read_text()
    uri = _open(serve, target, text)
    _complete(serve, uri, 1000)
    deadline = time.monotonic() + rnd.uniform(0.02, max(0.1, ctx.timings.generation_s))
    version = 1
    with contextlib.suppress(BrokenPipeError, OSError):
        while time.monotonic() < deadline:
            version += 1
            text += f"\ndef typed_{version}(x):\n    return x\n"
            _typed(serve, uri, version, text)
            _complete(serve, uri, 1000 + version)
            time.sleep(0.05)
    serve.kill()
    ctx.checker.after_kill("generation", serve.pid, ctx.monkeypatch)


@dataclass
class Kill:
    tmp: Path
    ws: Workspace
    db: Path
    rnd: random.Random
    model: Path
    timings: Timings
    checker: Checker
    monkeypatch: pytest.MonkeyPatch


PHASE_RUN: dict[str, Callable[[Kill, int], None]] = {
    "index": kill_index,
    "serve-index": kill_serve_index,
    "db-write": kill_db_write,
    "model-load": kill_model_load,
    "generation": kill_generation,
}


def run_kills(
    tmp: Path, counts: dict[str, int], modules: int, model: Path, mp: pytest.MonkeyPatch
) -> Report:
    t0 = time.monotonic()
    rnd = random.Random(int(os.environ.get("HEARTH_KILL_SEED", "11")))
    ws = Workspace(tmp / "ws", modules, rnd)
    db = tmp / "index" / "index.sqlite3"
    report = Report()
    timings = calibrate(tmp, ws, model)
    ctx = Kill(tmp, ws, db, rnd, model, timings, Checker(ws, db, report), mp)
    # Phases interleaved, each kill starting from what the previous one left.
    order = [p for p in PHASES for _ in range(counts[p])]
    rnd.shuffle(order)
    seen: Counter[str] = Counter()
    for phase in order:
        t1 = time.monotonic()
        PHASE_RUN[phase](ctx, seen[phase])
        report.phase_seconds[phase] += time.monotonic() - t1
        seen[phase] += 1
    report.seconds = time.monotonic() - t0
    print(f"\ncalibration: {timings}")
    print("\n".join(report.lines()))
    return report


def test_kill_at_random_points(
    tmp_path: Path, medium_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_kills(tmp_path, DEFAULT_KILLS, DEFAULT_MODULES, medium_model, monkeypatch)
    total = sum(DEFAULT_KILLS.values())
    assert report.integrity_ok == report.converged == total
    assert not report.orphans


@pytest.mark.soak
def test_kill_at_random_points_soak(
    tmp_path: Path, medium_model: Path, monkeypatch: pytest.MonkeyPatch, request: Any
) -> None:
    if not _soak(request.config):
        pytest.skip("full kill count: select it with `pytest -m soak` or HEARTH_SOAK=1")
    report = run_kills(tmp_path, SOAK_KILLS, SOAK_MODULES, medium_model, monkeypatch)
    assert report.integrity_ok == report.converged == sum(SOAK_KILLS.values()) == 100
    assert not report.orphans
