"""Prompt-lookup drafting (engine/draft.py): the guesses, and on real models through
llama-cpp-python the same greedy output as decoding one token at a time, in fewer steps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hearth.engine.backend import Backend, LoadOptions, SamplingParams
from hearth.engine.draft import NGRAM, PromptLookup
from hearth.engine.generate import Generation, GenerationRequest, generate
from hearth.engine.loader import load_backend
from hearth.engine.service import Engine, ModelSpec, Role

sys.path.insert(0, str(Path(__file__).parent))
from qwen_fim import OPTS, PREFIX, fim_prompt


def test_lookup_proposes_what_followed_the_last_occurrence() -> None:
    look = PromptLookup([1, 2, 3, 4, 5, 9, 1, 2, 3, 7, 8, 1, 2], max_draft=3)
    assert look.propose(10) == []  # (8, 1, 2) never occurred before
    look.extend([3])
    assert look.propose(10) == [7, 8, 1]  # the most recent (1, 2, 3) was followed by 7, 8, 1
    assert look.propose(2) == [7, 8]
    assert look.propose(0) == []


def test_lookup_follows_its_own_output() -> None:
    look = PromptLookup([5, 6, 7], max_draft=4)
    look.extend([5, 6, 7])
    assert look.propose(4) == [5, 6, 7, 5]  # a loop proposes itself, repeated
    look.extend([5, 6])
    assert look.propose(4) == [7, 5, 6, 7]
    assert PromptLookup([1] * (NGRAM - 1), 4).propose(4) == []


def test_guess_length_follows_the_models_agreement() -> None:
    look = PromptLookup([], max_draft=8)
    assert look.length == 4
    look.feedback(4, 4)
    assert look.length == 8
    look.feedback(8, 8)
    assert look.length == 8  # capped
    look.feedback(8, 2)
    assert look.length == 3
    look.feedback(3, 0)
    assert look.length == 1


def test_rejected_guesses_pause_the_guessing() -> None:
    look = PromptLookup([1, 2, 3, 4, 1, 2, 3], max_draft=4)
    assert look.propose(4) != []
    look.feedback(4, 0)  # rejected outright: two tokens without guesses
    assert look.propose(4) == []
    look.extend([4])
    assert look.propose(4) == []
    look.extend([1, 2, 3])
    assert look.propose(4) != []
    look.feedback(1, 0)  # again: the pause doubles
    look.extend([9, 9, 9])
    assert look.pause == 1
    look.feedback(1, 1)  # agreement ends the back-off
    assert look._backoff == 0


def _both(backend: Backend, prompt: list[int], n: int = 48) -> tuple[Generation, Generation]:
    plain = GenerationRequest(max_tokens=n)
    backend.reset()
    one_by_one = generate(backend, prompt, plain)
    backend.reset()
    drafted = generate(backend, prompt, GenerationRequest(max_tokens=n, draft_tokens=6))
    return one_by_one, drafted


def test_drafting_keeps_the_greedy_output_of_a_trained_model(stories_model: Path) -> None:
    b = load_backend(stories_model, "llamacpp", LoadOptions(n_ctx=512, n_threads=2))
    try:
        story = (
            "Once upon a time, there was a little girl named Lily. She loved to play with "
            "her ball. One day, Lily saw a big dog. The dog wanted to play with the ball. "
            "Lily was"
        )
        drafted_total = 0
        for cut in (60, 120, len(story)):
            prompt = b.tokenize(story[:cut], add_bos=True)
            plain, drafted = _both(b, prompt)
            assert drafted.tokens == plain.tokens
            assert drafted.text == plain.text
            assert plain.n_drafted == 0
            drafted_total += drafted.n_drafted
        assert drafted_total > 0  # stories repeat names and phrases: guesses were checked
    finally:
        b.close()


def test_drafting_keeps_the_output_of_a_looping_model(backend: Backend) -> None:
    prompt = fim_prompt(backend, PREFIX)
    plain, drafted = _both(backend, prompt, n=64)
    assert drafted.tokens == plain.tokens
    assert drafted.stop_reason == plain.stop_reason
    if drafted.n_drafted:
        # What was accepted is in the context: the next prompt reuses it all.
        stats = backend.prefill([*prompt, *drafted.tokens])
        assert stats.n_evaluated <= 1


def test_drafting_stays_within_max_tokens_and_stops(backend: Backend) -> None:
    prompt = fim_prompt(backend, PREFIX)
    for n in (1, 2, 3, 7):
        plain, drafted = _both(backend, prompt, n=n)
        assert drafted.tokens == plain.tokens
        assert len(drafted.tokens) <= n
    backend.reset()
    text = generate(backend, prompt, GenerationRequest(max_tokens=64)).text
    if len(text) > 4:
        stop = text[2:4]
        backend.reset()
        plain = generate(backend, prompt, GenerationRequest(max_tokens=64, stop=(stop,)))
        backend.reset()
        req = GenerationRequest(max_tokens=64, stop=(stop,), draft_tokens=6)
        drafted = generate(backend, prompt, req)
        assert drafted.text == plain.text and stop not in drafted.text


@pytest.mark.parametrize(
    "sampling",
    [SamplingParams(temperature=0.7), SamplingParams(repeat_penalty=1.2)],
    ids=["sampled", "penalty"],
)
def test_no_drafting_unless_greedy(backend: Backend, sampling: SamplingParams) -> None:
    backend.reset()
    req = GenerationRequest(max_tokens=16, draft_tokens=6, sampling=sampling)
    assert generate(backend, fim_prompt(backend, PREFIX), req).n_drafted == 0


def test_the_engine_reports_the_guesses(qwen_bpe_model: Path) -> None:
    engine = Engine(ModelSpec(qwen_bpe_model, "llamacpp", OPTS))
    try:
        b = engine.backend_for(Role.COMPLETION)
        prompt = fim_prompt(b, PREFIX)
        request = GenerationRequest(max_tokens=64, draft_tokens=8)
        b.reset()
        direct = generate(b, prompt, request)
        b.reset()
        via = engine.submit(Role.COMPLETION, lambda _b: (prompt, request)).future.result(60)
        assert via.tokens == direct.tokens
        assert (via.n_drafted, via.n_draft_accepted) == (direct.n_drafted, direct.n_draft_accepted)
        assert via.n_drafted > 0
    finally:
        engine.close()
