"""Keeps the store in step with the workspace: a full pass at start, then single files.

A full pass compares (size, mtime) with the store and re-reads only what changed; the content
hash decides whether a touched file really changed. Parsing runs in worker processes when there
are enough files to pay for starting them (both cores on a laptop), while this process writes
to SQLite. Open editor buffers win over the disk: their text is indexed as it is typed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from hearth.index.extract import extract
from hearth.index.languages import language_for_path
from hearth.index.model import FileSymbols, Import
from hearth.index.redact import redact
from hearth.index.resolve import METADATA_FILES, WorkspaceFiles, resolve_import
from hearth.index.store import FileRecord, IndexStore, content_hash
from hearth.index.walker import (
    IgnoreRules,
    WalkOptions,
    classify_content,
    is_ignored_path,
    walk,
)

log = logging.getLogger(__name__)

# Below this many files to parse, worker processes cost more than they save.
PARALLEL_MIN_FILES = 300
SKIP_EXAMPLES = 5
PARENT_POLL_S = 0.2  # how soon a worker notices that Hearth is gone


@dataclass(frozen=True)
class IndexOptions:
    walk: WalkOptions = field(default_factory=WalkOptions)
    workers: int = 0  # 0: min(2, cores) for big jobs, in-process for small ones
    parse_timeout_ms: int = 2000


@dataclass
class IndexProgress:
    phase: str  # "scan", "parse", "done"
    done: int
    total: int


@dataclass
class IndexStats:
    seen: int = 0
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    scan_seconds: float = 0.0

    def skip(self, relpath: str, reason: str) -> None:
        self.skipped[reason] += 1
        examples = self.skipped_examples.setdefault(reason, [])
        if len(examples) < SKIP_EXAMPLES:
            examples.append(relpath)

    def as_json(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "errors": self.errors,
            "skipped": dict(self.skipped),
            "skipped_examples": self.skipped_examples,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class _Job:
    abspath: str
    relpath: str
    language: str
    max_bytes: int
    timeout_ms: int


@dataclass
class _Result:
    relpath: str
    language: str
    size: int
    mtime_ns: int
    hash: str
    symbols: FileSymbols | None
    skip: str | None = None


def _process(job: _Job) -> _Result:
    """Read, classify and extract one file (runs in a worker process or inline)."""
    try:
        st = os.stat(job.abspath)
        with open(job.abspath, "rb") as fh:
            data = fh.read(job.max_bytes + 1)
    except OSError:
        return _Result(job.relpath, job.language, 0, 0, "", None, "unreadable")
    if len(data) > job.max_bytes:
        return _Result(job.relpath, job.language, st.st_size, st.st_mtime_ns, "", None, "too-large")
    reason = classify_content(Path(job.abspath), data[:8192], len(data))
    if reason:
        return _Result(job.relpath, job.language, st.st_size, st.st_mtime_ns, "", None, reason)
    symbols = extract(data, job.language, max_bytes=job.max_bytes, timeout_ms=job.timeout_ms)
    return _Result(
        job.relpath, job.language, st.st_size, st.st_mtime_ns, content_hash(data), symbols
    )


def _process_batch(jobs: list[_Job]) -> list[_Result]:
    return [_process(job) for job in jobs]


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: end the worker once the process that started it is gone.

    A Hearth process that is killed (SIGKILL, an editor crash) cannot shut its pool down;
    without this its workers, and the resource tracker they keep open, wait on their queues
    forever.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="hearth-parent-watch", daemon=True).start()


class _Runner:
    """Parses jobs inline, or in worker processes once there are enough to pay for them.

    Jobs are handed to the workers in batches while the workspace is still being scanned, so
    process start-up and scanning overlap.
    """

    BATCH = 32

    def __init__(self, workers: int) -> None:
        self.workers = workers or min(2, os.cpu_count() or 1)
        self.count = 0
        self._pending: list[_Job] = []
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[list[_Result]]] = []

    @property
    def parallel(self) -> bool:
        return self._pool is not None

    def add(self, job: _Job) -> None:
        self.count += 1
        self._pending.append(job)
        if self._pool is None and self.workers >= 2 and self.count >= PARALLEL_MIN_FILES:
            # Spawned (not forked) workers: the LSP server runs threads, which a fork would
            # copy in an undefined state.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        if self._pool is not None and len(self._pending) >= self.BATCH:
            self._futures.append(self._pool.submit(_process_batch, self._pending))
            self._pending = []

    def results(self) -> Iterator[_Result]:
        if self._pool is None:
            jobs, self._pending = self._pending, []
            yield from map(_process, jobs)
            return
        if self._pending:
            self._futures.append(self._pool.submit(_process_batch, self._pending))
            self._pending = []
        for future in as_completed(self._futures):
            yield from future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class Indexer:
    def __init__(self, root: Path, store: IndexStore, options: IndexOptions | None = None) -> None:
        self.root = root.resolve()
        self.store = store
        self.options = options or IndexOptions()
        self.buffers: dict[str, str] = {}
        self._files: WorkspaceFiles | None = None
        self._ignore_rules: IgnoreRules | None = None
        self._ignore_rules_stamp: tuple[int, ...] = ()

    # -- paths -----------------------------------------------------------------------------
    def relpath(self, path: Path | str) -> str | None:
        """Workspace-relative POSIX path, or None when `path` lies outside the workspace."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            return p.resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return None

    def accepts(self, relpath: str) -> str | None:
        """Why `relpath` is not indexed (a skip reason), or None when it is."""
        if language_for_path(relpath) is None:
            return "extension"
        return is_ignored_path(self.root, relpath, self.options.walk, rules=self._rules())

    def _rules(self) -> IgnoreRules:
        """Ignore rules, re-read when an ignore file changed since they were loaded."""
        stamp = self._ignore_stamp()
        if self._ignore_rules is None or stamp != self._ignore_rules_stamp:
            self._ignore_rules = IgnoreRules(self.root, self.options.walk)
            self._ignore_rules_stamp = stamp
        return self._ignore_rules

    def _ignore_stamp(self) -> tuple[int, ...]:
        stamps = []
        for name in (".gitignore", ".hearthignore", ".git/info/exclude"):
            try:
                stamps.append((self.root / name).stat().st_mtime_ns)
            except OSError:
                stamps.append(0)
        return tuple(stamps)

    @property
    def workspace_files(self) -> WorkspaceFiles:
        if self._files is None:
            self._files = WorkspaceFiles(self.store.files().keys(), read_text=self._read_text)
        return self._files

    def _read_text(self, relpath: str) -> str | None:
        if relpath in self.buffers:
            return redact(self.buffers[relpath])
        try:
            return redact((self.root / relpath).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return None

    # -- full pass ---------------------------------------------------------------------------
    def index_all(self, progress: Callable[[IndexProgress], None] | None = None) -> IndexStats:
        t0 = time.perf_counter()
        stats = IndexStats()
        stored = self.store.files()
        seen: set[str] = set()
        runner = _Runner(self.options.workers)
        max_bytes = self.options.walk.max_file_bytes
        try:
            for entry in walk(self.root, self.options.walk, on_skip=stats.skip):
                language = language_for_path(entry.relpath)
                if language is None:
                    stats.skip(entry.relpath, "extension")
                    continue
                seen.add(entry.relpath)
                stats.seen += 1
                if entry.relpath in self.buffers:  # a rescan: the open buffer is the truth
                    stats.unchanged += 1
                    continue
                old = stored.get(entry.relpath)
                if (
                    old is not None
                    and old.source == "disk"
                    and old.size == entry.size
                    and old.mtime_ns == entry.mtime_ns
                ):
                    stats.unchanged += 1
                    continue
                runner.add(
                    _Job(
                        str(entry.path),
                        entry.relpath,
                        language,
                        max_bytes,
                        self.options.parse_timeout_ms,
                    )
                )
                if progress is not None and runner.count % 500 == 0:
                    progress(IndexProgress("scan", runner.count, 0))
            stats.scan_seconds = time.perf_counter() - t0
            gone = [p for p in stored if p not in seen and p not in self.buffers]
            total = runner.count
            with self.store.transaction() as conn:
                if gone:
                    stats.removed = self.store.remove_files(conn, gone)
                # Full-text rows are written as results arrive: this process mostly waits
                # for the workers, so that is cheaper than a rebuild at the end.
                for i, result in enumerate(runner.results(), 1):
                    self._store_result(conn, result, stored, stats)
                    if progress is not None and (i % 100 == 0 or i == total):
                        progress(IndexProgress("parse", i, total))
        finally:
            runner.close()
        self._files = None
        stats.seconds = time.perf_counter() - t0
        if progress is not None:
            progress(IndexProgress("done", total, total))
        return stats

    def _run(self, jobs: list[_Job]) -> Iterator[_Result]:
        runner = _Runner(self.options.workers)
        try:
            for job in jobs:
                runner.add(job)
            yield from runner.results()
        finally:
            runner.close()

    def _store_result(
        self,
        conn: Any,
        result: _Result,
        stored: dict[str, FileRecord],
        stats: IndexStats,
    ) -> None:
        if result.skip is not None or result.symbols is None:
            stats.skip(result.relpath, result.skip or "unreadable")
            if result.relpath in stored:
                self.store.remove_files(conn, [result.relpath])
            return
        old = stored.get(result.relpath)
        record = FileRecord(
            result.relpath,
            result.language,
            result.size,
            result.mtime_ns,
            result.hash,
            "disk",
            result.symbols.error,
        )
        if old is not None and old.hash == result.hash and old.source == "disk":
            conn.execute(
                "UPDATE files SET size=?, mtime_ns=? WHERE path=?",
                (result.size, result.mtime_ns, result.relpath),
            )
            stats.unchanged += 1
            return
        if result.symbols.error:
            stats.errors += 1
        self.store.put_file(conn, record, result.symbols)
        stats.indexed += 1

    # -- single files ----------------------------------------------------------------------
    def update_paths(self, paths: Iterable[Path | str]) -> IndexStats:
        """Bring the given paths (created, changed or deleted on disk) up to date, in one batch."""
        t0 = time.perf_counter()
        stats = IndexStats()
        # dict: ordered and O(1) membership, for a batch of thousands of paths.
        rels = list(dict.fromkeys(r for r in map(self.relpath, paths) if r is not None))
        self._note_project_files(rels)
        stored = self._records(rels)
        jobs: list[_Job] = []
        removed: list[str] = []
        for rel in rels:
            if rel in self.buffers:
                continue  # the open buffer is the truth until it is closed
            abspath = self.root / rel
            reason = self.accepts(rel)
            if not abspath.is_file() or reason is not None:
                if rel in stored:
                    removed.append(rel)
                elif reason is not None:
                    stats.skip(rel, reason)
                continue
            language = language_for_path(rel)
            assert language is not None
            stats.seen += 1
            jobs.append(
                _Job(
                    str(abspath),
                    rel,
                    language,
                    self.options.walk.max_file_bytes,
                    self.options.parse_timeout_ms,
                )
            )
        with self.store.transaction() as conn:
            stats.removed = self.store.remove_files(conn, removed)
            for result in self._run(jobs):
                self._store_result(conn, result, stored, stats)
        self._sync_files(rels)
        stats.seconds = time.perf_counter() - t0
        return stats

    def _note_project_files(self, rels: list[str]) -> None:
        """A changed ignore file or go.mod/tsconfig.json/... makes cached rules stale."""
        names = {rel.rsplit("/", 1)[-1] for rel in rels}
        if names & {".gitignore", ".hearthignore"}:
            self._ignore_rules = None
        if self._files is not None and names & METADATA_FILES:
            self._files.invalidate_metadata()

    def _records(self, rels: list[str]) -> dict[str, FileRecord]:
        """Stored records of just these paths (a full-table read costs more than the update)."""
        if len(rels) > 200:
            return self.store.files()
        out: dict[str, FileRecord] = {}
        for rel in rels:
            record = self.store.file(rel)
            if record is not None:
                out[rel] = record
        return out

    def set_buffer(self, path: Path | str, text: str) -> bool:
        """Index an open editor buffer's unsaved text; False when the file is not indexed."""
        rel = self.relpath(path)
        if rel is None or self.accepts(rel) is not None:
            return False
        language = language_for_path(rel)
        assert language is not None
        self.buffers[rel] = text
        data = text.encode("utf-8", errors="surrogatepass")
        if len(data) > self.options.walk.max_file_bytes:
            return False
        digest = content_hash(data)
        old = self.store.file(rel)
        if old is not None and old.hash == digest:
            return True
        symbols = extract(data, language, timeout_ms=self.options.parse_timeout_ms)
        record = FileRecord(rel, language, len(data), time.time_ns(), digest, "buffer", None)
        with self.store.transaction() as conn:
            self.store.put_file(conn, record, symbols)
        self._sync_files([rel])
        return True

    def close_buffer(self, path: Path | str) -> None:
        """The editor closed the file: the disk is the truth again."""
        rel = self.relpath(path)
        if rel is None or self.buffers.pop(rel, None) is None:
            return
        record = self.store.file(rel)
        if record is not None and record.source == "buffer":
            with self.store.transaction() as conn:
                conn.execute("UPDATE files SET source='disk', mtime_ns=-1 WHERE path=?", (rel,))
        self.update_paths([rel])

    def _sync_files(self, rels: Iterable[str]) -> None:
        if self._files is None:
            return
        for rel in rels:
            if self.store.file(rel) is not None:
                self._files.add(rel)
            else:
                self._files.remove(rel)

    # -- queries that need the file set ------------------------------------------------------
    def resolved_imports(self, relpath: str) -> list[tuple[Import, list[str]]]:
        record = self.store.file(relpath)
        if record is None:
            return []
        files = self.workspace_files
        return [
            (imp, resolve_import(record.language, relpath, imp, files))
            for imp in self.store.imports_of(relpath)
        ]
