"""Shared helpers for the inline-completion LSP tests: a client session against a real
`hearth serve` with a synthesized model, and small readers for its custom requests."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from hearth.lsp.jsonvalue import plain

#: The start of a child script that runs Hearth under a socket audit hook: connects, binds,
#: sends and lookups are recorded and written as JSON ({"network": [...]}) to argv[1] at
#: exit. (An audit hook cannot be removed, so it never runs in the test runner.) The script
#: goes on with the command to run, e.g. `main(["serve"])`.
NETWORK_AUDIT = textwrap.dedent(
    """
    import atexit, json, sys
    seen = []
    def hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                     "socket.sendto", "socket.bind"):
            seen.append([event, repr(args)[:200]])
    sys.addaudithook(hook)
    report = sys.argv[1]
    atexit.register(lambda: json.dump({"network": seen}, open(report, "w")))
    from hearth.cli import main
    """
)

INLINE_CAPS = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True),
    text_document=types.TextDocumentClientCapabilities(
        inline_completion=types.InlineCompletionClientCapabilities(),
        synchronization=types.TextDocumentSyncClientCapabilities(),
    ),
    workspace=types.WorkspaceClientCapabilities(configuration=False),
)


async def status(client: LanguageClient) -> dict[str, Any]:
    result: dict[str, Any] = plain(await client.protocol.send_request_async("hearth/status", {}))
    return result


async def completion_stats(client: LanguageClient) -> dict[str, Any]:
    result: dict[str, Any] = plain(
        await client.protocol.send_request_async("hearth/completionStats", {})
    )
    return result


async def wait_model(client: LanguageClient, state: str = "ready") -> dict[str, Any]:
    st: dict[str, Any] = {}
    for _ in range(600):
        st = await status(client)
        if st["model"]["state"] == state:
            return st
        if st["model"]["state"] == "error" and state != "error":
            raise AssertionError(f"model failed: {st['model']}")
        await asyncio.sleep(0.05)
    raise AssertionError(f"model never became {state}: {st}")


async def start(
    client: LanguageClient,
    root: Path,
    options: dict[str, Any],
    caps: types.ClientCapabilities = INLINE_CAPS,
) -> types.InitializeResult:
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
            initialization_options=options,
        )
    )


def open_doc(client: LanguageClient, path: Path, text: str, language: str = "python") -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )
    return uri


def type_at(client: LanguageClient, uri: str, version: int, line: int, col: int, text: str) -> None:
    """Insert `text` at (line, col), as an editor reports a keystroke or an accepted item."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, col), types.Position(line, col)),
                    text=text,
                )
            ],
        )
    )


def inline_params(uri: str, line: int, character: int, explicit: bool = True) -> Any:
    kind = (
        types.InlineCompletionTriggerKind.Invoked
        if explicit
        else types.InlineCompletionTriggerKind.Automatic
    )
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind),
    )


async def inline(
    client: LanguageClient, uri: str, line: int, character: int, explicit: bool = True
) -> list[types.InlineCompletionItem]:
    result = await client.text_document_inline_completion_async(
        inline_params(uri, line, character, explicit)
    )
    if result is None:
        return []
    if isinstance(result, types.InlineCompletionList):
        return list(result.items)
    return list(result)
