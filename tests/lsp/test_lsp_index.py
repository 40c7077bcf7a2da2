"""The index through a real `hearth serve` over stdio: progress while indexing, open buffers
win over the disk, external changes are picked up, secrets never show up."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from hearth.lsp.jsonvalue import plain

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "workspace"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(FIXTURE, root)
    (root / ".env").write_text("SECRET_TOKEN_FN = 'hunter2'\ndef leaked_secret_fn(): pass\n")
    return root


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"])
)
async def client(lsp_client: LanguageClient, workspace: Path, tmp_path: Path) -> Any:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True)
            ),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options={"indexDir": str(tmp_path / "index")},
        )
    )
    yield
    await lsp_client.shutdown_session()


async def _status(client: LanguageClient) -> dict[str, Any]:
    result = await client.protocol.send_request_async("hearth/status", {})
    status: dict[str, Any] = plain(result)
    return status


async def _wait_ready(client: LanguageClient) -> dict[str, Any]:
    for _ in range(300):
        status = await _status(client)
        if status["index"].get("state") == "ready":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"index never became ready: {status}")


async def _symbols(client: LanguageClient, query: str) -> list[str]:
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
    return [s.name for s in result or []]


async def _eventually(client: LanguageClient, query: str, present: bool) -> list[str]:
    names: list[str] = []
    for _ in range(100):
        names = await _symbols(client, query)
        if (query in names) == present:
            return names
        await asyncio.sleep(0.05)
    raise AssertionError(f"{query!r} {'missing' if present else 'still there'}: {names}")


async def test_initial_index_reports_progress_and_answers(client: LanguageClient) -> None:
    status = await _wait_ready(client)
    assert status["index"]["files"] > 5
    assert status["index"]["definitions"] > 10
    # The work-done progress ran begin -> report... -> end.
    kinds = [
        getattr(v, "kind", None) for reports in client.progress_reports.values() for v in reports
    ]
    assert kinds[0] == "begin" and kinds[-1] == "end"


async def test_secret_files_are_never_indexed(client: LanguageClient) -> None:
    await _wait_ready(client)
    assert await _symbols(client, "leaked_secret_fn") == []
    assert await _symbols(client, "SECRET_TOKEN_FN") == []


async def test_open_buffer_wins_over_disk(client: LanguageClient, workspace: Path) -> None:
    await _wait_ready(client)
    path = workspace / "py" / "app.py"
    uri = path.as_uri()
    text = path.read_text()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(
                    text=text + "\n\ndef typed_but_unsaved_fn():\n    return 1\n"
                )
            ],
        )
    )
    await _eventually(client, "typed_but_unsaved_fn", present=True)
    assert "typed_but_unsaved_fn" not in path.read_text()
    # Closing the buffer without saving: the disk is the truth again.
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await _eventually(client, "typed_but_unsaved_fn", present=False)


async def test_changes_made_outside_the_editor(client: LanguageClient, workspace: Path) -> None:
    await _wait_ready(client)
    new = workspace / "py" / "external.py"
    new.write_text("def written_by_git_checkout():\n    pass\n")
    await _eventually(client, "written_by_git_checkout", present=True)
    new.unlink()
    await _eventually(client, "written_by_git_checkout", present=False)


async def test_did_change_watched_files(client: LanguageClient, workspace: Path) -> None:
    await _wait_ready(client)
    new = workspace / "py" / "notified.py"
    new.write_text("def announced_by_the_editor():\n    pass\n")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=new.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    await _eventually(client, "announced_by_the_editor", present=True)
