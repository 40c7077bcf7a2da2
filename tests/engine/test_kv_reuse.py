"""Moving the cached FIM suffix instead of evaluating it again (engine/kv_reuse.py), on a
real qwen2 file through llama-cpp-python: counts of evaluated tokens, a cancel in the
middle, the drift budget, and how close the logits stay to an exact evaluation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from hearth.completion.fim import fim_prompt_tokens
from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.generate import GenerationRequest, generate
from hearth.engine.kv_reuse import MIN_TAIL, plan_tail_reuse
from hearth.engine.loader import load_backend
from hearth.engine.templates import load_templates

sys.path.insert(0, str(Path(__file__).parent))
from qwen_fim import PREFIX, fim_prompt, last_logits

_prompt, _logits = fim_prompt, last_logits


def _parked(backend: Backend) -> int:
    import llama_cpp

    return int(llama_cpp.llama_memory_seq_pos_max(backend._llm._ctx.memory, 1))  # type: ignore[attr-defined]


def test_plan_needs_a_common_tail_and_fits_the_budget() -> None:
    old = [1, 2, 3, 4, *list(range(100, 120)), 9]
    new = [1, 2, 3, 5, 6, *list(range(100, 120)), 9]
    plan = plan_tail_reuse(old, [*old, 7, 7], new, budget=8)
    assert plan is not None
    assert (plan.keep, plan.old_tail, plan.new_tail, plan.drift) == (3, 4, 5, 3)
    assert plan.shift == 1 and plan.reused == 3 + 20
    assert plan_tail_reuse(old, old, new, budget=2) is None  # over budget
    assert plan_tail_reuse(old, [0, *old], new, budget=8) is None  # cache moved on
    assert plan_tail_reuse(old, old, [*old, 5], budget=8) is None  # plain extension
    short = [1, 2, 3] + [8] * (MIN_TAIL - 1)
    assert plan_tail_reuse(short, short, [1, 2, 4] + [8] * (MIN_TAIL - 1), budget=8) is None


def test_can_shift_on_llamacpp(backend: Backend) -> None:
    assert backend.can_shift


def test_typing_evaluates_the_new_tokens_and_one_more(backend: Backend) -> None:
    backend.reset()
    first = _prompt(backend, PREFIX)
    backend.prefill(first, tail_budget=64)
    typed = _prompt(backend, PREFIX + "config(")
    stats = backend.prefill(typed, tail_budget=64)
    plan = plan_tail_reuse(first, first, typed, 64)
    assert plan is not None
    assert stats.n_evaluated == (plan.new_tail - plan.keep) + 1
    assert stats.n_evaluated < len(typed) - plan.new_tail  # less than the suffix alone
    assert backend.n_past == len(typed)
    assert list(backend._cached_tokens()) == typed
    assert _parked(backend) == -1
    approx = _logits(backend)
    backend.reset()
    exact_stats = backend.prefill(typed)
    assert exact_stats.n_evaluated == len(typed)
    exact = _logits(backend)
    assert float(np.corrcoef(approx, exact)[0, 1]) > 0.99
    assert int(approx.argmax()) in set(np.argsort(exact)[-5:].tolist())


def test_generation_after_a_moved_tail_and_the_next_keystroke(backend: Backend) -> None:
    backend.reset()
    request = GenerationRequest(max_tokens=6, tail_budget=64)
    generate(backend, _prompt(backend, PREFIX), request)
    gen = generate(backend, _prompt(backend, PREFIX + "c"), request)
    assert gen.n_evaluated < 8 and gen.n_generated > 0
    gen = generate(backend, _prompt(backend, PREFIX + "co"), request)
    assert gen.n_evaluated < 8
    gen = generate(backend, _prompt(backend, PREFIX), request)  # backspace twice
    assert gen.n_evaluated <= 2
    assert list(backend._cached_tokens())[: gen.n_prompt] == _prompt(backend, PREFIX)


def test_budget_spent_means_one_exact_evaluation(backend: Backend) -> None:
    backend.reset()
    budget = 6
    backend.prefill(_prompt(backend, PREFIX), tail_budget=budget)
    evaluated = []
    text = PREFIX
    for ch in "configuration":
        text += ch
        evaluated.append(backend.prefill(_prompt(backend, text), tail_budget=budget).n_evaluated)
    no_suffix = fim_prompt_tokens(backend, load_templates()["qwen"], text, "")
    suffix_len = len(_prompt(backend, text)) - len(no_suffix)
    assert min(evaluated) <= 3
    assert max(evaluated) >= suffix_len  # the drift budget forced an exact pass ...
    assert evaluated.count(max(evaluated)) < len(evaluated) // 2  # ... now and then only


def test_cancel_in_the_middle_leaves_a_valid_prefix(backend: Backend) -> None:
    backend.reset()
    first = _prompt(backend, PREFIX)
    backend.prefill(first, tail_budget=64)
    typed = _prompt(backend, PREFIX + "configuration_file_name_with_many_parts(")
    calls = iter([False, True])
    stats = backend.prefill(typed, lambda: next(calls), chunk=2, tail_budget=64)
    assert stats.cancelled
    assert _parked(backend) == -1
    held = list(backend._cached_tokens())
    assert held == typed[: len(held)]
    assert backend.n_past == len(held)
    again = backend.prefill(typed, tail_budget=64)
    assert again.n_reused == len(held) and not again.cancelled
    assert list(backend._cached_tokens()) == typed


def test_off_by_default(backend: Backend) -> None:
    backend.reset()
    first = _prompt(backend, PREFIX)
    backend.prefill(first)
    typed = _prompt(backend, PREFIX + "x")
    stats = backend.prefill(typed)
    assert stats.n_evaluated == len(typed) - stats.n_reused
    assert stats.n_evaluated > len(typed) - len(first) + MIN_TAIL


def test_real_weights_barely_notice_a_moved_tail(stories_model: Path) -> None:
    """A trained model (stories260K, llama arch): words typed before a 20-token tail that is
    moved, not re-read, leave the next-token distribution almost unchanged."""
    b = load_backend(stories_model, "llamacpp", LoadOptions(n_ctx=512, n_threads=2, n_batch=64))
    try:
        story = "Once upon a time, there was a little girl named Lily. She loved to play. "
        tail = b.tokenize(" The sun was warm and the birds were singing. Lily smiled.")
        words = ["Her", "dog", "ran", "after", "the", "ball", "and", "barked", "at", "the", "cat"]
        b.prefill(b.tokenize(story, add_bos=True) + tail, tail_budget=64)
        for i in range(1, len(words) + 1):
            prompt = b.tokenize(story + " ".join(words[:i]), add_bos=True) + tail
            stats = b.prefill(prompt, tail_budget=64)
        assert stats.n_evaluated < len(tail)
        assert 0 < b._drift <= 64
        moved = _logits(b)
        b.reset()
        b.prefill(prompt)
        exact = _logits(b)
        p = np.exp(exact - exact.max())
        p /= p.sum()
        q = np.exp(moved - moved.max())
        q /= q.sum()
        kl = float((p * np.log(p / q)).sum())
        assert moved.argmax() == exact.argmax()
        assert kl < 0.05, kl
    finally:
        b.close()
