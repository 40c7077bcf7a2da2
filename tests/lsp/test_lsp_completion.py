"""Inline completion through a real `hearth serve` over stdio with synthesized models.

Random-weight models write nonsense, so these tests assert structure: capabilities, ranges,
which requests reach the model (the engine's counters), cancellation, tokens that must never
leak, and the postprocessing rules end to end; never what the model wrote.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from hearth.bench import synth
from hearth.completion.postprocess import _imbalance

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

QWEN_SPECIALS = (
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|fim_pad|>",
    "<|endoftext|>",
    "<|file_sep|>",
    "<|repo_name|>",
    "<|im_start|>",
    "<|im_end|>",
)
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "fibonacci.py"


@pytest.fixture(scope="session")
def slow_model(models_dir: Path) -> Path:
    """A wider qwen2 model with a long context: decoding 2,000 tokens takes seconds, so a
    cancel always lands mid-generation."""
    return synth.write_qwen_bpe(
        models_dir / "qwen-bpe-slow.gguf", n_embd=384, n_layer=6, n_ff=1536, n_ctx=4096
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def _options(model: Path, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"model": str(model), "indexDir": str(tmp_path / "index"), **extra}


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"])
)
async def client(
    lsp_client: LanguageClient, workspace: Path, tmp_path: Path, qwen_bpe_model: Path
) -> Any:
    result = await start(
        lsp_client,
        workspace,
        _options(
            qwen_bpe_model,
            tmp_path,
            speculative=False,
            warmup=False,
            debounceMs=0,
            completionStats=False,
        ),
    )
    lsp_client.hearth_capabilities = result.capabilities  # type: ignore[attr-defined]
    await wait_model(lsp_client)
    yield
    await lsp_client.shutdown_session()


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def test_capabilities_and_model_progress(client: LanguageClient) -> None:
    caps: types.ServerCapabilities = client.hearth_capabilities  # type: ignore[attr-defined]
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    st = await status(client)
    assert st["model"]["state"] == "ready" and st["model"]["backend"] == "llamacpp"
    assert st["busy"] in (True, False)
    titles = [
        getattr(v, "title", "")
        for reports in client.progress_reports.values()
        for v in reports
        if getattr(v, "kind", None) == "begin"
    ]
    assert any(t.startswith("Hearth: loading") for t in titles), titles


async def test_completion_has_a_valid_utf16_range(client: LanguageClient, workspace: Path) -> None:
    line = 's = "héllo 😀 wörld" + '
    text = f"def greet():\n    {line}\n"
    uri = open_doc(client, workspace / "greet.py", text)
    character = _utf16("    " + line)
    items = await inline(client, uri, 1, character)
    assert items, "an explicit request at the end of a line gets a suggestion"
    for item in items:
        assert item.range is not None
        assert item.range.start == item.range.end == types.Position(1, character)
        assert isinstance(item.insert_text, str) and item.insert_text.strip()
        assert item.command is not None and item.command.command == "hearth.suggestionAccepted"
    assert len(items) >= 1


async def test_special_tokens_never_appear(client: LanguageClient, workspace: Path) -> None:
    text = SAMPLE.read_text()
    uri = open_doc(client, workspace / "fib.py", text)
    lines = text.split("\n")
    seen = 0
    for n, line in enumerate(lines[:40]):
        for item in await inline(client, uri, n, len(line)):
            seen += 1
            assert not any(tok in item.insert_text for tok in QWEN_SPECIALS), item.insert_text
            assert "<|" not in item.insert_text
    assert seen > 10


async def test_typed_ahead_is_served_without_a_model_call(
    client: LanguageClient, workspace: Path
) -> None:
    text = "def total(values):\n    result = \n"
    uri = open_doc(client, workspace / "t.py", text)
    col = len("    result = ")
    first = await inline(client, uri, 1, col, explicit=False)
    assert first, "an automatic request at the end of a line gets a suggestion"
    suggestion = first[0].insert_text
    assert isinstance(suggestion, str)
    before = (await status(client))["completion"]["engine"]["generations"]
    line, character, version = 1, col, 1
    for typed, ch in enumerate(suggestion[:3], start=1):
        version += 1
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line, character),
                            end=types.Position(line, character),
                        ),
                        text=ch,
                    )
                ],
            )
        )
        if ch == "\n":
            line, character = line + 1, 0
        else:
            character += _utf16(ch)
        items = await inline(client, uri, line, character, explicit=False)
        remaining = suggestion[typed:]
        if not remaining.strip():
            break
        assert items and items[0].insert_text == remaining, (items, suggestion)
    after = await status(client)
    assert after["completion"]["engine"]["generations"] == before
    assert after["completion"]["counters"]["typed_ahead"] >= 1


async def test_indentation_and_suffix_overlap_rules_hold_end_to_end(
    client: LanguageClient, workspace: Path
) -> None:
    # Tabs, a block opener, code below the cursor: suggestions keep tabs and never dedent
    # below the block.
    text = "class A:\n\tdef run(self, items):\n\t\tfor item in items:\n\t\t\t\n\t\treturn items\n"
    uri = open_doc(client, workspace / "tabs.py", text)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"hearth": {"multiline": "always"}})
    )
    items = await inline(client, uri, 3, 3)
    for item in items:
        assert isinstance(item.insert_text, str)
        for ln in item.insert_text.split("\n")[1:]:
            if ln.strip():
                lead = ln[: len(ln) - len(ln.lstrip(" \t"))]
                assert "    " not in lead, repr(item.insert_text)  # tab document: no space units
                width = len(lead.expandtabs(4))
                assert width >= 12, repr(item.insert_text)  # the cursor's block is 3 tabs
        assert "return items" not in item.insert_text  # the suffix's next line is not repeated
    # Mid-line inside brackets that the suffix closes: a trailing closer is never duplicated.
    uri2 = open_doc(client, workspace / "calls.py", "x = 1\nprint(compute(1, ))\n")
    items = await inline(client, uri2, 1, len("print(compute(1, "))
    for item in items:
        s = item.insert_text
        assert isinstance(s, str)
        before, after = "print(compute(1, ", "))"
        if s.rstrip().endswith(")"):
            assert _imbalance(before + s + after) < _imbalance(before + s[:-1] + after), s


async def test_many_rapid_changes_leave_the_server_responsive_and_in_sync(
    client: LanguageClient, workspace: Path
) -> None:
    source = SAMPLE.read_text()
    uri = open_doc(client, workspace / "typed.py", "")
    text, line, character = "", 0, 0
    pending = []
    for i in range(500):
        ch = source[i % len(source)]
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=i + 2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line, character),
                            end=types.Position(line, character),
                        ),
                        text=ch,
                    )
                ],
            )
        )
        text += ch
        if ch == "\n":
            line, character = line + 1, 0
        else:
            character += _utf16(ch)
        pending.append(
            client.text_document_inline_completion_async(
                inline_params(uri, line, character, explicit=False)
            )
        )
    results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 120)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    stats = await completion_stats_for(client, uri)
    assert stats["document"]["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert stats["document"]["version"] == 501
    assert (await status(client))["model"]["state"] == "ready"
    # Still answers a normal request promptly.
    await asyncio.wait_for(inline(client, uri, line, character), 30)


async def completion_stats_for(client: LanguageClient, uri: str) -> dict[str, Any]:
    from completion_helpers import plain

    result: dict[str, Any] = plain(
        await client.protocol.send_request_async("hearth/completionStats", {"uri": uri})
    )
    return result


async def test_configuration_change_turns_completion_off(
    client: LanguageClient, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "c.py", "def f():\n    return \n")
    assert await inline(client, uri, 1, 11)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"hearth": {"completionEnabled": False}})
    )
    await status(client)  # a round trip: the notification has been handled
    assert await inline(client, uri, 1, 11) == []
    stats = await completion_stats(client)
    assert stats["recent"][-1]["source"] == "disabled"
