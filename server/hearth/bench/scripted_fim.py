"""A real GGUF model with hand-set weights whose FIM suggestion is known in advance.

Random-weight models write whatever their weights say: a suggestion may come out empty after
postprocessing, so a test that needs "a suggestion, then the next one" cannot count on it.
This model is the same bigram machine as `hearth.bench.scripted` (attention and feed-forward
outputs are zero, so the logits depend only on the last token) with a chain that starts at
`<|fim_middle|>`: every FIM prompt ends with that token, so every completion is the chain's
text, at any cursor, for any document, and it ends with `<|endoftext|>` (or, `endless`, starts
over until a token cap: a generation as long as a test needs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hearth.bench.scripted import _spelling, bigram_weights
from hearth.bench.synth import qwen_bpe_tokens, write_qwen_bpe

#: The successor of each state token; the suggestion is the texts after `<|fim_middle|>`.
CHAIN = {"<|fim_middle|>": "value", "value": " is", " is": " None", " None": "<|endoftext|>"}
SUGGESTION = "value is None"
_BOOST = 10.0


def _weights(n_embd: int, chain: dict[str, str]) -> Any:
    ids = _spelling()
    n_vocab = len(qwen_bpe_tokens())
    states = list(chain)
    if len(states) + 1 > n_embd:
        raise ValueError(f"n_embd {n_embd} is too small for {len(states)} states")
    dim = {ids[s]: i + 1 for i, s in enumerate(states)}  # dimension 0: every other token
    embd = np.zeros((n_vocab, n_embd), dtype=np.float32)
    embd[:, 0] = 1.0
    for tid, d in dim.items():
        embd[tid, 0] = 0.0
        embd[tid, d] = 1.0
    out = np.zeros((n_vocab, n_embd), dtype=np.float32)
    for state, succ in chain.items():
        out[ids[succ], dim[ids[state]]] = _BOOST
    out[ids["<|endoftext|>"], 0] = _BOOST  # any other last token: stop

    return bigram_weights(embd, out)


def write_scripted_completer(
    path: Path,
    *,
    n_ctx: int = 2048,
    n_embd: int = 64,
    n_layer: int = 2,
    endless: bool = False,
) -> Path:
    """Write the hand-weighted qwen2 FIM model: it always suggests `SUGGESTION` (`endless`:
    `SUGGESTION` over and over). More `n_embd`/`n_layer` make each token slower, not different."""
    chain = {**CHAIN, " None": "value"} if endless else CHAIN
    return write_qwen_bpe(
        path,
        n_embd=n_embd,
        n_layer=n_layer,
        n_ff=2 * n_embd,
        n_ctx=n_ctx,
        weights=_weights(n_embd, chain),
        name="hearth-scripted-completer",
    )
