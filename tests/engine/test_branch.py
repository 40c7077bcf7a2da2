"""A speculative completion keeps the user's context aside (Backend.checkpoint), on a real
qwen2 file through llama-cpp-python: after the speculation the next request goes on from
whichever context serves it best, with logits equal to an exact evaluation; and through the
engine, a speculation preempted by a request is dropped, not resumed over the user's cache."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np

from hearth.engine.backend import Backend
from hearth.engine.generate import GenerationRequest, StopReason, generate
from hearth.engine.service import Engine, ModelSpec, Role

sys.path.insert(0, str(Path(__file__).parent))
from qwen_fim import OPTS, PREFIX, fim_prompt, last_logits

SUGGESTION = "config(os.environ['CONFIG'])\n    if not cfg:\n        return 1"
_prompt = fim_prompt


def _exact(backend: Backend, tokens: list[int]) -> np.ndarray:
    backend.reset()
    backend.prefill(tokens)
    return last_logits(backend)


def _speculate(backend: Backend, tokens: list[int], n: int = 6) -> None:
    """What a speculative job does between checkpoint and release."""
    generate(backend, tokens, GenerationRequest(max_tokens=n, tail_budget=64))


def _user_context(backend: Backend) -> list[int]:
    backend.reset()
    real = _prompt(backend, PREFIX)
    generate(backend, real, GenerationRequest(max_tokens=4, tail_budget=64))
    return real


def _after_speculation(backend: Backend, *, rollback: bool) -> list[int]:
    """The user's context, then a speculation on top of it; returns the user's prompt."""
    real = _user_context(backend)
    spec = _prompt(backend, PREFIX + SUGGESTION)
    assert backend.checkpoint(spec, 6)
    _speculate(backend, spec)
    backend.release(rollback=rollback)
    return real


def test_rollback_brings_the_users_context_back(backend: Backend) -> None:
    typed = _prompt(backend, PREFIX + "c")
    _after_speculation(backend, rollback=True)
    stats = backend.prefill(typed, tail_budget=64)
    assert stats.n_evaluated <= 3  # the typed character and the prompt's last token
    assert list(backend._cached_tokens()) == typed


def test_restored_entries_are_exact(backend: Backend) -> None:
    real = _user_context(backend)
    extended = [*real, *backend.tokenize(" more")]
    expected = _exact(backend, extended)
    _after_speculation(backend, rollback=True)
    stats = backend.prefill(extended)
    assert stats.n_evaluated == len(extended) - len(real)
    assert np.allclose(last_logits(backend), expected, atol=1e-4)


def test_finished_speculation_keeps_both_and_the_next_prompt_picks(backend: Backend) -> None:
    # The user accepted and typed on: the speculative context serves best.
    accepted = _prompt(backend, PREFIX + SUGGESTION + "\n")
    _after_speculation(backend, rollback=False)
    stats = backend.prefill(accepted, tail_budget=64)
    assert stats.n_evaluated <= 4
    assert backend._branch is None  # the other one is gone

    # The user typed something else: the context kept aside serves best.
    typed = _prompt(backend, PREFIX + "c")
    _after_speculation(backend, rollback=False)
    stats = backend.prefill(typed, tail_budget=64)
    assert stats.n_evaluated <= 3
    assert list(backend._cached_tokens()) == typed


def test_nothing_moves_while_the_speculation_runs(backend: Backend) -> None:
    import llama_cpp

    real = _user_context(backend)
    spec = _prompt(backend, PREFIX + SUGGESTION)
    assert backend.checkpoint(spec, 6)
    stats = backend.prefill(spec, tail_budget=64)  # a tail move would move the kept entries
    assert stats.n_reused <= len(real)
    memory = backend._llm._ctx.memory  # type: ignore[attr-defined]
    assert llama_cpp.llama_memory_seq_pos_max(memory, 1) == -1  # nothing parked
    assert llama_cpp.llama_memory_seq_pos_max(memory, 2) >= len(real) - 1  # kept
    backend.release(rollback=True)
    assert llama_cpp.llama_memory_seq_pos_max(memory, 2) == -1


def test_no_checkpoint_without_room_or_context(backend: Backend) -> None:
    backend.reset()
    assert not backend.checkpoint([1, 2, 3], 4)  # nothing to keep
    _user_context(backend)
    assert not backend.checkpoint([7] * (backend.n_ctx - 8), 16)  # would not fit
    assert backend._branch is None


def test_reset_forgets_the_branch(backend: Backend) -> None:
    _user_context(backend)
    spec = _prompt(backend, PREFIX + SUGGESTION)
    assert backend.checkpoint(spec, 6)
    backend.reset()
    assert backend._branch is None
    stats = backend.prefill(spec)
    assert stats.n_evaluated == len(spec)


def test_preempted_speculation_is_dropped_and_the_request_keeps_its_cache(
    qwen_bpe_model: Path,
) -> None:
    engine = Engine(ModelSpec(qwen_bpe_model, "llamacpp", OPTS))
    try:
        b = engine.backend_for(Role.COMPLETION)
        real = _prompt(b, PREFIX)
        spec = _prompt(b, PREFIX + SUGGESTION)
        first = engine.submit(
            Role.COMPLETION, lambda _b: (real, GenerationRequest(max_tokens=2, tail_budget=64))
        )
        first.future.result(60)
        decoding, submitted = threading.Event(), threading.Event()
        spec_request = GenerationRequest(max_tokens=100, tail_budget=64)

        def on_text(_text: str) -> None:  # the worker waits here until the request is queued
            decoding.set()
            submitted.wait(60)

        speculation = engine.submit(
            Role.COMPLETION, lambda _b: (spec, spec_request), on_text=on_text, background=True
        )
        assert decoding.wait(60)
        typed = _prompt(b, PREFIX + "c")
        request = engine.submit(
            Role.COMPLETION, lambda _b: (typed, GenerationRequest(max_tokens=2, tail_budget=64))
        )
        submitted.set()
        gen = request.future.result(60)
        dropped = speculation.future.result(60)
        assert dropped.stop_reason is StopReason.CANCELLED
        assert engine.counters["dropped_background"] == 1
        assert gen.n_evaluated <= 3  # the user's context came back for the request
        # The dropped speculation never ran again.
        assert engine.worker.pending() == 0
    finally:
        engine.close()
