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
        # Spec conformance, framing, exit codes (lsp/protocol.py); it includes the
        # Explain/Review command context (lsp/command_context.py).
        from hearth.lsp.protocol import HearthProtocol

        super().__init__("hearth", __version__, protocol_cls=HearthProtocol)
        self.settings = Settings()
        self.root: Path | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # -- which open documents the features leave alone (lsp/document_guard.py) --
        from hearth.lsp.document_guard import DocumentGuard

        self.guard = DocumentGuard(
            lambda: self.settings.document_max_bytes,
            lambda text: self.show_message(f"Hearth: {text}", types.MessageType.Warning),
        )
        from hearth.lsp.index_feature import IndexFeature

        self.index = IndexFeature(self)
        # -- model and inline completion (lsp/model_feature.py, lsp/completion_feature.py) --
        from hearth.lsp.completion_feature import CompletionFeature
        from hearth.lsp.model_feature import ModelFeature

        self.model = ModelFeature(self)
        self.completion = CompletionFeature(self)
        # -- Explain and Review (lsp/assist_feature.py) --
        from hearth.lsp.assist_feature import AssistFeature

        self.assist = AssistFeature(self)

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """stdio with Hearth's framing, exit codes and parent-process watch (lsp/protocol.py)."""
        from hearth.lsp.protocol import serve_stdio

        raise SystemExit(serve_stdio(self, stdin, stdout))

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the server's event loop (safe from any thread)."""
        if self.loop is None or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(fn, *args)

    def show_message(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        self.call_soon(
            self.window_show_message, types.ShowMessageParams(type=kind, message=message)
        )

    async def configuration_changed(self, raw: Any) -> None:
        """workspace/didChangeConfiguration: the pushed "hearth" section, else pulled."""
        values = raw.get("hearth", raw) if isinstance(raw, dict) else None
        if not isinstance(values, dict) or not values:
            values = await self._pull_configuration()
        if not values:
            return
        old = self.settings
        try:
            new = old.merged(values, "workspace/didChangeConfiguration")
        except HearthError as exc:
            log.warning("settings: %s", exc.user_message())
            self.show_message(f"Hearth: {exc.user_message()}", types.MessageType.Warning)
            return
        self.settings = new
        self.completion.settings_changed(old, new)
        self.model.settings_changed(old, new)

    async def _pull_configuration(self) -> dict[str, Any] | None:
        ws = self.client_capabilities.workspace
        if not (ws and ws.configuration):
            return None
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="hearth")])
            )
        except Exception as exc:
            log.debug("workspace/configuration failed: %s", exc)
            return None
        first = result[0] if result else None
        return first if isinstance(first, dict) else None

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
        ls.completion.start()
        ls.model.start(ls.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: HearthServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.index.buffer_changed(params.text_document.uri)
        ls.completion.did_open(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: HearthServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.index.buffer_changed(params.text_document.uri)
        ls.completion.did_change(params)
        ls.assist.document_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: HearthServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.index.buffer_closed(params.text_document.uri)
        ls.completion.did_close(params.text_document.uri)
        ls.guard.closed(params.text_document.uri)
        ls.assist.document_closed(params.text_document.uri)

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
        return {
            "index": ls.index.status(),
            "model": ls.model.status(),
            "busy": ls.model.busy(),
            "completion": ls.completion.status(),
        }

    # -- inline completion (hearth.completion) ---------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: HearthServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        return await ls.completion.inline_completion(params)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(
        ls: HearthServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        return await ls.completion.completion(params)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: HearthServer, params: types.DidChangeConfigurationParams
    ) -> None:
        await ls.configuration_changed(params.settings)

    @server.command("hearth.suggestionAccepted")
    def suggestion_accepted_command(ls: HearthServer, *args: Any) -> None:
        ls.completion.suggestion_event("accepted", list(args))

    for kind in ("shown", "accepted", "rejected"):

        def on_suggestion(ls: HearthServer, params: Any, kind: str = kind) -> None:
            ls.completion.suggestion_event(kind, params)

        server.feature(f"hearth/suggestion{kind.capitalize()}")(on_suggestion)

    @server.feature("hearth/completionStats")
    def completion_stats(ls: HearthServer, params: Any) -> dict[str, Any]:
        return ls.completion.completion_stats(params)

    # -- Explain and Review (hearth.assist) ------------------------------------------------
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.Refactor]
        ),
    )
    def code_action(ls: HearthServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return ls.assist.code_actions(params)

    @server.command("hearth.explain")
    async def explain_command(ls: HearthServer, *args: Any) -> dict[str, Any]:
        return await ls.assist.explain(list(args))

    @server.command("hearth.review")
    async def review_command(ls: HearthServer, *args: Any) -> dict[str, Any]:
        return await ls.assist.review(list(args))

    # -- context engine (hearth.context) ---------------------------------------------------
    @server.command("hearth.showContext")
    def show_context(ls: HearthServer, *args: Any) -> dict[str, Any]:
        from hearth.lsp.context_command import show_context_command

        return show_context_command(ls, list(args))

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: HearthServer, params: None) -> None:
        ls.index.stop()
        await ls.model.shutdown()

    return server
