"""Speculative next completion through a real `hearth serve`, proved with the engine's counters.

After a suggestion is served the server computes, in the background, the suggestion for the
place the cursor reaches if it is accepted. The model here is hand-weighted
(`hearth.bench.scripted_fim`): every completion is the same known text, so "accept, then go
on" is deterministic. Every engine generation is accounted for: one per request that reached
the model (`counters.generations`) plus one per speculation; a request served from the
speculation starts none of its own and evaluates no prompt tokens.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from hearth.bench.scripted_fim import SUGGESTION, write_scripted_completer

sys.path.insert(0, str(Path(__file__).parent))
from completion_helpers import (
    completion_stats,
    inline,
    open_doc,
    start,
    status,
    type_at,
    wait_model,
)

SERVE = ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"])
TEXT = "def total(values):\n    result = \n"
LINE, COL = 1, len("    result = ")


@pytest.fixture(scope="session")
def scripted_model(models_dir: Path) -> Path:
    return write_scripted_completer(models_dir / "scripted-completer.gguf")


@pytest.fixture(scope="session")
def endless_model(models_dir: Path) -> Path:
    """Writes its suggestion over and over up to max_tokens; wide and deep enough that a
    speculation of 200 tokens takes far longer than the editor's accept and next request (a
    few messages over stdio), even on a fast idle machine."""
    return write_scripted_completer(
        models_dir / "scripted-endless.gguf", endless=True, n_embd=512, n_layer=8
    )


def _options(model: Path, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    # Warm-up off: only requests and speculations reach the model, so the counts are exact.
    return {
        "model": str(model),
        "indexDir": str(tmp_path / "index"),
        "completionStats": False,
        "warmup": False,
        "debounceMs": 0,
        **extra,
    }


async def _session(client: LanguageClient, tmp_path: Path, options: dict[str, Any]) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    await start(client, root, options)
    await wait_model(client)
    client.hearth_root = root  # type: ignore[attr-defined]


@pytest_lsp.fixture(config=SERVE)
async def on(lsp_client: LanguageClient, tmp_path: Path, scripted_model: Path) -> Any:
    await _session(lsp_client, tmp_path, _options(scripted_model, tmp_path))  # the default: on
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVE)
async def off(lsp_client: LanguageClient, tmp_path: Path, scripted_model: Path) -> Any:
    await _session(lsp_client, tmp_path, _options(scripted_model, tmp_path, speculative=False))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVE)
async def endless(lsp_client: LanguageClient, tmp_path: Path, endless_model: Path) -> Any:
    options = _options(endless_model, tmp_path, maxTokens=200, timeBudgetMs=60000)
    await _session(lsp_client, tmp_path, options)
    yield
    await lsp_client.shutdown_session()


async def _idle(client: LanguageClient) -> dict[str, Any]:
    """The completion status once the worker has nothing queued or running."""
    for _ in range(600):
        st = await status(client)
        if not st["busy"]:
            return dict(st["completion"])
        await asyncio.sleep(0.05)
    raise AssertionError("the model never became idle")


async def _speculated(client: LanguageClient, n: int) -> dict[str, Any]:
    """The completion status once `n` speculations started (each waits for the user's usual
    gap between keystrokes to pass with no new one), or after 5 s."""
    for _ in range(100):
        st = dict((await status(client))["completion"])
        if st["counters"].get("speculations", 0) >= n:
            return st
        await asyncio.sleep(0.05)
    return st


async def _accept(
    client: LanguageClient, uri: str, version: int, at: tuple[int, int], item: Any
) -> tuple[int, int]:
    """What an editor does when the user takes a suggestion: says it was shown, runs the
    item's command, inserts the text. Returns the cursor after the text."""
    assert item.command is not None
    sid = item.command.arguments[0]["id"]
    client.protocol.notify("hearth/suggestionShown", {"uri": uri, "id": sid})
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
    )
    text: str = item.insert_text
    line, col = at
    type_at(client, uri, version, line, col, text)
    assert "\n" not in text  # a single-line place: the cursor stays on the line
    return line, col + len(text.encode("utf-16-le")) // 2


def _accounted(completion: dict[str, Any]) -> None:
    """Every engine generation is a request's own or a speculation."""
    counters, engine = completion["counters"], completion["engine"]
    assert engine["generations"] == counters["generations"] + counters.get("speculations", 0), (
        completion
    )


