"""Model lifecycle and request control through a real `hearth serve`: a missing model is
reported once and nothing crashes, `$/cancelRequest` and supersession stop a generation, and
clients without inline completion get the `textDocument/completion` fallback."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from hearth.bench import synth

sys.path.insert(0, str(Path(__file__).parent))
from completion_helpers import (
    completion_stats,
    inline,
    inline_params,
    open_doc,
    start,
    status,
    wait_model,
)

SERVE = ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"])


@pytest.fixture(scope="session")
def slow_model(models_dir: Path) -> Path:
    """A wider qwen2 model with a long context: 2,000 tokens take seconds to decode, so a
    cancel always lands mid-generation."""
    return synth.write_qwen_bpe(
        models_dir / "qwen-bpe-slow.gguf", n_embd=384, n_layer=6, n_ff=1536, n_ctx=4096
    )


@pytest_lsp.fixture(config=SERVE)
async def missing(lsp_client: LanguageClient, tmp_path: Path) -> Any:
    root = tmp_path / "ws"
    root.mkdir()
    await start(
        lsp_client,
        root,
        {
            "model": str(tmp_path / "nowhere" / "model.gguf"),
            "indexDir": str(tmp_path / "index"),
            "completionStats": False,
        },
    )
    lsp_client.hearth_root = root  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def test_missing_model_is_reported_once_and_the_server_keeps_serving(
    missing: LanguageClient,
) -> None:
    st = await wait_model(missing, "error")
    assert "no model file at" in st["model"]["message"]
    messages: list[types.ShowMessageParams] = []
    for _ in range(100):
        messages = [m for m in missing.messages if "completion model is off" in m.message]
        if messages:
            break
        await asyncio.sleep(0.05)
    assert len(messages) == 1 and messages[0].type == types.MessageType.Error
    assert "no model file at" in messages[0].message
    root: Path = missing.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(missing, root / "a.py", "def f():\n    return \n")
    assert await asyncio.wait_for(inline(missing, uri, 1, 11), 5) == []
    # Everything else still answers.
    await missing.workspace_symbol_async(types.WorkspaceSymbolParams(query="f"))
    assert (await status(missing))["model"]["state"] == "error"


@pytest_lsp.fixture(config=SERVE)
async def slow(lsp_client: LanguageClient, tmp_path: Path, slow_model: Path) -> Any:
    root = tmp_path / "ws"
    root.mkdir()
    await start(
        lsp_client,
        root,
        {
            "model": str(slow_model),
            "indexDir": str(tmp_path / "index"),
            "completionStats": False,
            "speculative": False,
            "warmup": False,
            "debounceMs": 0,
            "multiline": "always",
            "maxTokens": 2500,
            "timeBudgetMs": 120000,
            "explicitCandidates": 1,
        },
    )
    await wait_model(lsp_client)
    lsp_client.hearth_root = root  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def _idle(client: LanguageClient, within_s: float) -> None:
    for _ in range(int(within_s / 0.05)):
        if not (await status(client))["busy"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the model is still busy: the generation was not stopped")


def _send_inline(client: LanguageClient, params: Any, msg_id: str) -> asyncio.Future[Any]:
    future = client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
    )
    return asyncio.wrap_future(future)


async def _wait_busy(client: LanguageClient) -> None:
    for _ in range(400):
        if (await status(client))["busy"]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the model never started")


async def test_cancel_request_stops_the_generation(slow: LanguageClient) -> None:
    root: Path = slow.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(slow, root / "a.py", "def f():\n    \n")
    future = _send_inline(slow, inline_params(uri, 1, 4), "cancel-me")
    await _wait_busy(slow)
    await asyncio.sleep(0.3)
    slow.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    with pytest.raises(Exception, match="cancel"):
        await asyncio.wait_for(future, 10)
    await _idle(slow, 5)
    stats = await completion_stats(slow)
    assert stats["counters"].get("cancelled") == 1
    assert stats["recent"][-1]["source"] == "cancelled"


async def test_newer_request_supersedes_the_running_one(slow: LanguageClient) -> None:
    root: Path = slow.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(slow, root / "b.py", "def f():\n    \n\ndef g():\n    \n")
    first = _send_inline(slow, inline_params(uri, 1, 4, explicit=False), "first")
    await _wait_busy(slow)
    await asyncio.sleep(0.2)
    second = _send_inline(slow, inline_params(uri, 4, 4, explicit=False), "second")
    assert await asyncio.wait_for(first, 10) is None  # superseded: an empty answer at once
    stats = await completion_stats(slow)
    assert stats["counters"].get("superseded", 0) >= 1
    assert stats["recent"][0]["stop"] == "cancelled"
    slow.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="second"))
    with pytest.raises(Exception, match="cancel"):
        await asyncio.wait_for(second, 10)
    await _idle(slow, 5)


@pytest_lsp.fixture(config=SERVE)
async def plain_client(lsp_client: LanguageClient, tmp_path: Path, qwen_bpe_model: Path) -> Any:
    root = tmp_path / "ws"
    root.mkdir()
    caps = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            completion=types.CompletionClientCapabilities()
        )
    )
    await start(
        lsp_client,
        root,
        {
            "model": str(qwen_bpe_model),
            "indexDir": str(tmp_path / "index"),
            "completionStats": False,
            "speculative": False,
        },
        caps,
    )
    await wait_model(lsp_client)
    lsp_client.hearth_root = root  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def test_completion_fallback_for_clients_without_inline_completion(
    plain_client: LanguageClient,
) -> None:
    root: Path = plain_client.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(plain_client, root / "a.py", "def f(x):\n    return \n")
    result = await plain_client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(1, 11),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1
    item = result.items[0]
    assert item.label.startswith("✦ ") and item.detail and "Hearth" in item.detail
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.range.start == item.text_edit.range.end == types.Position(1, 11)
    assert item.text_edit.new_text.strip()
    # Switched off by configuration.
    plain_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"hearth": {"completionFallback": "off"}})
    )
    await status(plain_client)
    off = await plain_client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 11)
        )
    )
    assert off is None


async def test_request_for_an_edited_document_gets_content_modified(slow: LanguageClient) -> None:
    """An edit while a request runs makes its answer stale: -32801, not a misplaced suggestion
    (a newer request with no edit in between still gets the empty supersession answer)."""
    root: Path = slow.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(slow, root / "c.py", "def f():\n    \n\ndef g():\n    \n")
    first = _send_inline(slow, inline_params(uri, 1, 4, explicit=False), "stale")
    await _wait_busy(slow)
    await asyncio.sleep(0.2)
    slow.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(1, 4), types.Position(1, 4)), text="x"
                )
            ],
        )
    )
    second = _send_inline(slow, inline_params(uri, 1, 5, explicit=False), "fresh")
    with pytest.raises(JsonRpcException) as err:
        await asyncio.wait_for(first, 10)
    assert err.value.code == -32801
    stats = await completion_stats(slow)
    assert stats["counters"].get("stale") == 1
    slow.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="fresh"))
    with pytest.raises(Exception, match="cancel"):
        await asyncio.wait_for(second, 10)
    await _idle(slow, 5)
