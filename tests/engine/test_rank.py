"""Ranking first-token branches by the code after the cursor (engine/rank.py)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.generate import GenerationRequest, StopReason, generate
from hearth.engine.loader import load_backend
from hearth.engine.rank import generate_ranked, ranked

PROMPT = "def main(argv):\n    total = 0\n    for arg in argv:\n        total"


def _prompt(b: Backend, text: str = PROMPT) -> list[int]:
    return ([b.bos_id] if b.add_bos and b.bos_id is not None else []) + b.tokenize(text)


def test_scores_agree_with_the_logits_of_step_by_step_decoding(backend: Backend) -> None:
    prompt = _prompt(backend)
    backend.prefill(prompt)
    top = backend.top_tokens(3)
    assert len(top) == 3
    assert [lp for _, lp in top] == sorted((lp for _, lp in top), reverse=True)
    assert all(lp <= 0 for _, lp in top) and sum(math.exp(lp) for _, lp in top) <= 1 + 1e-6
    first = top[0][0]
    backend.prefill([*prompt, first])
    second, second_lp = backend.top_tokens(1)[0]
    scores = backend.score(len(prompt) - 1, [prompt[-1], first, second])
    assert len(scores) == 2
    assert scores[0] == pytest.approx(top[0][1], abs=1e-3)
    assert scores[1] == pytest.approx(second_lp, abs=1e-3)


def test_ranking_is_only_for_a_request_with_text_to_rank_by(backend: Backend) -> None:
    req = GenerationRequest(max_tokens=8)
    assert not ranked(req, backend)
    assert not ranked(replace(req, branches=3), backend)
    assert ranked(replace(req, branches=3, follow="\n    return total\n"), backend)


def test_the_chosen_branch_is_the_one_the_following_code_fits_best(stories_model: Path) -> None:
    """Real trained weights: each branch is the greedy line after one of the likeliest first
    tokens, and the answer is the branch under which the following text scores best."""
    b = load_backend(stories_model, "llamacpp", LoadOptions(n_ctx=256, n_threads=2))
    try:
        prompt = _prompt(b, "Once upon a time, there was a little")
        follow = "\nShe liked to play with her doll."
        request = GenerationRequest(max_tokens=12, stop=("\n", "."), branches=3, follow=follow)
        got = generate_ranked(b, prompt, request)
        assert got.stop_reason in (StopReason.STOP, StopReason.MAX_TOKENS, StopReason.EOS)
        b.prefill(prompt)
        firsts = [t for t, _ in b.top_tokens(3)]
        plain = replace(request, branches=1, follow="")
        branches = []
        for t in firsts:
            gen = generate(b, [*prompt, t], plain)
            branches.append(b.detokenize([t]).decode() + gen.text)
        assert branches and got.text in branches
        follow_ids = b.tokenize(follow)

        def fit(text: str) -> float:
            lps = b.score(len(prompt) - 1, [prompt[-1], *b.tokenize(text), *follow_ids])
            return sum(lps[-len(follow_ids) :]) / len(follow_ids)

        assert fit(got.text) == pytest.approx(max(fit(t) for t in branches), abs=1e-4)
        assert got.n_prompt == len(prompt) and got.n_generated >= 1
    finally:
        b.close()
