"""Watches the workspace for changes made outside the editor and batches them.

A `git checkout` touches thousands of files in a burst; the watcher collects paths until the
burst goes quiet (or a cap is reached) and hands them to the indexer as one batch, so the
index sees one update, not a storm.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

QUIET_S = 0.3  # flush after this long without new events
MAX_WAIT_S = 3.0  # ... or at the latest this long after the first event of a batch
_SKIP_DIRS = ("/.git/", "/node_modules/", "/.venv/", "/__pycache__/", "/.mypy_cache/")


class ChangeBatcher:
    """Collects paths and calls `flush(paths)` once per burst, on its own thread."""

    def __init__(
        self,
        flush: Callable[[list[str]], None],
        *,
        quiet_s: float = QUIET_S,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self._flush = flush
        self._quiet_s = quiet_s
        self._max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._pending: dict[str, None] = {}
        self._first = 0.0
        self._last = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="hearth-watch-batch", daemon=True)
        self._thread.start()

    def add(self, path: str) -> None:
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._pending[path] = None
            self._last = now
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                now = time.monotonic()
                due = min(self._last + self._quiet_s, self._first + self._max_wait_s)
                if now < due:
                    self._cond.wait(due - now)
                    continue
                batch = list(self._pending)
                self._pending.clear()
            try:
                self._flush(batch)
            except Exception:  # a failed batch must not stop watching
                log.exception("indexing %d changed files failed", len(batch))


class WorkspaceWatcher:
    """A watchdog observer on the workspace feeding a ChangeBatcher."""

    def __init__(self, root: Path, on_batch: Callable[[list[str]], None]) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        self.root = root
        self.batcher = ChangeBatcher(on_batch)
        batcher = self.batcher

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory:
                    return
                for raw in (event.src_path, getattr(event, "dest_path", "")):
                    path = raw.decode() if isinstance(raw, bytes) else str(raw)
                    if path and not any(d in path for d in _SKIP_DIRS):
                        batcher.add(path)

        self._observer = Observer()
        self._observer.schedule(Handler(), str(root), recursive=True)

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)
        self.batcher.close()
