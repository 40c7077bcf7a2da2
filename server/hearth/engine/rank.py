"""Branch on the first token and keep the candidate under which the code below is likeliest.

A model without fill-in-the-middle tokens never sees the code after the cursor, so its
greedy line often contradicts it (a body the suffix already has, a name the next line does
not use). It can still *read* that code by scoring it: after each candidate, the mean
log-probability of the next lines of the suffix says how well the candidate fits them.
Candidates come from the few most likely first tokens, each continued greedily; where the
model is sure of its first token there is nothing to rank and greedy decoding runs alone.

Each branch reuses the evaluated prompt (only its first token is new), and each score is one
batch of the candidate's and the following lines' tokens, so ranking costs a few short
decodes and batches on top of one prefill.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from hearth.engine.backend import Backend
from hearth.engine.generate import Generation, GenerationRequest, StopReason, generate

log = logging.getLogger(__name__)

# A first token this much less likely than the best one is no candidate (log-probability).
MIN_RELATIVE_LOGPROB = math.log(0.1)
# Above this probability of the best first token, greedy decoding is the answer.
SURE = 0.9


def ranked(request: GenerationRequest, backend: Backend) -> bool:
    """Whether `request` asks for ranking and the backend can do it."""
    return request.branches > 1 and bool(request.follow) and backend.can_score


def generate_ranked(
    backend: Backend,
    prompt: Sequence[int],
    request: GenerationRequest,
    *,
    should_stop: Callable[[], StopReason | None] | None = None,
) -> Generation:
    """The best of up to `request.branches` greedy continuations, by how likely
    `request.follow` (the text after the cursor) is after each; `generate` when unsure."""
    # A moved FIM tail has no place here (the prompt has no suffix), and the scoring batches
    # leave the context past the prompt in a state only a plain prefill should judge.
    plain = replace(request, branches=1, follow="", tail_budget=0)
    first = generate(backend, prompt, replace(plain, max_tokens=0), should_stop=should_stop)
    if first.stop_reason in (StopReason.CANCELLED, StopReason.PREEMPTED) or not prompt:
        return replace(first, tokens=[], text="")
    firsts = _first_tokens(backend, request.branches)
    if not firsts:  # the likeliest next token ends the text
        return replace(first, stop_reason=StopReason.EOS)
    if len(firsts) < 2:  # sure of its start: the greedy answer, decoded as greedy decodes it
        return _merged(first, _branch(backend, prompt, firsts[0][0], plain, should_stop))
    gens: list[Generation] = []
    for token, _lp in firsts:
        gen = _branch(backend, prompt, token, plain, should_stop)
        if gen.stop_reason in (StopReason.CANCELLED, StopReason.PREEMPTED):
            return replace(_merged(first, gen), tokens=[], text="")
        gens.append(gen)
    t0 = time.perf_counter()
    follow = backend.tokenize(request.follow)
    candidates = [_tokens_of(backend, g.text) for g in gens]
    scores = [_score(backend, prompt, c, follow) for c in candidates]
    best = max(range(len(gens)), key=lambda i: scores[i])
    total = _merged(first, gens[best])
    total.decode_s = sum(g.decode_s + g.prefill_s for g in gens) + time.perf_counter() - t0
    scored = sum(len(c) + len(follow) + 1 for c in candidates)
    total.n_evaluated = first.n_evaluated + sum(g.n_evaluated for g in gens) + scored
    log.debug("ranked %d branches by the suffix, chose #%d (%s)", len(gens), best, scores)
    return total


def _branch(
    backend: Backend,
    prompt: Sequence[int],
    token: int,
    request: GenerationRequest,
    should_stop: Callable[[], StopReason | None] | None,
) -> Generation:
    """The greedy continuation after the forced first `token`, its text included."""
    head = _text(backend, token)
    if "\n" in head:  # the line ends at once: nothing more to generate
        return Generation(head.split("\n", 1)[0], StopReason.STOP, [token], 0, 0, 0, 0.0, 0.0)
    branch = replace(request, stop_check=_shifted(request.stop_check, head))
    gen = generate(backend, [*prompt, token], branch, should_stop=should_stop)
    return replace(gen, text=head + gen.text, tokens=[token, *gen.tokens])


def _shifted(
    check: Callable[[str], int | None] | None, head: str
) -> Callable[[str], int | None] | None:
    """The request's stop check for a branch whose first token's text (`head`) is already
    written: the check reads the whole answer, the generator sees only what comes after."""
    if check is None:
        return None

    def shifted(text: str) -> int | None:
        cut = check(head + text)
        return None if cut is None else max(0, cut - len(head))

    return shifted


def _first_tokens(backend: Backend, k: int) -> list[tuple[int, float]]:
    top = backend.top_tokens(k)
    if not top or math.exp(top[0][1]) >= SURE:
        return top[:1]
    floor = top[0][1] + MIN_RELATIVE_LOGPROB
    return [(t, lp) for t, lp in top if lp >= floor and t not in backend.eog_ids]


def _text(backend: Backend, token: int) -> str:
    return backend.detokenize([token]).decode("utf-8", errors="replace")


def _tokens_of(backend: Backend, text: str) -> list[int]:
    return backend.tokenize(text) if text else []


def _score(
    backend: Backend, prompt: Sequence[int], candidate: list[int], follow: list[int]
) -> float:
    """Mean log-probability of `follow` after the prompt and `candidate`."""
    lps = backend.score(len(prompt) - 1, [prompt[-1], *candidate, *follow])
    tail = lps[-len(follow) :] if follow else []
    return sum(tail) / len(tail) if tail else float("-inf")


def _merged(first: Generation, gen: Generation) -> Generation:
    """`gen` with the prompt figures of the first prefill (the branches reuse it)."""
    return replace(
        gen,
        n_prompt=first.n_prompt,
        n_reused=first.n_reused,
        n_evaluated=first.n_evaluated + gen.n_evaluated,
        prefill_s=first.prefill_s,
        decode_s=gen.prefill_s + gen.decode_s,
    )
