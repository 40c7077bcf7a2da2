"""Watches the workspace for changes made outside the editor and batches them.

A `git checkout` touches thousands of files in a burst; paths are collected until the burst
goes quiet (or a time cap is reached) and handed over as one batch, so the index sees one
update, not a storm. The batch is bounded: past `MAX_BATCH_PATHS` paths, or when the kernel's
event queue overflowed (events were lost), the paths are dropped and the owner is asked to
rescan the workspace instead. A rescan compares (size, mtime) and hashes, so it is right
whatever was lost, and for a burst that big it costs no more than the single updates would.

Events come from two sources, both feeding one `ChangeBatcher`: the editor's
`workspace/didChangeWatchedFiles` notifications (preferred, see lsp/index_feature.py) and a
watchdog observer on the workspace (`WorkspaceWatcher`) when the editor does not watch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from hearth.index.languages import all_extensions, language_for_path
from hearth.index.resolve import METADATA_FILES
from hearth.index.walker import DEFAULT_EXCLUDE_DIRS

if TYPE_CHECKING:
    from hearth.index.indexer import Indexer, IndexStats

log = logging.getLogger(__name__)

QUIET_S = 0.3  # flush after this long without new events
MAX_WAIT_S = 3.0  # ... or at the latest this long after the first event of a batch
# More changed paths than this in one burst: rescan instead of updating path by path.
MAX_BATCH_PATHS = 5000
# A burst already known to end in a rescan waits for quiet longer: one rescan, not several.
STORM_MAX_WAIT_S = 30.0
IGNORE_FILES = frozenset({".gitignore", ".hearthignore"})
# Files whose change matters to the index without being indexed themselves.
PROJECT_FILES = IGNORE_FILES | METADATA_FILES
_SKIP_PARTS = tuple(f"/{d}/" for d in DEFAULT_EXCLUDE_DIRS)
_OVERFLOW_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")


def is_skipped(path: str) -> bool:
    """Inside a folder the index never reads (.git, node_modules, ...)."""
    p = path.replace("\\", "/")
    return any(part in p for part in _SKIP_PARTS)


def is_relevant_file(path: str) -> bool:
    """A file whose change can change the index: an indexed language or a project file."""
    name = os.path.basename(path)
    return name in PROJECT_FILES or language_for_path(name) is not None


def watched_globs() -> tuple[str, str]:
    """Glob patterns (LSP syntax) of what the index reads: (source files, project files)."""
    exts = sorted({e.lstrip(".") for e in all_extensions()})
    return "**/*.{" + ",".join(exts) + "}", "**/{" + ",".join(sorted(PROJECT_FILES)) + "}"


@dataclass(frozen=True)
class WatchCounters:
    events: int = 0  # paths received
    batches: int = 0  # batches handed over path by path
    paths: int = 0  # paths in those batches
    dropped: int = 0  # paths received while a rescan was already due
    rescans: int = 0
    last_rescan: str | None = None  # why

    def as_json(self) -> dict[str, object]:
        return {
            "events": self.events,
            "batches": self.batches,
            "paths": self.paths,
            "dropped": self.dropped,
            "rescans": self.rescans,
            "last_rescan": self.last_rescan,
        }


class ChangeBatcher:
    """Collects paths and calls `flush(paths)` once per burst, on its own thread.

    `flush` may block (the owner applies the batch before returning): what arrives meanwhile
    collects here, bounded by `max_paths`. Past that, or after `overflow()`, the paths are
    dropped and `rescan(reason)` is called instead of `flush` once the burst is over.
    """

    def __init__(
        self,
        flush: Callable[[list[str]], None],
        *,
        rescan: Callable[[str], None] | None = None,
        quiet_s: float = QUIET_S,
        max_wait_s: float = MAX_WAIT_S,
        max_paths: int = MAX_BATCH_PATHS,
        storm_max_wait_s: float = STORM_MAX_WAIT_S,
    ) -> None:
        self._flush = flush
        self._rescan = rescan
        self._quiet_s = quiet_s
        self._max_wait_s = max_wait_s
        self._max_paths = max_paths
        self._storm_max_wait_s = max(storm_max_wait_s, max_wait_s)
        self._cond = threading.Condition()
        self._pending: dict[str, None] = {}
        self._overflow: str | None = None
        self._first: float | None = None  # when the batch being collected began
        self._last = 0.0
        self._closed = False
        self._flushing = False
        self._counters = WatchCounters()
        self._thread = threading.Thread(target=self._loop, name="hearth-watch-batch", daemon=True)
        self._thread.start()

    @property
    def counters(self) -> WatchCounters:
        with self._cond:
            return self._counters

    def idle(self) -> bool:
        """Nothing collected and nothing being applied."""
        with self._cond:
            return self._first is None and not self._flushing

    def add(self, path: str) -> None:
        self.add_many((path,))

    def add_many(self, paths: Iterable[str]) -> None:
        with self._cond:
            received = dropped = 0
            for path in paths:
                received += 1
                if self._overflow is not None:
                    dropped += 1
                elif len(self._pending) >= self._max_paths and path not in self._pending:
                    self._start_overflow(f"more than {self._max_paths} changed paths in one burst")
                    dropped += 1
                else:
                    self._pending[path] = None
            if received:
                self._count(events=received, dropped=dropped)
                self._touch()

    def overflow(self, reason: str) -> None:
        """Events were lost (e.g. the kernel's queue overflowed): rescan once the burst ends."""
        with self._cond:
            if self._overflow is None:
                self._start_overflow(reason)
            self._touch()

    def _touch(self) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = now
            self._cond.notify()  # the loop sleeps until the first event of a batch
        self._last = now

    def _start_overflow(self, reason: str) -> None:
        log.warning("file watching: %s; the workspace will be rescanned", reason)
        self._overflow = reason
        self._count(dropped=len(self._pending))
        self._pending.clear()

    def _count(self, **delta: int) -> None:
        c = self._counters
        self._counters = replace(c, **{k: getattr(c, k) + v for k, v in delta.items()})

    def close(self, *, wait: bool = True) -> None:
        """Stop; what is still pending is dropped (the next start's scan finds it)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._first is None and not self._closed:
                    self._cond.wait()
                if self._closed or self._first is None:
                    return
                now = time.monotonic()
                cap = self._storm_max_wait_s if self._overflow else self._max_wait_s
                due = min(self._last + self._quiet_s, self._first + cap)
                if now < due:
                    self._cond.wait(due - now)
                    continue
                batch, reason = list(self._pending), self._overflow
                self._pending.clear()
                self._overflow = None
                self._first = None
                if reason is not None:
                    self._counters = replace(
                        self._counters, rescans=self._counters.rescans + 1, last_rescan=reason
                    )
                elif batch:
                    self._count(batches=1, paths=len(batch))
                self._flushing = True
            try:
                if reason is not None:
                    if self._rescan is not None:
                        self._rescan(reason)
                elif batch:
                    self._flush(batch)
            except Exception:  # a failed batch must not stop watching
                log.exception("indexing %d changed files failed", len(batch))
            finally:
                with self._cond:
                    self._flushing = False


def update_index(
    indexer: Indexer, paths: list[str], *, limit: int = MAX_BATCH_PATHS
) -> tuple[bool, IndexStats]:
    """Apply one batch of changed paths: path by path, or as a rescan when folder events
    expand past `limit` files. Returns (rescanned, stats)."""
    files = expand_folders(indexer, paths, limit=limit)
    if files is None:
        log.info("file watching: folder changes cover more than %d files; rescanning", limit)
        return True, indexer.index_all()
    return False, indexer.update_paths(files)


def expand_folders(indexer: Indexer, paths: list[str], *, limit: int) -> list[str] | None:
    """The files behind folder events, plus the paths themselves: a created or moved-in
    folder's files from disk, a deleted or moved-away folder's files from the index (watchers
    may report only the folder). None when that comes to more than `limit` paths: rescan."""
    out: dict[str, None] = {}
    stored: list[str] | None = None  # sorted indexed paths, read once when needed
    for path in paths:
        out[path] = None
        if os.path.isdir(path):
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = [d for d in dirnames if d not in DEFAULT_EXCLUDE_DIRS]
                out.update((os.path.join(dirpath, f), None) for f in filenames)
                if len(out) > limit:
                    return None
        elif not is_relevant_file(path) and not os.path.lexists(path):
            rel = indexer.relpath(path)
            if not rel:
                continue
            if stored is None:
                stored = sorted(indexer.store.files())
            prefix = rel + "/"
            i = bisect_left(stored, prefix)
            while i < len(stored) and stored[i].startswith(prefix):
                out[str(indexer.root / stored[i])] = None
                i += 1
            if len(out) > limit:
                return None
    return list(out)


class _OverflowLog(logging.Handler):
    """watchdog reports a kernel queue overflow only in its log (watchdog 7: "Inotify queue
    overflowed; ..."); this turns that record into a rescan."""

    def __init__(self, on_overflow: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            return
        if "overflow" in message.lower():
            self._on_overflow("the kernel's file event queue overflowed (events were lost)")


class WorkspaceWatcher:
    """A watchdog observer on the workspace feeding a ChangeBatcher."""

    def __init__(self, root: Path, batcher: ChangeBatcher) -> None:
        from watchdog import events as ev
        from watchdog.observers import Observer

        self.root = root
        self.batcher = batcher

        class Handler(ev.FileSystemEventHandler):
            def on_any_event(self, event: ev.FileSystemEvent) -> None:
                kind = event.event_type
                if event.is_directory:
                    # A folder's own create/delete/move: its files may not be reported.
                    if kind not in ("created", "deleted", "moved"):
                        return
                elif kind not in ("created", "modified", "deleted", "moved", "closed"):
                    return  # opened, closed without writing, attributes: no content change
                for raw in (event.src_path, getattr(event, "dest_path", "")):
                    path = os.fsdecode(raw) if raw else ""
                    if not path or is_skipped(path):
                        continue
                    if event.is_directory or is_relevant_file(path):
                        batcher.add(path)

        # Only content events: with every event, the indexer's own reads (open, close) would
        # come back as changes and be read again, forever.
        wanted = [
            ev.FileCreatedEvent,
            ev.FileModifiedEvent,
            ev.FileDeletedEvent,
            ev.FileMovedEvent,
            ev.FileClosedEvent,
            ev.DirCreatedEvent,
            ev.DirDeletedEvent,
            ev.DirMovedEvent,
        ]
        self._observer = Observer()
        try:
            self._observer.schedule(Handler(), str(root), recursive=True, event_filter=wanted)
        except TypeError:  # watchdog < 4 has no event filter; the handler filters instead
            self._observer.schedule(Handler(), str(root), recursive=True)
        self._overflow_log = _OverflowLog(batcher.overflow)

    def start(self) -> None:
        for name in _OVERFLOW_LOGGERS:
            logger = logging.getLogger(name)
            if not logger.isEnabledFor(logging.WARNING):
                logger.setLevel(logging.WARNING)
            logger.addHandler(self._overflow_log)
        self._observer.start()

    def stop(self) -> None:
        for name in _OVERFLOW_LOGGERS:
            logging.getLogger(name).removeHandler(self._overflow_log)
        self._observer.stop()
        self._observer.join(timeout=5)
