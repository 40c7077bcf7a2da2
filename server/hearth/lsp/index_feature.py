"""Keeps the workspace index fresh from the LSP side: initial index with progress, open
buffers (debounced), watched-file notifications and a watcher for changes made elsewhere.

All index writes run on one thread, in order; the LSP handlers only hand work over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from hearth.errors import HearthError
from hearth.settings import Settings

if TYPE_CHECKING:
    from hearth.index.indexer import Indexer, IndexProgress
    from hearth.index.watcher import WorkspaceWatcher
    from hearth.lsp.server import HearthServer

log = logging.getLogger(__name__)

BUFFER_DEBOUNCE_S = 0.4

_SYMBOL_KINDS = {
    "function": types.SymbolKind.Function,
    "method": types.SymbolKind.Method,
    "class": types.SymbolKind.Class,
    "struct": types.SymbolKind.Struct,
    "interface": types.SymbolKind.Interface,
    "trait": types.SymbolKind.Interface,
    "enum": types.SymbolKind.Enum,
    "type": types.SymbolKind.TypeParameter,
    "constant": types.SymbolKind.Constant,
    "module": types.SymbolKind.Module,
}


class IndexFeature:
    def __init__(self, server: HearthServer) -> None:
        self.server = server
        self.indexer: Indexer | None = None
        self.ready = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-index")
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self._watcher: WorkspaceWatcher | None = None
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, root: Path, settings: Settings) -> Future[Any]:
        return self._executor.submit(self._initial_index, root, settings)

    def _initial_index(self, root: Path, settings: Settings) -> None:
        from hearth.index.workspace import open_index

        try:
            self.indexer = open_index(root, settings)
        except HearthError as exc:
            self.server.show_message(f"Hearth: the index is off: {exc.user_message()}")
            return
        if self.indexer.store.warning:
            self.server.show_message(
                f"Hearth: {self.indexer.store.warning}", types.MessageType.Warning
            )
        # Watch before the first scan: what changes during it is queued and applied after.
        self._start_watcher(root)
        token = self._progress_begin("Hearth: indexing")
        try:
            stats = self.indexer.index_all(progress=lambda p: self._progress_report(token, p))
            log.info(
                "index ready: %d files read, %d unchanged, %d removed in %.2f s",
                stats.indexed,
                stats.unchanged,
                stats.removed,
                stats.seconds,
            )
        except Exception:
            log.exception("initial index failed")
            self.server.show_message("Hearth: indexing failed; see the log for details")
        finally:
            self._progress_end(token)
        # Buffers opened while indexing.
        for uri in list(self.server.workspace.text_documents):
            self._index_buffer(uri)
        self.ready.set()

    def _start_watcher(self, root: Path) -> None:
        if self._stopped:
            return
        try:
            from hearth.index.watcher import WorkspaceWatcher

            self._watcher = WorkspaceWatcher(root, self._on_batch)
            self._watcher.start()
        except Exception as exc:  # e.g. inotify limits: the editor's notifications remain
            log.warning("file watcher unavailable (%s); relying on the editor's notifications", exc)

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        if self._watcher is not None:
            self._watcher.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- events from the editor --------------------------------------------------------------
    def buffer_changed(self, uri: str) -> None:
        """Debounce per document: index the text once typing pauses."""
        with self._lock:
            old = self._timers.pop(uri, None)
            if old is not None:
                old.cancel()
            timer = threading.Timer(BUFFER_DEBOUNCE_S, self._submit_buffer, (uri,))
            timer.daemon = True
            self._timers[uri] = timer
            timer.start()

    def _submit_buffer(self, uri: str) -> None:
        with self._lock:
            self._timers.pop(uri, None)
        if not self._stopped:
            self._executor.submit(self._index_buffer, uri)

    def _index_buffer(self, uri: str) -> None:
        if self.indexer is None:
            return
        path = to_fs_path(uri)
        doc = self.server.workspace.text_documents.get(uri)
        if path is None or doc is None:
            return
        try:
            self.indexer.set_buffer(Path(path), doc.source)
        except Exception:
            log.exception("indexing the open buffer %s failed", path)

    def buffer_closed(self, uri: str) -> None:
        with self._lock:
            timer = self._timers.pop(uri, None)
            if timer is not None:
                timer.cancel()
        path = to_fs_path(uri)
        if path is not None and not self._stopped:
            self._executor.submit(self._close_buffer, Path(path))

    def _close_buffer(self, path: Path) -> None:
        if self.indexer is not None:
            self.indexer.close_buffer(path)

    def files_changed(self, uris: list[str]) -> None:
        paths = [p for p in (to_fs_path(u) for u in uris) if p]
        self._on_batch(paths)

    def _on_batch(self, paths: list[str]) -> None:
        if not self._stopped and paths:
            self._executor.submit(self._update, paths)

    def _update(self, paths: list[str]) -> None:
        if self.indexer is None:
            return
        stats = self.indexer.update_paths(paths)
        log.debug(
            "index update: %d read, %d removed in %.1f ms",
            stats.indexed,
            stats.removed,
            stats.seconds * 1000,
        )

    # -- queries -----------------------------------------------------------------------------
    def workspace_symbols(self, query: str, limit: int = 100) -> list[types.WorkspaceSymbol]:
        if self.indexer is None or not query:
            return []
        store = self.indexer.store
        hits = store.definitions_with_prefix(query, limit=limit)
        if len(hits) < limit:
            seen = {(h.path, h.definition.start_line) for h in hits}
            hits += [
                h
                for h in store.definitions_fuzzy(query, limit=limit - len(hits))
                if (h.path, h.definition.start_line) not in seen
            ]
        root = self.indexer.root
        out = []
        for h in hits:
            d = h.definition
            out.append(
                types.WorkspaceSymbol(
                    name=d.name,
                    kind=_SYMBOL_KINDS.get(d.kind, types.SymbolKind.Variable),
                    container_name=d.scope or None,
                    location=types.Location(
                        uri=(root / h.path).as_uri(),
                        range=types.Range(
                            start=types.Position(line=d.start_line, character=0),
                            end=types.Position(line=d.end_line, character=0),
                        ),
                    ),
                )
            )
        return out

    def status(self) -> dict[str, Any]:
        if self.indexer is None:
            return {"state": "starting" if not self._stopped else "off"}
        info = self.indexer.store.stats()
        info["state"] = "ready" if self.ready.is_set() else "indexing"
        info["warning"] = self.indexer.store.warning
        return info

    # -- progress ----------------------------------------------------------------------------
    def _progress_begin(self, title: str) -> str | None:
        """Create a progress token (waiting for the client's answer), then begin."""
        server = self.server
        if not server.supports_progress() or server.loop is None:
            return None
        token = f"hearth-index-{uuid.uuid4().hex[:8]}"

        async def create() -> None:
            await server.work_done_progress.create_async(token)

        coro = create()
        try:
            asyncio.run_coroutine_threadsafe(coro, server.loop).result(timeout=5)
        except Exception as exc:  # the client refused or never answered: no progress UI
            coro.close()
            log.debug("no progress token from the client: %s", exc)
            return None
        value = types.WorkDoneProgressBegin(title=title, message="scanning", percentage=0)
        server.call_soon(server.work_done_progress.begin, token, value)
        return token

    def _progress_report(self, token: str | None, p: IndexProgress) -> None:
        if token is None or p.phase != "parse" or not p.total:
            return
        value = types.WorkDoneProgressReport(
            message=f"{p.done}/{p.total} files", percentage=int(100 * p.done / p.total)
        )
        self.server.call_soon(self.server.work_done_progress.report, token, value)

    def _progress_end(self, token: str | None) -> None:
        if token is None:
            return
        self.server.call_soon(
            self.server.work_done_progress.end, token, types.WorkDoneProgressEnd(message="done")
        )
