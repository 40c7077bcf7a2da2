"""A real GGUF model whose weights are set by hand, so its answers are known in advance.

Random-weight models prove that bytes flow, but under the review grammar they always write an
empty findings list, so nothing downstream (diagnostics, quick fixes, SARIF, editor squiggles)
could be seen end to end. This model is a real qwen2 file run by the real backend; its weights
make it a bigram machine: attention and feed-forward outputs are zero, so the logits depend
only on the last token. Each "state" token gets its own embedding direction and a fixed
successor; every other token shares a default direction. Held to the findings JSON schema
(greedy decoding), it writes exactly one finding on line 2 whose message and replacement are
both "value is None" (the quote token has one successor);
without a grammar it writes "this function return the sum of two numbers." and stops.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hearth.bench.synth import qwen_bpe_tokens, write_qwen_bpe

#: What the model writes after each state token (the text of the next token).
_REVIEW_CHAIN = {'"': "value", "value": " is", " is": " None", " None": '"', "2": ","}
_EXPLAIN_START = "this"
_EXPLAIN_CHAIN = {
    "this": " function",
    " function": " return",
    " return": " the",
    " the": " sum",
    " sum": " of",
    " of": " two",
    " two": " numbers",
    " numbers": ".",
    ".": "<|im_end|>",
}
#: Preferences that settle the grammar's choices: open the array, open one object, then close.
_BASE = {"[": 4.0, "{": 3.0, "2": 2.5, "]": 2.0, ",": 1.0, "w": 1.0, "b": 1.0}
_BASE_QUOTE = 0.5
_BASE_WHITESPACE = -5.0
_BOOST = 10.0

EXPLANATION = "this function return the sum of two numbers."
FINDING_LINE = 2
FINDING_MESSAGE = "value is None"


def _spelling() -> dict[str, int]:
    """Token id by plain text (the vocab stores byte-level BPE spellings)."""
    from hearth.bench.synth import _bytes_to_unicode

    u2b = {c: b for b, c in _bytes_to_unicode().items()}
    out: dict[str, int] = {}
    for tid, tok in enumerate(qwen_bpe_tokens()):
        if tok.startswith("<|"):
            out[tok] = tid
            continue
        try:
            text = bytes(u2b[c] for c in tok).decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            continue
        out.setdefault(text, tid)
    return out


def _weights(n_embd: int) -> Any:
    ids = _spelling()
    n_vocab = len(qwen_bpe_tokens())
    chain = {**_REVIEW_CHAIN, **_EXPLAIN_CHAIN}
    states = list(chain)
    if len(states) + 2 > n_embd:
        raise ValueError(f"n_embd {n_embd} is too small for {len(states)} states")
    dim = {ids[s]: i + 2 for i, s in enumerate(states)}  # 0: bias, 1: default state
    embd = np.zeros((n_vocab, n_embd), dtype=np.float32)
    embd[:, 0] = 1.0
    embd[:, 1] = 1.0
    for tid, d in dim.items():
        embd[tid, 1] = 0.0
        embd[tid, d] = 1.0
    out = np.zeros((n_vocab, n_embd), dtype=np.float32)
    for text, tid in ids.items():
        if not text.startswith("<|") and text.strip() == "":
            out[tid, 0] = _BASE_WHITESPACE
    out[ids['"'], 0] = _BASE_QUOTE
    for text, value in _BASE.items():
        out[ids[text], 0] = value
    for state, succ in chain.items():
        out[ids[succ], dim[ids[state]]] = _BOOST
    out[ids[_EXPLAIN_START], 1] = _BOOST

    return bigram_weights(embd, out)


def write_scripted_reviewer(path: Path, *, n_ctx: int = 4096) -> Path:
    """Write the hand-weighted model (qwen2, ChatML template, ~1 MB) to `path`."""
    n_embd = 64
    return write_qwen_bpe(
        path, n_embd=n_embd, n_ctx=n_ctx, weights=_weights(n_embd), name="hearth-scripted-reviewer"
    )


def bigram_weights(
    embd: npt.NDArray[Any], out: npt.NDArray[Any]
) -> Callable[[str, tuple[int, ...]], npt.NDArray[Any] | None]:
    """Tensors of a bigram machine: attention and feed-forward outputs are zero, so the
    logits are `out` applied to the last token's embedding row."""

    def weights(name: str, shape: tuple[int, ...]) -> npt.NDArray[Any] | None:
        if name == "token_embd.weight":
            return embd
        if name == "output.weight":
            return out
        if name.endswith(("attn_output.weight", "ffn_down.weight")):
            return np.zeros(shape, dtype=np.float32)
        if name.endswith("norm.weight"):
            return np.ones(shape, dtype=np.float32)
        return None

    return weights
