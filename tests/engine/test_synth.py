"""Synthesized model files load and generate in the backends they are made for.

Random weights write nonsense: the checks are about loading, token ids and special tokens.
Each model is loaded once per module; everything is tiny so the file runs in seconds.
"""

from __future__ import annotations

import itertools
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import pytest
from ctransformers import AutoModelForCausalLM

from hearth.bench import synth

CODE = "def add(a, b):\n    return a + b\n"
LLAMA_FIM = ["<PRE>", "<SUF>", "<MID>", "<EOT>"]
QWEN_SPECIALS = [
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
STARCODER_SPECIALS = [
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<file_sep>",
]


def _llama_cpp(path: Path) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=2, verbose=False)


def _ctransformers(path: Path, model_type: str) -> Any:
    return AutoModelForCausalLM.from_pretrained(str(path), model_type=model_type, threads=2)


def _gguf_tokens(path: Path) -> list[str]:
    return list(gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"].contents())


def _ggml_vocab(path: Path) -> list[bytes]:
    """The vocab of a legacy GGML file, read independently of the writer."""
    data = path.read_bytes()
    magic, n_vocab = struct.unpack_from("<Ii", data, 0)
    assert magic == 0x67676D6C
    (count,) = struct.unpack_from("<i", data, 28)
    assert count == n_vocab
    pos, vocab = 32, []
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, pos)
        vocab.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return vocab


def _greedy_llama_cpp(llm: llama_cpp.Llama, prompt: str = CODE) -> list[int]:
    out = llm.create_completion(prompt, max_tokens=4, temperature=0.0)
    assert isinstance(out, dict)
    assert out["usage"]["completion_tokens"] >= 1
    return llm.tokenize(out["choices"][0]["text"].encode(), add_bos=False)


def _greedy_ids_ctransformers(llm: Any, ids: list[int], n: int = 4) -> list[int]:
    # generate() is endless until EOS: take n tokens.
    return list(itertools.islice(llm.generate(ids, top_k=1, temperature=0.0, reset=True), n))


# ---------------------------------------------------------------------------------- llama-spm


@pytest.fixture(scope="module")
def spm_lc(llama_spm_model: Path) -> Iterator[llama_cpp.Llama]:
    llm = _llama_cpp(llama_spm_model)
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def spm_ct(llama_spm_model: Path) -> Any:
    return _ctransformers(llama_spm_model, "llama")


def test_llama_spm_metadata(llama_spm_model: Path) -> None:
    reader = gguf.GGUFReader(llama_spm_model)
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("tokenizer.")}
    assert fields["general.architecture"] == "llama"
    assert fields["general.name"] == "hearth-test-llama-spm"
    assert fields["llama.context_length"] == 512
    assert reader.fields["tokenizer.ggml.model"].contents() == "llama"
    tokens = _gguf_tokens(llama_spm_model)
    assert len(tokens) % 32 == 0
    assert tokens[:3] == ["<unk>", "<s>", "</s>"]
    assert {f"<0x{b:02X}>" for b in range(256)} <= set(tokens)
    ids = {key: reader.fields[key].contents() for key in reader.fields if key.endswith("_id")}
    assert tokens[ids["tokenizer.ggml.prefix_token_id"]] == "<PRE>"
    assert tokens[ids["tokenizer.ggml.suffix_token_id"]] == "<SUF>"
    assert tokens[ids["tokenizer.ggml.middle_token_id"]] == "<MID>"
    assert tokens[ids["tokenizer.ggml.eot_token_id"]] == "<EOT>"


def test_llama_spm_generates_in_llama_cpp(spm_lc: llama_cpp.Llama) -> None:
    ids = spm_lc.tokenize(CODE.encode(), add_bos=False)
    assert len(ids) < len(CODE) // 2  # merges give multi-character pieces, like a real vocab
    _greedy_llama_cpp(spm_lc)


@pytest.mark.parametrize("text", LLAMA_FIM)
def test_llama_spm_fim_token_is_one_id_in_llama_cpp(spm_lc: llama_cpp.Llama, text: str) -> None:
    ids = spm_lc.tokenize(text.encode(), add_bos=False, special=True)
    assert len(ids) == 1
    assert spm_lc.detokenize(ids, special=True) == text.encode()


