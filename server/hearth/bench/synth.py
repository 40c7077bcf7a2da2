"""Synthesize random-weight model files for tests and benchmarks.

No machine here reaches a model hub, so the tests and `hearth bench` make their own models. The
weights are random (text is nonsense) but everything a backend checks is real: architecture,
tensor shapes, tokenizer, special tokens. Speed does not depend on weight values, so a model with
a real shape and a real vocab (`write_from_vocab`) gives real throughput numbers.

Usage: ``python -m hearth.bench.synth {llama-spm,qwen-bpe,ggml-starcoder,from-vocab} OUT``.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import mmap
import os
import struct
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gguf
import numpy as np
import numpy.typing as npt

__all__ = [
    "SHAPES",
    "ModelShape",
    "main",
    "quantize",
    "qwen_bpe_tokens",
    "write_from_vocab",
    "write_ggml_starcoder",
    "write_llama_spm",
    "write_qwen_bpe",
]

_F32 = np.dtype(np.float32)
_F16 = np.dtype(np.float16)
_NORMAL = int(gguf.TokenType.NORMAL)
_UNKNOWN = int(gguf.TokenType.UNKNOWN)
_CONTROL = int(gguf.TokenType.CONTROL)
_USER_DEFINED = int(gguf.TokenType.USER_DEFINED)
_BYTE = int(gguf.TokenType.BYTE)
_KEY = gguf.Keys.Tokenizer

# Words that make the toy tokenizers merge code and prose into multi-character tokens, so token
# counts on code look like a real code model's rather than one token per character.
_WORDS_TEXT = """
def return if else elif for while in not and or is None True False import from as class with
try except finally raise pass break continue lambda yield async await global nonlocal del assert
self print len range list dict str int float bool set tuple open super init main name value key
data result items append extend get type object args kwargs isinstance enumerate zip map filter
sorted sum min max abs index count path file line text error test assert_equal config request
response user client server model token prompt function const let var new this null undefined
export default console log public private static void char string include struct fn impl mut pub
use mod match the a an of to and that was he she they you this be at by are have had but what all
were when we there can your which their said do will each about how up out them then many some so
these would other into has more her two like him see time could no make than first been its who
now people my made over did down only way find may water long little very after words called just
where most know add sub total number numbers sort hello world foo bar baz
"""
_WORDS = _WORDS_TEXT.split()

_CODE_PIECES = [
    "()",
    "):",
    "(self",
    "self.",
    "==",
    "!=",
    "<=",
    ">=",
    "->",
    "=>",
    "+=",
    "-=",
    "[]",
    "{}",
    "__",
    "__init__",
    '"""',
    "''",
    '""',
    "//",
    "/*",
    "*/",
    "0.",
    "1.",
]

# CodeLlama's infill tokens (CONTROL, like its vocab) and their GGUF id keys. The legacy
# prefix/suffix/middle keys are what older convert scripts wrote; llama.cpp reads both spellings.
_LLAMA_FIM = {
    "<PRE>": (_KEY.PREFIX_ID, _KEY.FIM_PRE_ID),
    "<SUF>": (_KEY.SUFFIX_ID, _KEY.FIM_SUF_ID),
    "<MID>": (_KEY.MIDDLE_ID, _KEY.FIM_MID_ID),
    "<EOT>": (_KEY.EOT_ID,),
}

_QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
_QWEN_FIM_KEYS = {
    "<|fim_prefix|>": _KEY.FIM_PRE_ID,
    "<|fim_suffix|>": _KEY.FIM_SUF_ID,
    "<|fim_middle|>": _KEY.FIM_MID_ID,
    "<|fim_pad|>": _KEY.FIM_PAD_ID,
    "<|repo_name|>": _KEY.FIM_REP_ID,
    "<|file_sep|>": _KEY.FIM_SEP_ID,
}
# llama.cpp's ggml-vocab-qwen2.gguf is Qwen2's tokenizer: ids 151646.. are "[PAD…]" there, where
# Qwen2.5(-Coder) put these added tokens. Filling them in makes the vocab Qwen2.5-Coder's.
_QWEN25_ADDED = [
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
_QWEN25_FIRST_ADDED_ID = 151646

_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_STARCODER_SPECIALS = [
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<file_sep>",
]
_GGML_MAGIC = 0x67676D6C

_QTYPES = {
    "q4_0": int(gguf.LlamaFileType.MOSTLY_Q4_0),
    "q8_0": int(gguf.LlamaFileType.MOSTLY_Q8_0),
    "f16": int(gguf.LlamaFileType.MOSTLY_F16),
}


@dataclass(frozen=True)
class ModelShape:
    """Hyperparameters of a decoder-only transformer; the vocab size comes from elsewhere."""

    arch: Literal["llama", "qwen2"]
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_ctx: int
    tied_embeddings: bool = False
    rope_freq_base: float = 10000.0
    norm_eps: float = 1e-6


#: Real models' shapes (from their config.json) plus small ones for tests.
SHAPES: dict[str, ModelShape] = {
    "qwen2.5-coder-0.5b": ModelShape("qwen2", 896, 24, 14, 2, 4864, 32768, True, 1e6),
    "qwen2.5-coder-1.5b": ModelShape("qwen2", 1536, 28, 12, 2, 8960, 32768, True, 1e6),
    "qwen2.5-coder-3b": ModelShape("qwen2", 2048, 36, 16, 2, 11008, 32768, True, 1e6),
    "qwen2.5-coder-7b": ModelShape("qwen2", 3584, 28, 28, 4, 18944, 32768, False, 1e6),
    # Its linear RoPE scaling (x4) is left out: it changes no shape and no speed.
    "deepseek-coder-1.3b": ModelShape("llama", 2048, 24, 16, 16, 5504, 16384, False, 1e5),
    # Qwen2.5-Coder-0.5B's dimensions on the llama architecture: with a SentencePiece vocab
    # (ggml-vocab-llama-spm.gguf) both backends load it, so `hearth bench engine` can compare
    # them on the shape DESIGN.md measured.
    "qwen2.5-coder-0.5b-llama": ModelShape("llama", 896, 24, 14, 2, 4864, 32768, False, 1e6),
    "tiny": ModelShape("qwen2", 64, 2, 4, 2, 128, 512),
    "tiny-llama": ModelShape("llama", 64, 2, 4, 4, 128, 512),
}


# --------------------------------------------------------------------------------------------
# Weights


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]  # numpy order: (rows, cols); ggml's ne is the reverse
    kind: Literal["weight", "norm", "bias"]
    dtype: np.dtype[Any]