async def test_accepting_and_going_on_is_served_by_the_speculation(on: LanguageClient) -> None:
    root: Path = on.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(on, root / "t.py", TEXT)
    items = await inline(on, uri, LINE, COL, explicit=False)
    assert [i.insert_text for i in items] == [SUGGESTION]
    after_first = await _idle(on)
    assert after_first["counters"]["generations"] == 1
    assert after_first["counters"]["speculations"] == 1
    assert after_first["engine"]["generations"] == 2  # the request, then its speculation
    assert after_first["cache_entries"] == 2  # this place and the next one

    # Accept, and go on three times: each next suggestion is already there.
    at = (LINE, COL)
    for n in range(3):
        before = await _idle(on)
        at = await _accept(on, uri, 2 + n, at, items[0])
        items = await inline(on, uri, *at, explicit=False)
        assert [i.insert_text for i in items] == [SUGGESTION]
        record = (await completion_stats(on))["recent"][-1]
        assert record["source"] == "cache", record
        assert "evaluated_tokens" not in record and "generated_tokens" not in record
        now = await _speculated(on, 2 + n)
        assert now["counters"]["generations"] == 1  # no request hit the model
        # The only new model call is the speculation for the place after this one.
        assert now["counters"]["speculations"] == 2 + n
        assert before["counters"]["speculations"] == 1 + n
    done = await _idle(on)
    _accounted(done)
    assert done["engine"]["generations"] == 1 + 4
    assert done["counters"]["accepted"] == 3  # hearth.suggestionAccepted, once per accept

    # Switched off at run time: a served suggestion starts no speculation any more.
    on.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"hearth": {"speculative": False}})
    )
    await status(on)
    other = open_doc(on, root / "u.py", TEXT)
    assert [i.insert_text for i in await inline(on, other, LINE, COL, explicit=False)] == [
        SUGGESTION
    ]
    final = await _idle(on)
    assert final["counters"]["speculations"] == done["counters"]["speculations"]
    assert final["engine"]["generations"] == done["engine"]["generations"] + 1
    _accounted(final)


async def test_accepting_at_once_waits_for_the_running_speculation(
    endless: LanguageClient,
) -> None:
    """The user accepts before the speculation has finished: the request for the next place
    waits for it instead of superseding it and starting the same generation again."""
    root: Path = endless.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(endless, root / "t.py", TEXT)
    items = await inline(endless, uri, LINE, COL, explicit=False)
    assert items and items[0].insert_text.startswith(SUGGESTION * 3)
    at = await _accept(endless, uri, 2, (LINE, COL), items[0])
    nxt = await inline(endless, uri, *at, explicit=False)
    assert nxt and nxt[0].insert_text.startswith(SUGGESTION * 3)
    stats = await completion_stats(endless)
    record = stats["recent"][-1]
    assert record["source"] == "speculation", record
    assert "evaluated_tokens" not in record
    assert stats["counters"]["speculation_hits"] == 1
    assert stats["counters"]["generations"] == 1
    assert "superseded" not in stats["counters"] and "cancelled" not in stats["counters"]
    # The request's speculation, then one for the place after the suggestion just taken.
    assert stats["counters"]["speculations"] == 2


async def test_typing_on_within_the_usual_gap_starts_no_speculation(on: LanguageClient) -> None:
    """A keystroke that comes before the user's usual gap between keystrokes has passed means
    the user is typing on: the speculation for the shown suggestion never starts, so the next
    request does not wait for it."""
    root: Path = on.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(on, root / "t.py", TEXT)
    col = COL
    for version in range(2, 7):  # a rhythm: a keystroke every 0.25 s
        type_at(on, uri, version, LINE, col, "(")
        col += 1
        await asyncio.sleep(0.25)
    items = await inline(on, uri, LINE, col, explicit=False)
    assert [i.insert_text for i in items] == [SUGGESTION]
    type_at(on, uri, 7, LINE, col, "x")  # at once: well inside the gap
    await asyncio.sleep(0.6)
    done = await _idle(on)
    assert done["counters"]["generations"] == 1
    assert "speculations" not in done["counters"], done["counters"]
    assert done["counters"]["speculations_skipped"] == 1
    _accounted(done)

    # The same rhythm, but the user stops to read: the speculation starts after the gap.
    items = await inline(on, uri, LINE, col + 1, explicit=False)
    assert [i.insert_text for i in items] == [SUGGESTION]
    after = await _speculated(on, 1)
    assert after["counters"]["speculations"] == 1
    _accounted(await _idle(on))


async def test_speculation_off_makes_the_next_request_call_the_model(off: LanguageClient) -> None:
    root: Path = off.hearth_root  # type: ignore[attr-defined]
    uri = open_doc(off, root / "t.py", TEXT)
    items = await inline(off, uri, LINE, COL, explicit=False)
    assert [i.insert_text for i in items] == [SUGGESTION]
    first = await _idle(off)
    assert "speculations" not in first["counters"]
    assert first["engine"]["generations"] == 1
    assert first["cache_entries"] == 1
    at = await _accept(off, uri, 2, (LINE, COL), items[0])
    assert [i.insert_text for i in await inline(off, uri, *at, explicit=False)] == [SUGGESTION]
    record = (await completion_stats(off))["recent"][-1]
    assert record["source"] == "model"
    assert record["evaluated_tokens"] >= 1 and record["generated_tokens"] >= 1
    done = await _idle(off)
    assert done["engine"]["generations"] == 2 == done["counters"]["generations"]
    assert "speculations" not in done["counters"]