def test_llama_spm_generates_in_ctransformers(spm_ct: Any, spm_lc: llama_cpp.Llama) -> None:
    assert spm_ct.vocab_size == spm_lc.n_vocab()
    ids = spm_ct.tokenize(CODE)
    # Same SentencePiece vocab, same pieces in both backends (ctransformers adds BOS).
    assert ids == [spm_lc.token_bos(), *spm_lc.tokenize(CODE.encode(), add_bos=False)]
    assert len(_greedy_ids_ctransformers(spm_ct, ids)) >= 1


def test_llama_spm_fim_tokens_in_ctransformers(llama_spm_model: Path, spm_ct: Any) -> None:
    # ctransformers' tokenize() does not map special tokens: take the ids from the vocab.
    tokens = _gguf_tokens(llama_spm_model)
    fim = {text: tokens.index(text) for text in LLAMA_FIM}
    assert all(tokens.count(text) == 1 for text in LLAMA_FIM)
    prompt = [
        spm_ct.bos_token_id,
        fim["<PRE>"],
        *spm_ct.tokenize("def f(x):", add_bos_token=False),
        fim["<SUF>"],
        *spm_ct.tokenize("\n", add_bos_token=False),
        fim["<MID>"],
    ]
    assert all(0 <= t < spm_ct.vocab_size for t in _greedy_ids_ctransformers(spm_ct, prompt))


@pytest.mark.parametrize("qtype", ["q8_0", "q4_0"])
def test_quantized_llama_spm_loads_in_both(
    llama_spm_model: Path, llama_spm_q8_model: Path, tmp_path: Path, qtype: str
) -> None:
    path = llama_spm_q8_model
    if qtype != "q8_0":
        path = synth.quantize(llama_spm_model, tmp_path / f"spm-{qtype}.gguf", qtype)
    assert path.stat().st_size < llama_spm_model.stat().st_size // 3
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(path).tensors}
    assert types["blk.0.attn_q.weight"] == qtype.upper()
    lc = _llama_cpp(path)
    try:
        _greedy_llama_cpp(lc)
        assert len(lc.tokenize(b"<MID>", add_bos=False, special=True)) == 1
    finally:
        lc.close()
    ct = _ctransformers(path, "llama")
    assert len(_greedy_ids_ctransformers(ct, ct.tokenize(CODE))) >= 1


def test_quantize_failure_names_the_file(ggml_starcoder_model: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=str(ggml_starcoder_model)):
        synth.quantize(ggml_starcoder_model, tmp_path / "out.gguf", "q4_0")
    with pytest.raises(ValueError, match="qtype"):
        synth.quantize(ggml_starcoder_model, tmp_path / "out.gguf", "q3_x")


def test_same_seed_same_file(tmp_path: Path) -> None:
    a = synth.write_llama_spm(tmp_path / "a.gguf", n_layer=1)
    b = synth.write_llama_spm(tmp_path / "b.gguf", n_layer=1)
    c = synth.write_llama_spm(tmp_path / "c.gguf", n_layer=1, seed=1)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


# ---------------------------------------------------------------------------------- qwen-bpe


@pytest.fixture(scope="module")
def qwen_lc(qwen_bpe_model: Path) -> Iterator[llama_cpp.Llama]:
    llm = _llama_cpp(qwen_bpe_model)
    yield llm
    llm.close()


def test_qwen_bpe_generates_in_llama_cpp(qwen_lc: llama_cpp.Llama) -> None:
    assert qwen_lc.metadata["general.architecture"] == "qwen2"
    assert qwen_lc.metadata["general.name"] == "hearth-test-qwen-bpe"
    ids = qwen_lc.tokenize(CODE.encode(), add_bos=False)
    assert len(ids) < len(CODE) // 2
    assert qwen_lc.detokenize(ids) == CODE.encode()
    _greedy_llama_cpp(qwen_lc)


@pytest.mark.parametrize("text", QWEN_SPECIALS)
def test_qwen_bpe_special_is_one_id(qwen_lc: llama_cpp.Llama, text: str) -> None:
    ids = qwen_lc.tokenize(text.encode(), add_bos=False, special=True)
    assert len(ids) == 1
    assert qwen_lc.detokenize(ids, special=True) == text.encode()


