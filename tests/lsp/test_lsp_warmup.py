"""Idle-time warm-up through a real `hearth serve`, proved with the engine's counters.

After didOpen, a pause in typing, or a cursor jump (a request the trigger rules skip), the
server evaluates the prompt for the cursor with no generation: the engine's `warmups` and
`evaluated_tokens` grow, `generations` does not. The completion that follows at that place
then evaluates only the token or two the backend needs for fresh logits, against a prompt of
hundreds; with `warmup` off it evaluates the whole prompt.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from hearth.bench.scripted_fim import write_scripted_completer

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
TEXT = "".join(f"def step_{i}(value):\n    return value * {i} + {i * 7}\n\n" for i in range(12))
EDIT_LINE = 4  # "    return value * 1 + 7": the user types at its end
EDIT = " - 2"
JUMP = (16, 4)  # the start of "return" in step_5: code right of the cursor, so skipped
FEW = 2  # prompt tokens a warm request may evaluate (the backend keeps one for its logits)
WARM_WAIT_S = 1.5  # well past the server's pause before a warm-up (WARM_DELAY_S, 0.4 s)


@pytest.fixture(scope="session")
def scripted_model(models_dir: Path) -> Path:
    return write_scripted_completer(models_dir / "scripted-completer.gguf")


def _options(model: Path, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "model": str(model),
        "indexDir": str(tmp_path / "index"),
        "completionStats": False,
        "speculative": False,
        "debounceMs": 0,
        "explicitCandidates": 1,
        **extra,
    }


@pytest_lsp.fixture(config=SERVE)
async def warm(lsp_client: LanguageClient, tmp_path: Path, scripted_model: Path) -> Any:
    root = tmp_path / "ws"
    root.mkdir()
    await start(lsp_client, root, _options(scripted_model, tmp_path))  # warmup: the default
    # Opened while the model may still be loading (as an editor restoring its tabs does).
    lsp_client.hearth_uri = open_doc(lsp_client, root / "steps.py", TEXT)  # type: ignore[attr-defined]
    await wait_model(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVE)
async def cold(lsp_client: LanguageClient, tmp_path: Path, scripted_model: Path) -> Any:
    root = tmp_path / "ws"
    root.mkdir()
    await start(lsp_client, root, _options(scripted_model, tmp_path, warmup=False))
    await wait_model(lsp_client)
    lsp_client.hearth_uri = open_doc(lsp_client, root / "steps.py", TEXT)  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def _engine(client: LanguageClient) -> dict[str, int]:
    return dict((await status(client))["completion"]["engine"])


async def _warmed(client: LanguageClient, warmups: int) -> dict[str, int]:
    """The engine counters once `warmups` warm-ups have run and the worker is idle."""
    for _ in range(400):
        st = await status(client)
        engine = st["completion"]["engine"]
        if engine.get("warmups", 0) >= warmups and not st["busy"]:
            return dict(engine)
        await asyncio.sleep(0.05)
    raise AssertionError(f"warm-up {warmups} never ran: {st['completion']}")


async def _served(client: LanguageClient) -> dict[str, Any]:
    record: dict[str, Any] = (await completion_stats(client))["recent"][-1]
    assert record["source"] == "model", record
    return record


def _line(n: int) -> str:
    return TEXT.split("\n")[n]


async def test_open_pause_and_jump_warm_the_prompt(warm: LanguageClient) -> None:
    uri: str = warm.hearth_uri  # type: ignore[attr-defined]
    # didOpen: the prompt for the cursor (the top of the file) is evaluated, nothing generated.
    e1 = await _warmed(warm, 1)
    assert e1["warmups"] == 1 and "generations" not in e1
    assert e1["evaluated_tokens"] >= 20
    assert await inline(warm, uri, 0, 0)  # explicit: the user asks at the top
    top = await _served(warm)
    assert top["evaluated_tokens"] <= FEW < top["prompt_tokens"], top
    assert top["reused_tokens"] >= top["prompt_tokens"] - FEW
    e2 = await _engine(warm)
    assert e2["generations"] == 1 and e2["warmups"] == 1
    assert e2["evaluated_tokens"] == e1["evaluated_tokens"] + top["evaluated_tokens"]

    # A pause after typing: the end of the edit is warmed, then the automatic request there
    # evaluates a token or two of a prompt of hundreds.
    col = len(_line(EDIT_LINE))
    type_at(warm, uri, 2, EDIT_LINE, col, EDIT)
    e3 = await _warmed(warm, 2)
    assert e3["generations"] == 1  # warming generated nothing
    warmed_tokens = e3["evaluated_tokens"] - e2["evaluated_tokens"]
    assert warmed_tokens >= 20
    assert await inline(warm, uri, EDIT_LINE, col + len(EDIT), explicit=False)
    typed = await _served(warm)
    assert typed["prompt_tokens"] >= 100
    assert typed["evaluated_tokens"] <= FEW, typed
    e4 = await _engine(warm)
    assert e4["evaluated_tokens"] == e3["evaluated_tokens"] + typed["evaluated_tokens"]
    assert e4["warmups"] == 2  # the served request left nothing to warm

    # A cursor jump: a request the trigger rules skip (code right of the cursor) warms the
    # new place after the pause; asking there explicitly is then warm.
    assert await inline(warm, uri, *JUMP, explicit=False) == []
    assert (await completion_stats(warm))["recent"][-1]["source"] == "skipped"
    e5 = await _warmed(warm, 3)
    assert e5["generations"] == 2
    assert await inline(warm, uri, *JUMP)
    jumped = await _served(warm)
    assert jumped["prompt_tokens"] >= 100
    assert jumped["evaluated_tokens"] <= FEW, jumped


async def test_warmup_off_leaves_the_prompt_cold(cold: LanguageClient) -> None:
    uri: str = cold.hearth_uri  # type: ignore[attr-defined]
    col = len(_line(EDIT_LINE))
    type_at(cold, uri, 2, EDIT_LINE, col, EDIT)
    await asyncio.sleep(WARM_WAIT_S)  # a warm-up, were it on, would have run by now
    engine = await _engine(cold)
    assert "warmups" not in engine and "evaluated_tokens" not in engine
    assert "warmups" not in (await status(cold))["completion"]["counters"]
    assert await inline(cold, uri, EDIT_LINE, col + len(EDIT), explicit=False)
    record = await _served(cold)
    assert record["prompt_tokens"] >= 100
    assert record["evaluated_tokens"] == record["prompt_tokens"]  # all of it, at request time


def test_a_warm_up_yields_to_a_completion_for_another_document(scripted_model: Path) -> None:
    """A warm-up runs at background priority in small chunks and is preemptible: a request
    for another document (which does not supersede it) stops it at the next chunk instead of
    waiting for a long prompt to finish; the warm-up is dropped, not resumed."""
    from hearth.engine.generate import GenerationRequest
    from hearth.engine.service import Engine, ModelSpec, Role

    engine = Engine(ModelSpec(scripted_model, "llamacpp"))
    try:
        backend = engine.load(Role.COMPLETION).result(60)
        long = backend.tokenize(TEXT * 8)[:1800]
        assert len(long) == 1800
        started = threading.Event()

        def build_warm(_b: Any) -> list[int]:
            started.set()
            return long

        warm = engine.warm(Role.COMPLETION, build_warm, group="a.py")
        assert started.wait(30)
        job = engine.submit(
            Role.COMPLETION,
            lambda b: (b.tokenize("x = 1"), GenerationRequest(max_tokens=2)),
            group="b.py",
            supersede=True,
        )
        gen = job.result(60)
        evaluated = warm.result(60)
        assert evaluated < len(long) // 2, evaluated  # stopped early, not run to the end
        assert gen.n_prompt > 0
        assert engine.counters["warmups"] == 1 and engine.counters["generations"] == 1
    finally:
        engine.close()
