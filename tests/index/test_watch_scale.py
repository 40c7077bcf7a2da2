"""File watching at scale: a real `git checkout` between branches that differ in thousands of
files, an event storm past the batch cap, and a kernel queue overflow leave the index equal to
a fresh index of the same tree (files, hashes, definitions, imports, chunks).

The default run checks out 2,000 changed files in process (our watchdog watcher, batcher and
indexer, wired as lsp/index_feature.py wires them); `pytest -m soak` checks out 20,000, in
process and through a real `hearth serve` over stdio.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from hearth.index.indexer import Indexer
from hearth.index.store import IndexStore
from hearth.index.watcher import (
    MAX_BATCH_PATHS,
    ChangeBatcher,
    WorkspaceWatcher,
    update_index,
)
from hearth.lsp.jsonvalue import plain

DEFAULT_CHANGED = 2_000
SOAK_CHANGED = 20_000
QUIET_FOR_S = 1.0  # no watcher activity for this long: the burst is over

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="inotify (Linux) watcher"),
    # watchdog's own notice when a new folder's watch is added twice in a race (harmless).
    pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning"),
]
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


# -- a repository with two branches ---------------------------------------------------------
def _git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    out = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "core.fsmonitor=false", *args],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def _source(i: int, variant: str) -> tuple[str, str]:
    """(extension, text) of small file number `i`: Python and JavaScript in turn."""
    if i % 2:
        return ".js", (
            f'import {{ k{i} }} from "./k{i}.js";\n\n'
            f"export function g{i}_{variant}(x) {{\n  return x + {i};\n}}\n\n"
            f"class K{i}_{variant} {{\n  m() {{\n    return {i};\n  }}\n}}\n"
        )
    return ".py", (
        f"import os\n\n\ndef f{i}_{variant}(x):\n    return x + {i}\n\n\n"
        f"class C{i}_{variant}:\n    def m(self):\n        return {i}\n"
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_repo(root: Path, changed: int) -> dict[str, int]:
    """Branch `a` checked out; branch `b` differs in `changed` files: a quarter each
    modified, deleted (whole folders), renamed (into new folders) and added."""
    q = changed // 4
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "-b", "a")
    _write(root / ".gitignore", "*.log\n")
    for i in range(4 * q):
        ext, text = _source(i, "a")
        _write(root / "src" / f"p{i // 100:04d}" / f"m{i:06d}{ext}", text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "a")
    _git(root, "checkout", "-q", "-b", "b")
    for i in range(4 * q):
        ext, _ = _source(i, "a")
        path = root / "src" / f"p{i // 100:04d}" / f"m{i:06d}{ext}"
        if i < q:  # new names, and a different size
            _write(path, _source(i, "b")[1] + "\n// end\n" * (i % 2) + "\n# end\n" * (1 - i % 2))
        elif i < 2 * q:
            path.unlink()
        elif i < 3 * q:
            dest = root / "moved" / f"p{i // 100:04d}" / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            path.rename(dest)
    for j in range(q):
        ext, text = _source(4 * q + j, "b")
        _write(root / "new" / f"p{j // 100:04d}" / f"n{j:06d}{ext}", text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "b")
    _git(root, "checkout", "-q", "a")
    return {"modified": q, "deleted": q, "renamed": q, "added": q}


# -- comparing an index with the truth ------------------------------------------------------
Snapshot = dict[str, tuple[Any, ...]]


def snapshot(conn: sqlite3.Connection) -> Snapshot:
    """Per file: language, hash, and its definitions, imports and chunks, all by value."""
    out: Snapshot = {}
    files = {
        r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT id, path, language, hash FROM files")
    }
    defs: dict[int, list[tuple[Any, ...]]] = {}
    for r in conn.execute(
        "SELECT file_id, name, kind, qualname, start_line, start_col, end_line, end_col, "
        "signature FROM defs"
    ):
        defs.setdefault(r[0], []).append(r[1:])
    imports: dict[int, list[tuple[Any, ...]]] = {}
    for r in conn.execute("SELECT file_id, spec, names, line, level FROM imports"):
        imports.setdefault(r[0], []).append(r[1:])
    chunks: dict[int, list[tuple[Any, ...]]] = {}
    for r in conn.execute("SELECT file_id, start_line, end_line, kind, name, text FROM chunks"):
        chunks.setdefault(r[0], []).append(r[1:])
    for file_id, (path, language, digest) in files.items():
        out[path] = (
            language,
            digest,
            tuple(sorted(defs.get(file_id, []))),
            tuple(sorted(imports.get(file_id, []))),
            tuple(sorted(chunks.get(file_id, []))),
        )
    return out


def ground_truth(root: Path) -> Snapshot:
    """A fresh, clean index of the tree as it is now."""
    store = IndexStore(None)
    try:
        Indexer(root, store).index_all()
        return snapshot(store.conn)
    finally:
        store.close()


def mismatches(got: Snapshot, want: Snapshot) -> list[str]:
    out = [f"missing {p}" for p in sorted(want.keys() - got.keys())]
    out += [f"stale {p}" for p in sorted(got.keys() - want.keys())]
    for p in sorted(want.keys() & got.keys()):
        if got[p] != want[p]:
            what = ("language", "hash", "definitions", "imports", "chunks")
            fields = [w for w, a, b in zip(what, got[p], want[p], strict=True) if a != b]
            out.append(f"differs {p}: {', '.join(fields)}")
    return out


# -- the watcher, in process --------------------------------------------------------------
class WatchedIndex:
    """Indexer + watchdog watcher + bounded batcher, applied on the batcher's thread the way
    lsp/index_feature.py applies them on its index thread."""

    def __init__(self, root: Path, db: Path) -> None:
        self.root = root
        self.indexer = Indexer(root, IndexStore(db))
        self.rescans: list[str] = []
        self.updates = 0
        self._lock = threading.Lock()
        self._last_activity = time.monotonic()
        self.batcher: ChangeBatcher | None = None
        self.watcher: WorkspaceWatcher | None = None

    def watch(self, max_paths: int = MAX_BATCH_PATHS) -> None:
        self.unwatch()
        self.batcher = ChangeBatcher(self._flush, rescan=self._rescan, max_paths=max_paths)
        self.watcher = WorkspaceWatcher(self.root, self.batcher)
        self.watcher.start()

    def unwatch(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.batcher is not None:
            self.batcher.close()
        self.watcher = self.batcher = None

    def _flush(self, paths: list[str]) -> None:
        rescanned, _ = update_index(self.indexer, paths, limit=MAX_BATCH_PATHS)
        with self._lock:
            self.updates += 1
            if rescanned:
                self.rescans.append("folder changes")
            self._last_activity = time.monotonic()

    def _rescan(self, reason: str) -> None:
        self.indexer.index_all()
        with self._lock:
            self.rescans.append(reason)
            self._last_activity = time.monotonic()

    def wait_quiet(self, timeout: float) -> float:
        """Wait until the batcher has been idle for QUIET_FOR_S; returns when it went idle."""
        assert self.batcher is not None
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while time.monotonic() < deadline:
            if self.batcher.idle():
                now = time.monotonic()
                idle_since = idle_since or now
                if now - idle_since >= QUIET_FOR_S:
                    with self._lock:
                        return max(self._last_activity, idle_since - 0.05)
            else:
                idle_since = None
            time.sleep(0.05)
        raise AssertionError(f"the watcher never went quiet: {self.batcher.counters}")

    def close(self) -> None:
        self.unwatch()
        self.indexer.store.close()


@pytest.fixture
def watched(tmp_path: Path) -> Any:
    root = tmp_path / "repo"
    root.mkdir()
    w = WatchedIndex(root, tmp_path / "index.sqlite3")
    yield w
    w.close()


def _checkout(w: WatchedIndex, branch: str, timeout: float) -> dict[str, Any]:
    """`git checkout`, wait for quiet, compare with the truth; the figures."""
    assert w.batcher is not None
    before = w.batcher.counters
    rescans_before = len(w.rescans)
    t0 = time.monotonic()
    _git(w.root, "checkout", "-q", branch)
    t_git = time.monotonic() - t0
    quiet_at = w.wait_quiet(timeout)
    converged = quiet_at - t0
    truth = ground_truth(w.root)
    wrong = mismatches(snapshot(w.indexer.store.conn), truth)
    after = w.batcher.counters
    return {
        "git_s": round(t_git, 2),
        "converged_s": round(converged, 2),
        "events": after.events - before.events,
        "batches": after.batches - before.batches,
        "rescans": w.rescans[rescans_before:],
        "files": len(truth),
        "mismatches": len(wrong),
        "examples": wrong[:5],
    }


def _checkout_both_ways(w: WatchedIndex, changed: int, timeout: float) -> None:
    counts = make_repo(w.root, changed)
    w.watch()
    t0 = time.monotonic()
    w.indexer.index_all()
    print(f"\nrepo: {counts}; initial index {time.monotonic() - t0:.1f} s")
    # a -> b: events applied path by path (or a rescan, if the kernel queue overflowed).
    first = _checkout(w, "b", timeout)
    print(f"checkout a->b ({changed} files changed, batch cap {MAX_BATCH_PATHS}): {first}")
    assert first["mismatches"] == 0, first["examples"]
    # b -> a with a batch cap far below the burst: one rescan instead of the events.
    w.watch(max_paths=max(50, changed // 10))
    second = _checkout(w, "a", timeout)
    print(f"checkout b->a (batch cap {max(50, changed // 10)}): {second}")
    assert second["mismatches"] == 0, second["examples"]
    assert second["rescans"], "a burst past the cap must end in a rescan"
    assert any("more than" in r for r in second["rescans"])


@needs_git
def test_git_checkout_leaves_the_index_equal_to_the_truth(watched: WatchedIndex) -> None:
    _checkout_both_ways(watched, DEFAULT_CHANGED, timeout=120)


@needs_git
@pytest.mark.soak
def test_git_checkout_soak(watched: WatchedIndex, request: pytest.FixtureRequest) -> None:
    _require_soak(request.config)
    _checkout_both_ways(watched, SOAK_CHANGED, timeout=900)


def _require_soak(config: pytest.Config) -> None:
    if "soak" not in str(config.getoption("markexpr", "") or "") and not os.environ.get(
        "HEARTH_SOAK"
    ):
        pytest.skip("full-count run: select it with `pytest -m soak` (or HEARTH_SOAK=1)")


# -- a kernel queue overflow, injected through watchdog ----------------------------------
def test_a_kernel_queue_overflow_rescans_and_finds_lost_changes(watched: WatchedIndex) -> None:
    root = watched.root
    for i in range(40):
        ext, text = _source(i, "a")
        _write(root / f"d{i % 4}" / f"m{i}{ext}", text)
    watched.indexer.index_all()
    # Changes nobody reports (made before the watcher runs): only a rescan can find them.
    (root / "d0" / "m0.py").write_text(_source(0, "lost")[1])
    (root / "d1" / "m1.js").unlink()
    shutil.rmtree(root / "d2")
    _write(root / "d9" / "late.py", "def appeared_unseen():\n    pass\n")
    watched.watch()
    assert watched.watcher is not None
    fd = getattr(watched.watcher._observer, "_inotify_fd", None)
    if fd is None or not hasattr(fd, "handle_event"):
        pytest.skip("this watchdog has no inotify overflow path to inject into (watchdog >= 7)")
    from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

    # What the kernel sends when its queue overflowed: wd -1, IN_Q_OVERFLOW.
    fd.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))  # type: ignore[arg-type]
    watched.wait_quiet(timeout=60)
    assert watched.rescans and "overflow" in watched.rescans[0]
    assert mismatches(snapshot(watched.indexer.store.conn), ground_truth(root)) == []
    assert watched.indexer.store.file("d9/late.py") is not None
    # Watching goes on after the rescan (watchdog rebuilt its watches).
    _write(root / "d3" / "after.py", "def after_the_overflow():\n    pass\n")
    watched.wait_quiet(timeout=30)
    assert watched.indexer.store.file("d3/after.py") is not None


def test_folders_moved_out_and_in_are_followed(watched: WatchedIndex, tmp_path: Path) -> None:
    root = watched.root
    for i in range(20):
        ext, text = _source(i, "a")
        _write(root / "pkg" / f"sub{i % 2}" / f"m{i}{ext}", text)
    watched.watch()
    watched.indexer.index_all()
    outside = tmp_path / "outside"
    (root / "pkg").rename(outside)  # watchers report the folder alone
    watched.wait_quiet(timeout=30)
    assert mismatches(snapshot(watched.indexer.store.conn), ground_truth(root)) == []
    outside.rename(root / "back")
    watched.wait_quiet(timeout=30)
    assert mismatches(snapshot(watched.indexer.store.conn), ground_truth(root)) == []
    assert len(watched.indexer.store.files()) == 20


# -- the batcher alone ----------------------------------------------------------------------
def test_a_storm_past_the_cap_becomes_one_rescan() -> None:
    batches: list[list[str]] = []
    rescans: list[str] = []
    done = threading.Event()

    def rescan(reason: str) -> None:
        rescans.append(reason)
        done.set()

    # quiet_s: long enough that a loaded machine does not end the burst early.
    batcher = ChangeBatcher(batches.append, rescan=rescan, quiet_s=0.5, max_paths=100)
    for i in range(10_000):
        batcher.add(f"src/f{i}.py")
        assert len(batcher._pending) <= 100  # bounded
    assert done.wait(5)
    time.sleep(0.2)
    c = batcher.counters
    batcher.close()
    assert batches == [] and len(rescans) == 1 and "more than 100" in rescans[0]
    assert (c.events, c.rescans, c.dropped) == (10_000, 1, 10_000)


def test_repeats_within_the_cap_are_not_a_storm() -> None:
    batches: list[list[str]] = []
    rescans: list[str] = []
    done = threading.Event()

    def flush(paths: list[str]) -> None:
        batches.append(paths)
        done.set()

    batcher = ChangeBatcher(flush, rescan=rescans.append, quiet_s=0.5, max_paths=100)
    for _ in range(50):
        batcher.add_many(f"f{i}.py" for i in range(100))
    assert done.wait(5)
    batcher.close()
    assert rescans == [] and len(batches) == 1 and len(batches[0]) == 100


def test_an_overflow_rescans_once_then_batches_resume() -> None:
    batches: list[list[str]] = []
    rescans: list[str] = []
    events = threading.Event()

    def flush(paths: list[str]) -> None:
        batches.append(paths)
        events.set()

    def rescan(reason: str) -> None:
        rescans.append(reason)
        events.set()

    batcher = ChangeBatcher(flush, rescan=rescan, quiet_s=0.5)
    batcher.add("a.py")
    batcher.overflow("the kernel's queue overflowed")
    batcher.add("b.py")  # part of the same burst: covered by the rescan
    assert events.wait(5)
    events.clear()
    assert rescans == ["the kernel's queue overflowed"] and batches == []
    batcher.add("c.py")
    assert events.wait(5)
    assert batches == [["c.py"]]
    batcher.close()


def test_a_slow_flush_backs_up_into_the_bounded_batcher() -> None:
    """While a batch is applied, what arrives waits in the batcher (bounded by its cap),
    never in an unbounded queue of jobs."""
    release = threading.Event()
    batches: list[list[str]] = []
    rescans: list[str] = []

    def slow(paths: list[str]) -> None:
        batches.append(paths)
        release.wait(5)

    batcher = ChangeBatcher(slow, rescan=rescans.append, quiet_s=0.02, max_paths=10)
    batcher.add("first.py")
    for _ in range(100):
        if batches:
            break
        time.sleep(0.01)
    for i in range(50):  # arrives while the first batch is being applied
        batcher.add(f"queued{i}.py")
    assert not batcher.idle()
    release.set()
    for _ in range(200):
        if rescans and batcher.idle():
            break
        time.sleep(0.01)
    batcher.close()
    assert batches == [["first.py"]] and len(rescans) == 1


# -- the real server over stdio (soak) ------------------------------------------------------
@pytest.fixture
def soak_only(request: pytest.FixtureRequest) -> None:
    """Skips before the server fixture starts a server (asked for first)."""
    _require_soak(request.config)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"])
)
async def server(lsp_client: LanguageClient) -> Any:
    yield
    await lsp_client.shutdown_session()


async def _index_status(client: LanguageClient) -> dict[str, Any]:
    result = await client.protocol.send_request_async("hearth/status", {})
    index: dict[str, Any] = plain(result)["index"]
    return index


@needs_git
@pytest.mark.soak
async def test_git_checkout_through_the_real_server_soak(
    soak_only: None, server: LanguageClient, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    counts = await asyncio.to_thread(make_repo, root, SOAK_CHANGED)
    index_dir = tmp_path / "index"
    await server.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),  # no client watching: the server's own
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="repo")],
            initialization_options={"indexDir": str(index_dir)},
        )
    )
    t0 = time.monotonic()
    for _ in range(6000):
        status = await _index_status(server)
        if status.get("state") == "ready":
            break
        await asyncio.sleep(0.1)
    assert status.get("state") == "ready", status
    print(f"\nrepo: {counts}; server's initial index {time.monotonic() - t0:.1f} s")
    assert status["watch"]["mode"] == "server"
    before = status["watch"]
    t0 = time.monotonic()
    await asyncio.to_thread(_git, root, "checkout", "-q", "b")
    t_git = time.monotonic() - t0
    # Quiet: nothing pending or being applied, and no new event, for QUIET_FOR_S * 2.
    quiet_since: float | None = None
    last_events = -1
    while time.monotonic() - t0 < 900:
        watch = (await _index_status(server))["watch"]
        now = time.monotonic()
        if watch["busy"] or watch["events"] != last_events:
            quiet_since, last_events = None, watch["events"]
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= 2 * QUIET_FOR_S:
            break
        await asyncio.sleep(0.1)
    assert quiet_since is not None, watch
    converged = quiet_since - t0
    truth = await asyncio.to_thread(ground_truth, root)
    conn = sqlite3.connect(f"file:{index_dir / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        wrong = mismatches(snapshot(conn), truth)
    finally:
        conn.close()
    figures = {
        "git_s": round(t_git, 2),
        "converged_s": round(converged, 2),
        "events": watch["events"] - before["events"],
        "batches": watch["batches"] - before["batches"],
        "rescans": watch["rescans"] - before["rescans"],
        "last_rescan": watch["last_rescan"],
        "files": len(truth),
        "mismatches": len(wrong),
    }
    print(f"real server, checkout a->b ({SOAK_CHANGED} files changed): {figures}")
    assert wrong == [], wrong[:5]