def _fill(rng: np.random.Generator, t: _Tensor) -> npt.NDArray[Any]:
    """Random values for one tensor, built in row chunks so a big F16 table has one copy only."""
    out = np.empty(t.shape, dtype=t.dtype)
    if t.kind == "norm":
        out[...] = 1.0 + 0.01 * rng.standard_normal(t.shape, dtype=np.float32)
        return out
    std = 0.02 if t.kind == "weight" else 0.01
    if out.ndim == 1:
        out[...] = std * rng.standard_normal(t.shape, dtype=np.float32)
        return out
    rows_per_chunk = max(1, (1 << 22) // out.shape[1])
    for start in range(0, out.shape[0], rows_per_chunk):
        block = out[start : start + rows_per_chunk]
        block[...] = std * rng.standard_normal(block.shape, dtype=np.float32)
    return out


def _decoder_tensors(
    shape: ModelShape, n_vocab: int, wdtype: np.dtype[Any], *, qkv_bias: bool
) -> list[_Tensor]:
    """llama.cpp tensor names and shapes for a llama/qwen2 decoder; 1-D tensors stay F32."""
    head_dim = shape.n_embd // shape.n_head
    n_embd_kv = head_dim * shape.n_head_kv
    e, f = shape.n_embd, shape.n_ff
    ts = [
        _Tensor("token_embd.weight", (n_vocab, e), "weight", wdtype),
        _Tensor("output_norm.weight", (e,), "norm", _F32),
    ]
    if not shape.tied_embeddings:
        ts.append(_Tensor("output.weight", (n_vocab, e), "weight", wdtype))
    for i in range(shape.n_layer):
        p = f"blk.{i}."
        ts += [
            _Tensor(p + "attn_norm.weight", (e,), "norm", _F32),
            _Tensor(p + "attn_q.weight", (e, e), "weight", wdtype),
            _Tensor(p + "attn_k.weight", (n_embd_kv, e), "weight", wdtype),
            _Tensor(p + "attn_v.weight", (n_embd_kv, e), "weight", wdtype),
        ]
        if qkv_bias:
            ts += [
                _Tensor(p + "attn_q.bias", (e,), "bias", _F32),
                _Tensor(p + "attn_k.bias", (n_embd_kv,), "bias", _F32),
                _Tensor(p + "attn_v.bias", (n_embd_kv,), "bias", _F32),
            ]
        ts += [
            _Tensor(p + "attn_output.weight", (e, e), "weight", wdtype),
            _Tensor(p + "ffn_norm.weight", (e,), "norm", _F32),
            _Tensor(p + "ffn_gate.weight", (f, e), "weight", wdtype),
            _Tensor(p + "ffn_up.weight", (f, e), "weight", wdtype),
            _Tensor(p + "ffn_down.weight", (e, f), "weight", wdtype),
        ]
    return ts


def _check_shape(shape: ModelShape) -> None:
    if shape.n_embd % shape.n_head or shape.n_head % shape.n_head_kv:
        raise ValueError(f"n_embd must divide by n_head and n_head by n_head_kv: {shape}")


def _write_decoder_gguf(
    path: Path,
    shape: ModelShape,
    n_vocab: int,
    *,
    name: str,
    seed: int,
    wdtype: np.dtype[Any],
    add_tokenizer: Callable[[gguf.GGUFWriter], None],
    weights: Callable[[str, tuple[int, ...]], npt.NDArray[Any] | None] | None = None,
) -> Path:
    """Write hparams, tokenizer and weights, streaming one tensor at a time.

    Weights are random unless `weights(name, shape)` returns an array for that tensor.
    """
    _check_shape(shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = _decoder_tensors(shape, n_vocab, wdtype, qkv_bias=shape.arch == "qwen2")
    w = gguf.GGUFWriter(path, shape.arch)
    w.add_name(name)
    w.add_context_length(shape.n_ctx)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layer)
    w.add_feed_forward_length(shape.n_ff)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_rope_dimension_count(shape.n_embd // shape.n_head)
    w.add_rope_freq_base(shape.rope_freq_base)
    w.add_layer_norm_rms_eps(shape.norm_eps)
    w.add_vocab_size(n_vocab)
    ftype = gguf.LlamaFileType.MOSTLY_F16 if wdtype == _F16 else gguf.LlamaFileType.ALL_F32
    w.add_file_type(int(ftype))
    add_tokenizer(w)
    for t in tensors:
        w.add_tensor_info(t.name, t.shape, t.dtype, int(np.prod(t.shape)) * t.dtype.itemsize)
    rng = np.random.default_rng(seed)
    try:
        w.write_header_to_file(path)
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        for t in tensors:
            fixed = weights(t.name, t.shape) if weights is not None else None
            w.write_tensor_data(_fill(rng, t) if fixed is None else fixed.astype(t.dtype))
    finally:
        w.close()
    return path


# --------------------------------------------------------------------------------------------
# Vocabularies


def _with_prefixes(pieces: Iterable[str], seen: set[str]) -> list[str]:
    """Pieces plus every prefix of them (shortest first), so left-to-right merges reach them."""
    out: list[str] = []
    for piece in pieces:
        for end in range(2, len(piece) + 1):
            sub = piece[:end]
            if sub not in seen:
                seen.add(sub)
                out.append(sub)
    return out


def _filler(seen: set[str], prefix: str = "") -> Iterator[str]:
    """Endless ordinary two/three-letter pieces to pad a vocab to a round size."""
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    for a in letters:
        for b in letters:
            for piece in (prefix + a + b, a + b):
                if piece not in seen:
                    seen.add(piece)
                    yield piece
    for a in letters:
        for b in letters:
            for c in letters:
                if a + b + c not in seen:
                    seen.add(a + b + c)
                    yield a + b + c


def _spm_vocab() -> tuple[list[str], list[float], list[int]]:
    """A SentencePiece vocab in llama's layout: <unk> <s> </s>, 256 byte tokens, pieces, FIM."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [_UNKNOWN, _CONTROL, _CONTROL] + [_BYTE] * 256
    seen = set(tokens) | set(_LLAMA_FIM)
    chars = ["▁"] + [chr(c) for c in range(0x21, 0x7F)]
    seen.update(chars)
    pieces = chars + _with_prefixes(
        ["▁" + w for w in _WORDS]
        + _WORDS
        + _CODE_PIECES
        + ["▁" + p for p in _CODE_PIECES]
        + ["▁" * n for n in (2, 4, 8)],
        seen,
    )
    pad = -(len(tokens) + len(pieces) + len(_LLAMA_FIM)) % 32
    filler = _filler(seen, "▁")
    pieces += [next(filler) for _ in range(pad)]
    # SentencePiece scores are log-probabilities: earlier (shorter, commoner) pieces score higher.
    scores = [0.0] * len(tokens) + [-float(i) for i in range(len(pieces))]
    tokens += pieces + list(_LLAMA_FIM)
    types += [_NORMAL] * len(pieces) + [_CONTROL] * len(_LLAMA_FIM)
    scores += [0.0] * len(_LLAMA_FIM)
    return tokens, scores, types


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE vocabs."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def _bpe_vocab() -> tuple[list[str], list[str]]:
    """Byte-level BPE tokens and merges: 256 byte tokens, then merge chains for code words."""
    b2u = _bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    seen = set(tokens)
    merges: list[str] = []
    words = (
        [" " + w for w in _WORDS]
        + _WORDS
        + _CODE_PIECES
        + [" " + p for p in _CODE_PIECES]
        + [" " * n for n in (2, 4, 8)]
        + ["\n" * 2, ":\n", "\n    ", "\n        "]
    )
    for word in words:
        enc = "".join(b2u[b] for b in word.encode())
        for k in range(1, len(enc)):
            merged = enc[: k + 1]
            if merged not in seen:
                seen.add(merged)
                tokens.append(merged)
                merges.append(f"{enc[:k]} {enc[k]}")
    return tokens, merges


def _starcoder_vocab(n_vocab: int | None) -> list[bytes]:
    """Raw-byte vocab as StarCoder's GGML files store it: specials first, then bytes and words.

    ggml's tokenizer matches the longest vocab entry, so a truncated vocab still tokenizes.
    """
    tokens = [s.encode() for s in _STARCODER_SPECIALS] + [bytes([b]) for b in range(256)]
    seen = {t.decode("latin-1") for t in tokens}
    pieces = _with_prefixes(
        [" " + w for w in _WORDS]
        + _WORDS
        + _CODE_PIECES
        + [" " + p for p in _CODE_PIECES]
        + [" " * n for n in (2, 4, 8)],
        seen,
    )
    tokens += [p.encode() for p in pieces]
    if n_vocab is None:
        n_vocab = len(tokens) + -len(tokens) % 32
    if n_vocab < len(_STARCODER_SPECIALS) + 256:
        raise ValueError(f"n_vocab {n_vocab} leaves no room for the specials and 256 bytes")
    if len(tokens) >= n_vocab:
        return tokens[:n_vocab]
    filler = _filler(seen, " ")
    tokens += [next(filler).encode() for _ in range(n_vocab - len(tokens))]
    return tokens


# --------------------------------------------------------------------------------------------
# Public writers


def write_llama_spm(
    path: Path,
    *,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_head_kv: int = 4,
    n_ff: int = 128,
    n_ctx: int = 512,
    seed: int = 0,
) -> Path:
    """Write an F32 llama GGUF with a CodeLlama-style SentencePiece vocab.

    The one synthesized GGUF that both backends load: ctransformers only takes llama + SPM.
    Carries CodeLlama's `<PRE>`/`<SUF>`/`<MID>`/`<EOT>` as CONTROL tokens, so FIM prompts are
    testable. The vocab (~1,600 tokens) is a multiple of 32; keep n_embd and n_ff multiples of
    32 too, or `quantize` leaves those matrices F16 (the defaults quantize to Q8_0 and Q4_0).
    """
    shape = ModelShape("llama", n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, norm_eps=1e-5)
    tokens, scores, types = _spm_vocab()

    def add_tokenizer(w: gguf.GGUFWriter) -> None:
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_unk_token_id(0)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        for text, keys in _LLAMA_FIM.items():
            for key in keys:
                w.add_uint32(key, tokens.index(text))

    return _write_decoder_gguf(
        path,
        shape,
        len(tokens),
        name="hearth-test-llama-spm",
        seed=seed,
        wdtype=_F32,
        add_tokenizer=add_tokenizer,
    )


def write_qwen_bpe(
    path: Path,
    *,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    n_ctx: int = 512,
    seed: int = 0,
    weights: Callable[[str, tuple[int, ...]], npt.NDArray[Any] | None] | None = None,
    name: str = "hearth-test-qwen-bpe",
) -> Path:
    """Write an F32 qwen2 GGUF with a byte-level BPE vocab and Qwen's special tokens.

    Exercises the llama-cpp-python path of a Qwen2.5-Coder-like model (GQA, qkv biases, ChatML
    template, `<|fim_*|>` tokens) in a ~1 MB file. ctransformers cannot load it (BPE vocab).
    """
    shape = ModelShape("qwen2", n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, rope_freq_base=1e6)
    tokens, merges = _bpe_vocab()
    types = [_NORMAL] * len(tokens) + [_CONTROL] * len(_QWEN_SPECIALS)
    tokens = qwen_bpe_tokens()
    eos = tokens.index("<|endoftext|>")

    def add_tokenizer(w: gguf.GGUFWriter) -> None:
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("qwen2")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_eos_token_id(eos)
        w.add_bos_token_id(eos)
        w.add_pad_token_id(eos)
        w.add_add_bos_token(False)
        for text, key in _QWEN_FIM_KEYS.items():
            w.add_uint32(key, tokens.index(text))
        w.add_chat_template(_CHATML_TEMPLATE)

    return _write_decoder_gguf(
        path,
        shape,
        len(tokens),
        name=name,
        seed=seed,
        wdtype=_F32,
        add_tokenizer=add_tokenizer,
        weights=weights,
    )


def qwen_bpe_tokens() -> list[str]:
    """The token strings of `write_qwen_bpe`'s vocab, by id (byte-level BPE spelling)."""
    return _bpe_vocab()[0] + _QWEN_SPECIALS


def write_ggml_starcoder(
    path: Path,
    *,
    n_vocab: int | None = None,
    n_ctx: int = 256,
    n_embd: int = 64,
    n_head: int = 4,
    n_layer: int = 2,
    seed: int = 0,
) -> Path:
    """Write a legacy (pre-GGUF) GGML StarCoder file, F32, for ctransformers' `starcoder` type.

    The layout is the ggml examples' one (see DESIGN.md "Test models"): magic, six int32 hparams,
    (uint32 length, bytes) vocab, then (n_dims, name length, type, dims, name, data) tensors with
    full multi-head `c_attn` shapes. `<|endoftext|>` is id 0 and `<fim_*>` 1-4, as in StarCoder.
    `n_vocab` None keeps the whole built-in vocab (padded to a multiple of 32).
    """
    if n_embd % n_head:
        raise ValueError(f"n_embd {n_embd} must divide by n_head {n_head}")
    vocab = _starcoder_vocab(n_vocab)
    n_vocab = len(vocab)
    e = n_embd
    # (name, ggml dims [ne0, ne1], kind)
    specs: list[tuple[str, tuple[int, ...], Literal["weight", "norm", "bias"]]] = [
        ("model/ln_f/g", (e,), "norm"),
        ("model/ln_f/b", (e,), "bias"),
        ("model/wte", (e, n_vocab), "weight"),
        ("model/wpe", (e, n_ctx), "weight"),
        ("model/lm_head", (e, n_vocab), "weight"),
    ]
    for i in range(n_layer):
        p = f"model/h{i}/"
        specs += [
            (p + "ln_1/g", (e,), "norm"),
            (p + "ln_1/b", (e,), "bias"),
            (p + "attn/c_attn/w", (e, 3 * e), "weight"),
            (p + "attn/c_attn/b", (3 * e,), "bias"),
            (p + "attn/c_proj/w", (e, e), "weight"),
            (p + "attn/c_proj/b", (e,), "bias"),
            (p + "ln_2/g", (e,), "norm"),
            (p + "ln_2/b", (e,), "bias"),
            (p + "mlp/c_fc/w", (e, 4 * e), "weight"),
            (p + "mlp/c_fc/b", (4 * e,), "bias"),
            (p + "mlp/c_proj/w", (4 * e, e), "weight"),
            (p + "mlp/c_proj/b", (e,), "bias"),
        ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with path.open("wb") as f:
        f.write(struct.pack("<I6i", _GGML_MAGIC, n_vocab, n_ctx, n_embd, n_head, n_layer, 0))
        f.write(struct.pack("<i", n_vocab))
        for tok in vocab:
            f.write(struct.pack("<I", len(tok)) + tok)
        for name, dims, kind in specs:
            raw = name.encode()
            f.write(struct.pack(f"<3i{len(dims)}i", len(dims), len(raw), 0, *dims) + raw)
            data = _fill(rng, _Tensor(name, tuple(reversed(dims)), kind, _F32))
            f.write(data.astype("<f4", copy=False).tobytes())
    return path


_KV = tuple[Any, gguf.GGUFValueType, gguf.GGUFValueType | None]
_SCALAR_FORMATS = {
    gguf.GGUFValueType.UINT8: "B",
    gguf.GGUFValueType.INT8: "b",
    gguf.GGUFValueType.UINT16: "H",
    gguf.GGUFValueType.INT16: "h",
    gguf.GGUFValueType.UINT32: "I",
    gguf.GGUFValueType.INT32: "i",
    gguf.GGUFValueType.FLOAT32: "f",
    gguf.GGUFValueType.BOOL: "?",
    gguf.GGUFValueType.UINT64: "Q",
    gguf.GGUFValueType.INT64: "q",
    gguf.GGUFValueType.FLOAT64: "d",
}


def _read_gguf_kv(path: Path) -> dict[str, _KV]:
    """A GGUF file's key/value metadata as (value, type, array subtype), for GGUFWriter.

    gguf.GGUFReader builds numpy views per string and takes ~10 s on Qwen's 300k-string vocab;
    this reads the same little-endian v2/v3 metadata in well under a second.
    """
    string_t, array_t = gguf.GGUFValueType.STRING, gguf.GGUFValueType.ARRAY
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        magic, version, _n_tensors, n_kv = struct.unpack_from("<IIQQ", buf, 0)
        if magic != gguf.GGUF_MAGIC or version not in (2, 3):
            raise ValueError(f"{path}: not a little-endian GGUF v2/v3 file")
        pos = 24

        def read_str() -> str | bytes:
            nonlocal pos
            (n,) = struct.unpack_from("<Q", buf, pos)
            raw = bytes(buf[pos + 8 : pos + 8 + n])
            pos += 8 + n
            try:
                return raw.decode()
            except UnicodeDecodeError:  # GGUF strings should be UTF-8; pass odd ones through
                return raw

        def read_scalars(vtype: gguf.GGUFValueType, count: int) -> list[Any]:
            nonlocal pos
            fmt = f"<{count}{_SCALAR_FORMATS[vtype]}"
            values = list(struct.unpack_from(fmt, buf, pos))
            pos += struct.calcsize(fmt)
            return values

        kvs: dict[str, _KV] = {}
        for _ in range(n_kv):
            key = read_str()
            (raw_type,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            vtype = gguf.GGUFValueType(raw_type)
            if vtype == array_t:
                raw_sub, count = struct.unpack_from("<IQ", buf, pos)
                pos += 12
                sub = gguf.GGUFValueType(raw_sub)
                if sub == string_t:
                    value: Any = [read_str() for _ in range(count)]
                elif sub in _SCALAR_FORMATS:
                    value = read_scalars(sub, count)
                else:
                    raise ValueError(f"{path}: nested array in {key!r} is not supported")
                kvs[str(key)] = (value, vtype, sub)
            elif vtype == string_t:
                kvs[str(key)] = (read_str(), vtype, None)
            else:
                kvs[str(key)] = (read_scalars(vtype, 1)[0], vtype, None)
        return kvs


def write_from_vocab(
    path: Path,
    vocab_path: Path,
    *,
    shape: str = "qwen2.5-coder-0.5b",
    seed: int = 0,
    n_layer: int | None = None,
    ftype: Literal["f16", "f32"] = "f16",
    qwen25_tokens: bool = True,
) -> Path:
    """Write a random-weight model with a real tokenizer and a real model's shape.

    Copies every `tokenizer.*` key of a vocab-only GGUF (e.g. llama.cpp's
    ``ggml-vocab-qwen2.gguf``), so token counts and special tokens are the real model's, and
    streams random `ftype` weights shaped by `SHAPES[shape]` (1-D tensors stay F32). The
    architecture follows the shape; the vocab size follows the vocab. `n_layer` shrinks the model
    for tests. With `qwen25_tokens`, a Qwen2 vocab's "[PAD151646]".. placeholders become the
    tokens Qwen2.5-Coder added there (`<|fim_prefix|>`, `<|repo_name|>`, ...), since llama.cpp
    ships no Qwen2.5 vocab file.
    """
    try:
        base = SHAPES[shape]
    except KeyError:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}") from None
    if n_layer is not None:
        base = dataclasses.replace(base, n_layer=n_layer)
    all_kvs = _read_gguf_kv(Path(vocab_path))
    kvs = {k: v for k, v in all_kvs.items() if k.startswith("tokenizer.")}
    if _KEY.LIST not in kvs:
        raise ValueError(f"{vocab_path}: no tokenizer.ggml.tokens, not a vocab GGUF")
    tokens: list[str] = kvs[_KEY.LIST][0]
    if qwen25_tokens and len(tokens) > _QWEN25_FIRST_ADDED_ID + len(_QWEN25_ADDED):
        first = _QWEN25_FIRST_ADDED_ID
        if tokens[first] == f"[PAD{first}]":
            types: list[int] = kvs[_KEY.TOKEN_TYPE][0]
            for i, text in enumerate(_QWEN25_ADDED, start=first):
                tokens[i] = text
                types[i] = _CONTROL if text.startswith("<|") else _USER_DEFINED
            for text, key in _QWEN_FIM_KEYS.items():
                kvs[key] = (tokens.index(text), gguf.GGUFValueType.UINT32, None)

    def add_tokenizer(w: gguf.GGUFWriter) -> None:
        for key, (value, vtype, sub) in kvs.items():
            w.add_key_value(key, value, vtype, sub)

    return _write_decoder_gguf(
        path,
        base,
        len(tokens),
        name=f"hearth-synth-{shape}-{Path(vocab_path).stem.removeprefix('ggml-vocab-')}",
        seed=seed,
        wdtype=_F16 if ftype == "f16" else _F32,
        add_tokenizer=add_tokenizer,
    )


def _run_quiet(call: Callable[[], int]) -> tuple[int, str]:
    """Run a C call with file descriptor 2 captured: llama.cpp logs every tensor it quantizes."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            rc = call()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        return rc, log.read().decode(errors="replace")


def quantize(src: Path, dst: Path, qtype: str = "q4_0") -> Path:
    """Quantize a GGUF with llama.cpp's own quantizer (via llama-cpp-python).

    Benchmarks need the quantized sizes users run. llama.cpp picks some tensors' types itself:
    the output matrix wants Q6_K and gets Q8_0 where rows are not a multiple of 256, and any
    matrix whose rows are not a multiple of 32 silently stays F16. Quantized `write_llama_spm`
    files (q8_0, q4_0) load and generate in ctransformers 0.2.27 as well as llama-cpp-python.
    llama.cpp's log is swallowed; its tail goes into the RuntimeError raised on failure.
    """
    try:
        ftype = _QTYPES[qtype.lower()]
    except KeyError:
        raise ValueError(f"unknown qtype {qtype!r}; known: {', '.join(_QTYPES)}") from None
    import llama_cpp

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise RuntimeError(f"cannot quantize {src}: no such file")
    dst.parent.mkdir(parents=True, exist_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    rc, log = _run_quiet(
        lambda: int(
            llama_cpp.llama_model_quantize(
                str(src).encode(), str(dst).encode(), ctypes.byref(params)
            )
        )
    )
    if rc != 0 or not dst.is_file():
        tail = "\n".join(log.strip().splitlines()[-5:])
        raise RuntimeError(f"quantizing {src} to {qtype} ({dst}) failed with code {rc}:\n{tail}")
    return dst


# --------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    """`python -m hearth.bench.synth KIND OUT`: write a synthesized model file, print its path."""
    parser = argparse.ArgumentParser(
        prog="python -m hearth.bench.synth",
        description="Write a random-weight model file for tests and benchmarks. Text it "
        "generates is nonsense; shapes, tokenizer and speed are real.",
        epilog="Example: python -m hearth.bench.synth from-vocab qwen-0.5b-q4.gguf "
        "--vocab ../shared/models/vocab/ggml-vocab-qwen2.gguf --shape qwen2.5-coder-0.5b "
        "--quant q4_0",
    )
    parser.add_argument(
        "kind",
        choices=["llama-spm", "qwen-bpe", "ggml-starcoder", "from-vocab"],
        help="llama-spm: tiny llama GGUF with CodeLlama FIM tokens (llama-cpp and "
        "ctransformers); qwen-bpe: tiny qwen2 GGUF with Qwen FIM/ChatML tokens (llama-cpp); "
        "ggml-starcoder: tiny legacy GGML StarCoder (ctransformers); from-vocab: real vocab "
        "(--vocab) and real shape (--shape)",
    )
    parser.add_argument("out", type=Path, help="file to write")
    parser.add_argument("--vocab", type=Path, help="vocab-only GGUF (from-vocab only)")
    parser.add_argument(
        "--shape",
        default="qwen2.5-coder-0.5b",
        choices=sorted(SHAPES),
        help="model shape for from-vocab (default: %(default)s)",
    )
    parser.add_argument("--n-layer", type=int, help="override the shape's layer count")
    parser.add_argument("--ftype", choices=["f16", "f32"], default="f16", help="from-vocab weights")
    parser.add_argument(
        "--quant", choices=sorted(_QTYPES), help="quantize the result (GGUF kinds only)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)

    if args.kind == "from-vocab" and args.vocab is None:
        parser.error("from-vocab needs --vocab")
    if args.kind == "ggml-starcoder" and args.quant:
        parser.error("--quant works on GGUF files only")

    out: Path = args.out
    try:
        with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
            target = Path(tmp) / "unquantized.gguf" if args.quant else out
            if args.kind == "llama-spm":
                write_llama_spm(target, seed=args.seed)
            elif args.kind == "qwen-bpe":
                write_qwen_bpe(target, seed=args.seed)
            elif args.kind == "ggml-starcoder":
                write_ggml_starcoder(target, seed=args.seed)
            else:
                write_from_vocab(
                    target,
                    args.vocab,
                    shape=args.shape,
                    seed=args.seed,
                    n_layer=args.n_layer,
                    ftype=args.ftype,
                )
            if args.quant:
                quantize(target, out, args.quant)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
