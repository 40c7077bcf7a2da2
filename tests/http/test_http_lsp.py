"""An editor's Hearth against a loopback server: `hearth serve` with backend = "http"."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from hearth.bench import scripted

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp"))
from completion_helpers import inline, open_doc, start, status, wait_model


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"])
)
async def client(lsp_client: LanguageClient, tmp_path: Path, scripted_server: Any) -> Any:
    await _start_http(lsp_client, tmp_path, scripted_server.url)
    yield
    await lsp_client.shutdown_session()


async def _start_http(lsp_client: LanguageClient, tmp_path: Path, url: str) -> None:
    """A session on the http backend at `url`, with nothing running in the background."""
    root = tmp_path / "ws"
    root.mkdir()
    lsp_client.hearth_root = root  # type: ignore[attr-defined]
    options = {
        "backend": "http",
        "serverUrl": url,
        "contextLength": 2048,
        "indexDir": str(tmp_path / "index"),
        "speculative": False,
        "warmup": False,
        "debounceMs": 0,
        "completionStats": False,
    }
    await start(lsp_client, root, options)
    await wait_model(lsp_client)


async def test_inline_completion_through_the_server(client: LanguageClient) -> None:
    st = await status(client)
    assert st["model"]["state"] == "ready"
    assert st["model"]["backend"] == "http"
    assert st["model"]["remote"] is None  # loopback: nothing to warn about
    root: Path = client.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(client, root / "calc.py", "def add(a, b):\n    \n")
    items = await inline(client, uri, 1, 4)
    assert items, "the server's answer reaches the editor as ghost text"
    assert scripted.EXPLANATION.split()[0] in str(items[0].insert_text)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"])
)
async def client_own_server(lsp_client: LanguageClient, tmp_path: Path, make_server: Any) -> Any:
    server = make_server("scripted").start()
    lsp_client.llama_server = server  # type: ignore[attr-defined]
    await _start_http(lsp_client, tmp_path, server.url)
    yield
    await lsp_client.shutdown_session()


async def test_server_gone_gives_empty_answers_then_recovers(
    client_own_server: LanguageClient,
) -> None:
    client = client_own_server
    root: Path = client.hearth_root  # type: ignore[attr-defined]
    server = client.llama_server  # type: ignore[attr-defined]
    uri = open_doc(client, root / "a.py", "def add(a, b):\n    \n\ndef sub(a, b):\n    \n\nx = 1\n")
    assert await inline(client, uri, 1, 4)
    server.kill()
    assert await inline(client, uri, 4, 4) == []  # an empty answer, not a JSON-RPC error
    server.start()
    assert await inline(client, uri, 6, 5)  # the next request reconnects
