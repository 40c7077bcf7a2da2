"""One wiring module: `create_server()` builds the server and registers every LSP method once.

Handlers stay thin: they parse params, call a feature object, and convert the result. Work
that blocks (indexing, inference) runs on its own threads; anything those threads send to the
client goes through `HearthServer.call_soon`, on the event loop that owns the transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from hearth import __version__
from hearth.errors import HearthError
from hearth.settings import Settings, load_settings

log = logging.getLogger(__name__)


class HearthServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("hearth", __version__)
        self.settings = Settings()
        self.root: Path | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        from hearth.lsp.index_feature import IndexFeature

        self.index = IndexFeature(self)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the server's event loop (safe from any thread)."""
        if self.loop is None or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(fn, *args)

    def show_message(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        self.call_soon(
            self.window_show_message, types.ShowMessageParams(type=kind, message=message)
        )

    def supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)


def _root_of(params: types.InitializeParams) -> Path | None:
    from pygls.uris import to_fs_path

    if params.workspace_folders:
        path = to_fs_path(params.workspace_folders[0].uri)
        return Path(path) if path else None
    if params.root_uri:
        path = to_fs_path(params.root_uri)
        return Path(path) if path else None
    if params.root_path:
        return Path(params.root_path)
    return None


def create_server() -> HearthServer:
    server = HearthServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: HearthServer, params: types.InitializeParams) -> None:
        ls.root = _root_of(params)
        options = params.initialization_options
        try:
            ls.settings = load_settings(
                ls.root,
                overrides=options if isinstance(options, dict) else None,
                overrides_source="initializationOptions",
            )
        except HearthError as exc:
            log.warning("settings: %s", exc.user_message())
            ls.settings = load_settings(ls.root)
            ls.show_message(f"Hearth: {exc.user_message()}", types.MessageType.Warning)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: HearthServer, params: types.InitializedParams) -> None:
        ls.loop = asyncio.get_running_loop()
        if ls.root is not None:
            ls.index.start(ls.root, ls.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: HearthServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.index.buffer_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: HearthServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.index.buffer_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: HearthServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.index.buffer_closed(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: HearthServer, params: types.DidChangeWatchedFilesParams) -> None:
        ls.index.files_changed([c.uri for c in params.changes])

    @server.feature(types.WORKSPACE_SYMBOL)
    def workspace_symbol(
        ls: HearthServer, params: types.WorkspaceSymbolParams
    ) -> list[types.WorkspaceSymbol]:
        return ls.index.workspace_symbols(params.query)

    @server.feature("hearth/status")
    def status(ls: HearthServer, params: Any) -> dict[str, Any]:
        """Hearth's own state for the editors' status views (LSP has no standard for it)."""
        return {"index": ls.index.status()}

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: HearthServer, params: None) -> None:
        ls.index.stop()

    return server
