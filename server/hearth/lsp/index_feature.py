"""Keeps the workspace index fresh from the LSP side: initial index with progress, open
buffers (debounced), and changes made elsewhere (a `git checkout`, a build).

Changes made elsewhere come from the editor's file watching when it offers it (dynamic
`workspace/didChangeWatchedFiles` registration: one watcher, the editor's, instead of two
competing for the kernel's watch limits), else from our own watchdog observer; the
`file_watcher` setting can force either or turn both off. Both feed one bounded batcher
(index/watcher.py) that turns an overflow or an event storm into one rescan.

All index writes run on one thread, in order; the LSP handlers only hand work over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.uris import to_fs_path

from hearth.errors import HearthError
from hearth.settings import Settings

if TYPE_CHECKING:
    from hearth.index.indexer import Indexer, IndexProgress
    from hearth.index.watcher import ChangeBatcher, WorkspaceWatcher
    from hearth.lsp.server import HearthServer

log = logging.getLogger(__name__)
_T = TypeVar("_T")

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
        self._batcher: ChangeBatcher | None = None
        self._watch_setting = "auto"
        self._watch_mode = "off"  # "client", "server" or "off": who reports changes
        self._watch_note: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_rescan: dict[str, Any] | None = None
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, root: Path, settings: Settings) -> Future[Any]:
        """Index the workspace and start watching it (call on the event loop, after
        `initialized`: a registration request is only allowed from then on)."""
        self._watch_setting = settings.file_watcher
        self._watch_mode = self._choose_watch_mode(settings.file_watcher)
        future = self._executor.submit(
            self._initial_index, root, settings, self._watch_mode == "server"
        )
        if self._watch_mode == "client" and self._client_watches():
            self._spawn(self._register_client_watchers(root))
        return future

    def _initial_index(self, root: Path, settings: Settings, watch: bool = True) -> None:
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
        if watch:
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

            watcher = WorkspaceWatcher(root, self._changes())
            watcher.start()
        except Exception as exc:  # e.g. inotify limits: the editor's notifications remain
            log.warning("file watcher unavailable (%s); relying on the editor's notifications", exc)
            self._watch_mode, self._watch_note = "off", f"file watcher unavailable: {exc}"
            return
        with self._lock:
            stopped, self._watcher = self._stopped, watcher
        if stopped:
            watcher.stop()

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            watcher, self._watcher = self._watcher, None
            batcher, self._batcher = self._batcher, None
        for task in list(self._tasks):
            task.cancel()
        if watcher is not None:
            watcher.stop()
        if batcher is not None:
            batcher.close(wait=False)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- who watches -------------------------------------------------------------------------
    def _client_watches(self) -> bool:
        """The client registers file watchers for us on request (LSP 3.x dynamic registration)."""
        ws = self.server.client_capabilities.workspace
        watched = ws.did_change_watched_files if ws else None
        return bool(watched and watched.dynamic_registration)

    def _choose_watch_mode(self, setting: str) -> str:
        if setting == "auto":
            return "client" if self._client_watches() else "server"
        if setting == "client" and not self._client_watches():
            self._watch_note = (
                "the editor offers no file watching; only the changes it reports unasked count"
            )
        return setting

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` on the server's loop, keeping a reference until it ends."""
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # not on the loop (a test driving the feature directly)
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _register_client_watchers(self, root: Path) -> None:
        ws = self.server.client_capabilities.workspace
        watched = ws.did_change_watched_files if ws else None
        relative = bool(watched and watched.relative_pattern_support)
        try:
            await self.server.client_register_capability_async(
                client_watch_registration(root, relative=relative)
            )
        except Exception as exc:
            why = f"the editor refused file watching ({exc})"
            if self._watch_setting == "auto" and not self._stopped:
                log.warning("%s; watching the workspace with watchdog instead", why)
                self._watch_mode, self._watch_note = "server", why
                await asyncio.get_running_loop().run_in_executor(None, self._start_watcher, root)
            else:
                log.warning("%s", why)
                self._watch_note = why
            return
        log.info("file watching: the editor reports changes (relative patterns: %s)", relative)
        self._watch_note = None

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
        from hearth.lsp.document_guard import usable

        text = doc.source
        try:
            if self.server.guard.check(uri, text, doc.version) is not None:
                # Too large or binary-looking: not indexed as typed; the disk is the truth.
                self.indexer.close_buffer(Path(path))
                return
            self.indexer.set_buffer(Path(path), usable(text))
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
        """workspace/didChangeWatchedFiles: into the same bounded batcher as our own watcher."""
        from hearth.index.watcher import is_relevant_file, is_skipped

        if self._stopped:
            return
        paths = [
            p
            for p in (to_fs_path(u) for u in uris)
            if p
            and not is_skipped(p)
            # The catch-all folder watcher also reports files the index never reads.
            and (is_relevant_file(p) or not os.path.lexists(p) or os.path.isdir(p))
        ]
        if paths:
            self._changes().add_many(paths)

    def _changes(self) -> ChangeBatcher:
        from hearth.index.watcher import ChangeBatcher

        with self._lock:
            if self._batcher is None:
                self._batcher = ChangeBatcher(self._apply_batch, rescan=self._apply_rescan)
            return self._batcher

    def _apply_batch(self, paths: list[str]) -> None:
        """On the batcher's thread: apply and wait, so what arrives meanwhile collects in the
        (bounded) batcher rather than in an unbounded queue of index jobs."""
        self._run_and_wait(self._update, paths)

    def _apply_rescan(self, reason: str) -> None:
        self._run_and_wait(self._rescan, reason)

    def _run_and_wait(self, fn: Callable[[_T], None], arg: _T) -> None:
        if self._stopped:
            return
        with contextlib.suppress(CancelledError, RuntimeError):  # shutting down
            self._executor.submit(fn, arg).result()

    def _update(self, paths: list[str]) -> None:
        from hearth.index.watcher import update_index

        if self.indexer is None:
            return
        try:
            rescanned, stats = update_index(self.indexer, paths)
        except Exception:
            log.exception("indexing %d changed files failed", len(paths))
            return
        if rescanned:
            self._last_rescan = {"reason": "folder changes", **stats.as_json()}
        log.debug(
            "index update: %d read, %d removed in %.1f ms",
            stats.indexed,
            stats.removed,
            stats.seconds * 1000,
        )

    def _rescan(self, reason: str) -> None:
        """Events were lost or too many: compare the whole workspace instead (stat, then
        hash), which reads only what changed."""
        if self.indexer is None:
            return
        log.info("file watching: %s; rescanning the workspace", reason)
        try:
            stats = self.indexer.index_all()
        except Exception:
            log.exception("rescanning the workspace failed")
            return
        log.info(
            "rescan: %d files read, %d unchanged, %d removed in %.2f s",
            stats.indexed,
            stats.unchanged,
            stats.removed,
            stats.seconds,
        )
        self._last_rescan = {"reason": reason, **stats.as_json()}

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
            return {
                "state": "starting" if not self._stopped else "off",
                "watch": self.watch_status(),
            }
        info = self.indexer.store.stats()
        info["state"] = "ready" if self.ready.is_set() else "indexing"
        info["warning"] = self.indexer.store.warning
        info["watch"] = self.watch_status()
        return info

    def watch_status(self) -> dict[str, Any]:
        """Who reports changes made outside the editor, and what came of them."""
        from hearth.index.watcher import WatchCounters

        batcher = self._batcher
        counters = batcher.counters if batcher is not None else WatchCounters()
        return {
            "mode": self._watch_mode,
            "setting": self._watch_setting,
            "note": self._watch_note,
            "busy": batcher is not None and not batcher.idle(),
            **counters.as_json(),
            "last_rescan_stats": self._last_rescan,
        }

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


def client_watch_registration(root: Path, *, relative: bool) -> types.RegistrationParams:
    """What to ask the editor to watch: the indexed languages' files, the files that change
    how they are read (ignore files, go.mod, tsconfig.json, package.json...), and a
    create/delete catch-all, because editors report a folder moved or deleted as a whole
    by the folder's path alone."""
    from hearth.index.watcher import watched_globs

    def glob(pattern: str) -> types.GlobPattern:
        if relative:  # LSP 3.17: scoped to the workspace folder, cheaper for the editor
            return types.RelativePattern(base_uri=root.as_uri(), pattern=pattern)
        return pattern

    every = types.WatchKind.Create | types.WatchKind.Change | types.WatchKind.Delete
    sources, project = watched_globs()
    watchers = [
        types.FileSystemWatcher(glob_pattern=glob(sources), kind=every),
        types.FileSystemWatcher(glob_pattern=glob(project), kind=every),
        types.FileSystemWatcher(
            glob_pattern=glob("**/*"), kind=types.WatchKind.Create | types.WatchKind.Delete
        ),
    ]
    return types.RegistrationParams(
        registrations=[
            types.Registration(
                id=f"hearth-watch-{uuid.uuid4().hex[:8]}",
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
            )
        ]
    )
