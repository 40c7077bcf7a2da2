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
    plain = replace(request, branches=1, follow="")
    first = generate(backend, prompt, replace(plain, max_tokens=0), should_stop=should_stop)
    if first.stop_reason in (StopReason.CANCELLED, StopReason.PREEMPTED) or not prompt:
        return replace(first, tokens=[], text="")
    firsts = _first_tokens(backend, request.branches)
    if len(firsts) < 2:
        return _merged(first, generate(backend, prompt, plain, should_stop=should_stop))
    follow = backend.tokenize(request.follow)
    gens: list[tuple[Generation, list[int]]] = []
    for token, _lp in firsts:
        head = _text(backend, token)
        if "\n" in head:  # the line ends at once: nothing more to generate
            gen = Generation(head, StopReason.STOP, [], 0, 0, 0, 0.0, 0.0)
        else:
            branch = replace(plain, stop_check=_shifted(plain.stop_check, head))
            gen = generate(backend, [*prompt, token], branch, should_stop=should_stop)
        if gen.stop_reason in (StopReason.CANCELLED, StopReason.PREEMPTED):
            return replace(_merged(first, gen), tokens=[], text="")
        text = (head + gen.text).split("\n", 1)[0] if "\n" in head else head + gen.text
        done = replace(gen, text=text, tokens=[token, *gen.tokens])
        gens.append((done, _tokens_of(backend, text)))
    best = max(range(len(gens)), key=lambda i: _score(backend, prompt, gens[i][1], follow))
    chosen = gens[best][0]
    total = _merged(first, chosen)
    total.decode_s = sum(g.decode_s + g.prefill_s for g, _ in gens)
    total.n_evaluated = first.n_evaluated + sum(g.n_evaluated + len(g.tokens) for g, _ in gens)
    log.debug("ranked %d branches, chose #%d", len(gens), best)
    return total


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
