"""The engine's worker with a real model: completions go first, chat work pauses between two
tokens and resumes intact, a newer completion supersedes the older one."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.generate import Generation, GenerationRequest, StopReason
from hearth.engine.service import Engine, ModelSpec, Role
from hearth.engine.worker import JobHandle

OPTS = LoadOptions(n_ctx=512, n_threads=2, n_batch=64)


def _build(text: str, max_tokens: int):  # type: ignore[no-untyped-def]
    def build(b: Backend) -> tuple[list[int], GenerationRequest]:
        return b.tokenize(text), GenerationRequest(max_tokens=max_tokens)

    return build


def test_completion_preempts_chat_and_chat_resumes_intact(llama_spm_model: Path) -> None:
    spec = ModelSpec(llama_spm_model, "llamacpp", OPTS)
    engine = Engine(spec, spec)
    chat_build = _build("Explain this code:\nclass Stack:\n    def push(self, item):\n", 120)
    try:
        baseline = engine.submit(Role.CHAT, chat_build).result(timeout=120)
        finished: dict[str, float] = {}
        completion: list[JobHandle[Generation]] = []
        streamed: list[str] = []

        def on_text(text: str) -> None:
            streamed.append(text)
            if not completion:  # the chat job is running: a completion arrives now
                completion.append(
                    engine.submit(Role.COMPLETION, _build("def add(a, b):\n    return", 8))
                )

        chat = engine.submit(Role.CHAT, chat_build, on_text=on_text)
        chat.future.add_done_callback(lambda _f: finished.setdefault("chat", time.monotonic()))
        result = chat.result(timeout=120)
        assert completion, "the chat job never streamed; nothing was preempted"
        done = completion[0].result(timeout=120)
        assert done.stop_reason is not StopReason.CANCELLED
        completion_end = time.monotonic()
        if baseline.n_generated > 1:
            # The completion ran while the chat job was paused, not after it.
            assert completion[0].future.done()
            assert finished["chat"] <= completion_end
        assert result.tokens == baseline.tokens
        assert result.text == baseline.text
        assert "".join(streamed) == result.text
    finally:
        engine.close()


def test_newer_completion_supersedes_queued_and_running(llama_spm_model: Path) -> None:
    spec = ModelSpec(llama_spm_model, "llamacpp", OPTS)
    engine = Engine(spec)
    try:
        engine.load(Role.COMPLETION).result(timeout=60)
        gate = threading.Event()
        blocker = engine.worker.submit(lambda _c: gate.wait(30))
        older = engine.submit(Role.COMPLETION, _build("x = 1\n", 50), group="doc", supersede=True)
        newer = engine.submit(Role.COMPLETION, _build("x = 2\n", 5), group="doc", supersede=True)
        gate.set()
        blocker.result(timeout=30)
        assert older.future.cancelled()
        assert newer.result(timeout=60).n_generated <= 5
    finally:
        engine.close()
