"""The LSP half of the privacy audit: a `hearth serve` session with a model, a document and
inline completions opens no network connection (Python audit hook in the server process;
tests/lsp/test_zero_egress.py covers native code at the OS level)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

sys.path.insert(0, str(Path(__file__).parent))
from completion_helpers import NETWORK_AUDIT, inline, open_doc, start, wait_model

CHILD = NETWORK_AUDIT + 'main(["serve"])\n'


async def test_serve_session_opens_no_connection(qwen_bpe_model: Path, tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    root = tmp_path / "ws"
    root.mkdir()
    (root / "lib.py").write_text("def helper(x):\n    return x * 2\n")
    client = LanguageClient()
    await client.start_io(
        sys.executable,
        "-c",
        CHILD,
        str(report),
        env={
            "HEARTH_CACHE_DIR": str(tmp_path / "cache"),
            "HEARTH_CONFIG_DIR": str(tmp_path / "config"),
            "PATH": "/usr/bin:/bin",
        },
    )
    await start(
        client,
        root,
        {"model": str(qwen_bpe_model), "indexDir": str(tmp_path / "index")},
    )
    await wait_model(client)
    uri = open_doc(client, root / "main.py", "from lib import helper\n\ndef run():\n    \n")
    assert await inline(client, uri, 3, 4)
    await inline(client, uri, 3, 4, explicit=False)
    await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="helper"))
    await client.shutdown_session()
    for _ in range(200):
        if report.exists():
            break
        await asyncio.sleep(0.05)
    assert json.loads(report.read_text())["network"] == []