def test_qwen_bpe_eos_and_chat_template(qwen_lc: llama_cpp.Llama) -> None:
    (eot,) = qwen_lc.tokenize(b"<|endoftext|>", add_bos=False, special=True)
    assert qwen_lc.token_eos() == eot
    assert "<|im_start|>" in qwen_lc.metadata["tokenizer.chat_template"]
    out = qwen_lc.create_chat_completion(
        messages=[{"role": "user", "content": "hi"}], max_tokens=2, temperature=0.0
    )
    assert isinstance(out, dict)
    assert out["usage"]["prompt_tokens"] > 3  # the template's <|im_start|>... made it in


# ---------------------------------------------------------------------------- ggml-starcoder


def test_ggml_starcoder_generates_in_ctransformers(ggml_starcoder_model: Path) -> None:
    vocab = _ggml_vocab(ggml_starcoder_model)
    assert len(vocab) % 32 == 0
    assert len({bytes([b]) for b in range(256)} & set(vocab)) == 256
    llm = _ctransformers(ggml_starcoder_model, "starcoder")
    assert llm.vocab_size == len(vocab)
    assert llm.eos_token_id == vocab.index(b"<|endoftext|>")
    ids = llm.tokenize(CODE)
    assert len(ids) < len(CODE) // 2
    assert llm.detokenize(ids) == CODE
    fim = {text: vocab.index(text.encode()) for text in STARCODER_SPECIALS}
    for text, tid in fim.items():
        assert vocab.count(text.encode()) == 1
        assert llm.detokenize([tid]) == text
    prompt = [fim["<fim_prefix>"], *ids, fim["<fim_suffix>"], fim["<fim_middle>"]]
    assert all(0 <= t < len(vocab) for t in _greedy_ids_ctransformers(llm, prompt))


# -------------------------------------------------------------------------------- from-vocab


def test_from_vocab_qwen2_has_qwen25_fim_tokens(
    shared_vocab: Callable[[str], Path], tmp_path: Path
) -> None:
    vocab = shared_vocab("qwen2")
    path = synth.write_from_vocab(tmp_path / "qwen.gguf", vocab, shape="tiny", n_layer=1)
    src, dst = synth._read_gguf_kv(vocab), synth._read_gguf_kv(path)
    assert dst["general.architecture"][0] == "qwen2"
    assert dst["qwen2.block_count"][0] == 1
    overlaid = {"tokenizer.ggml.tokens", "tokenizer.ggml.token_type"}
    for key, (value, _, _) in src.items():
        if key.startswith("tokenizer.") and key not in overlaid:
            assert dst[key][0] == value, key
    src_tokens, dst_tokens = src["tokenizer.ggml.tokens"][0], dst["tokenizer.ggml.tokens"][0]
    assert len(src_tokens) == len(dst_tokens)
    changed = [i for i, (a, b) in enumerate(zip(src_tokens, dst_tokens, strict=True)) if a != b]
    assert all(src_tokens[i].startswith("[PAD") for i in changed)
    assert dst_tokens[151659] == "<|fim_prefix|>"
    llm = _llama_cpp(path)
    try:
        assert llm.n_vocab() == len(src_tokens)
        for text in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|im_end|>"):
            assert len(llm.tokenize(text.encode(), add_bos=False, special=True)) == 1
        _greedy_llama_cpp(llm)
    finally:
        llm.close()


def test_fast_metadata_reader_matches_gguf_reader(llama_spm_model: Path) -> None:
    ours = synth._read_gguf_kv(llama_spm_model)
    theirs = gguf.GGUFReader(llama_spm_model).fields
    for key, (value, _, _) in ours.items():
        expected = theirs[key].contents()
        assert value == pytest.approx(expected) if isinstance(value, float) else value == expected


def test_unknown_shape_is_rejected(llama_spm_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("qwen2.5-coder-0.5b")):
        synth.write_from_vocab(tmp_path / "x.gguf", llama_spm_model, shape="nope")


# -------------------------------------------------------------------------------------- CLI


def test_cli_writes_and_quantizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.gguf"
    assert synth.main(["llama-spm", str(out), "--quant", "q8_0"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    types = {t.tensor_type.name for t in gguf.GGUFReader(out).tensors}
    assert "Q8_0" in types
    assert list(tmp_path.iterdir()) == [out]  # the unquantized intermediate is gone


def test_cli_from_vocab_needs_vocab(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        synth.main(["from-vocab", str(tmp_path / "m.gguf")])
    assert exc.value.code == 2
