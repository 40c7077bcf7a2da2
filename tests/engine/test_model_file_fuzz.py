"""Model files are untrusted input: a mutated-header corpus through Hearth's GGUF validator.

Every mutation of a small valid GGUF (field values set to extremes, bytes flipped, inserted,
deleted, files cut short) must end in a `ModelFormatError`-family error or a clean accept,
never another exception, quickly and without a large allocation. The loader must run that
validator before either backend sees the file.
"""

from __future__ import annotations

import random
import struct
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from hearth.engine.model_file import read_model_file
from hearth.errors import ModelError, ModelFormatError

DEFAULT_MUTATIONS = 1500
SOAK_MUTATIONS = 20_000
EXTREMES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 31, 33, 64, 255, 2**31 - 1, 2**31, 2**32 - 1]
EXTREMES += [2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64 - 1]


def write_small_gguf(path: Path) -> Path:
    """A few KB: every value type the reader knows, a vocab, tensors of three ggml types."""
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("fuzz-base")
    w.add_context_length(256)
    w.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>", "<PRE>", "def", " x", "é", "😋"]
    w.add_token_list(tokens)
    w.add_token_scores([float(-i) for i in range(len(tokens))])
    w.add_token_types([1] * len(tokens))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_bool("fuzz.flag", True)
    w.add_int8("fuzz.i8", -3)
    w.add_uint16("fuzz.u16", 7)
    w.add_int64("fuzz.i64", -(2**40))
    w.add_float64("fuzz.f64", 0.5)
    w.add_array("fuzz.strings", ["a", "bc", ""])
    w.add_tensor("a.weight", np.arange(32, dtype=np.float32))
    w.add_tensor("b.weight", np.ones((2, 32), dtype=np.float16))
    q8 = np.zeros((1, 34), dtype=np.uint8)  # one Q8_0 block: f16 scale + 32 int8
    w.add_tensor("c.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def field_offsets(data: bytes) -> list[tuple[int, int]]:
    """(offset, width) of every integer field of the header: counts, lengths, types, dims,
    tensor offsets. Walks a valid file, so it can trust what it reads."""
    fields: list[tuple[int, int]] = [(4, 4), (8, 8), (16, 8)]
    pos = 24
    n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)
    scalar = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def string() -> None:
        nonlocal pos
        fields.append((pos, 8))
        pos += 8 + struct.unpack_from("<Q", data, pos)[0]

    for _ in range(n_kv):
        string()
        fields.append((pos, 4))
        vtype = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        if vtype == 8:
            string()
        elif vtype == 9:
            fields.extend([(pos, 4), (pos + 4, 8)])
            etype, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            for _ in range(count):
                if etype == 8:
                    string()
                else:
                    pos += scalar[etype]
        else:
            pos += scalar[vtype]
    for _ in range(n_tensors):
        string()
        fields.append((pos, 4))
        n_dims = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        for _ in range(n_dims):
            fields.append((pos, 8))
            pos += 8
        fields.extend([(pos, 4), (pos + 4, 8)])
        pos += 12
    return fields


def mutate(data: bytes, fields: list[tuple[int, int]], rng: random.Random) -> tuple[str, bytes]:
    header_end = max(off + width for off, width in fields)
    out = bytearray(data)
    kind = rng.choice(["field", "field", "field", "flip", "insert", "delete", "truncate"])
    if kind == "field":
        for _ in range(rng.choice([1, 1, 2, 3])):
            off, width = rng.choice(fields)
            value = rng.choice([*EXTREMES, rng.getrandbits(8 * width)]) % (1 << (8 * width))
            out[off : off + width] = value.to_bytes(width, "little")
    elif kind == "flip":
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(4, header_end)] = rng.randrange(256)
    elif kind == "insert":
        at = rng.randrange(4, header_end)
        out[at:at] = rng.randbytes(rng.randint(1, 16))
    elif kind == "delete":
        at = rng.randrange(4, header_end)
        del out[at : at + rng.randint(1, 16)]
    else:
        del out[rng.randrange(0, len(out)) :]
    return kind, bytes(out)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    path = write_small_gguf(tmp_path_factory.mktemp("fuzz") / "base.gguf")
    read_model_file(path)  # the base itself is valid
    yield path.read_bytes()


def run_corpus(base: bytes, tmp_path: Path, count: int, seed: int) -> Counter[str]:
    fields = field_offsets(base)
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    path = tmp_path / "mutant.gguf"
    slowest = 0.0
    tracemalloc.start()
    try:
        for _ in range(count):
            kind, data = mutate(base, fields, rng)
            path.write_bytes(data)
            start = time.perf_counter()
            try:
                model = read_model_file(path)
            except ModelError as exc:
                assert exc.message and str(path) in exc.message, exc.message
                outcomes[f"{kind}: {type(exc).__name__}"] += 1
            except Exception as exc:  # pragma: no cover - the failure this test exists for
                raise AssertionError(f"{kind} mutation crashed the validator: {exc!r}") from exc
            else:
                model.summary()  # what Hearth shows about an accepted file must not crash
                outcomes[f"{kind}: accepted"] += 1
            slowest = max(slowest, time.perf_counter() - start)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(
        f"GGUF corpus: {count} mutations, {sum(v for k, v in outcomes.items() if 'accepted' in k)}"
        f" accepted, slowest {slowest * 1000:.1f} ms, peak {peak / 1e3:.0f} kB; {dict(outcomes)}"
    )
    assert slowest < 1.0
    assert peak < 64e6
    return outcomes


def test_mutated_headers_never_crash_the_validator(base: bytes, tmp_path: Path) -> None:
    outcomes = run_corpus(base, tmp_path, DEFAULT_MUTATIONS, seed=11)
    assert sum(outcomes.values()) == DEFAULT_MUTATIONS
    assert sum(v for k, v in outcomes.items() if "accepted" not in k) > DEFAULT_MUTATIONS // 2


@pytest.mark.soak
def test_mutated_headers_soak(base: bytes, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "soak" not in str(request.config.getoption("markexpr", "") or ""):
        pytest.skip("full-count corpus: select it with `pytest -m soak`")
    run_corpus(base, tmp_path, SOAK_MUTATIONS, seed=1111)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param(1, 2**40, "tensors", id="tensor-count"),
        pytest.param(2, 2**40, "keys", id="key-count"),
        pytest.param(3, 2**62, "string of", id="string-length"),
        pytest.param(4, 77, "unknown value type", id="value-type"),
    ],
)
def test_clear_errors_for_impossible_headers(
    base: bytes, tmp_path: Path, field: int, value: int, message: str
) -> None:
    off, width = field_offsets(base)[field]
    data = bytearray(base)
    data[off : off + width] = value.to_bytes(width, "little")
    path = tmp_path / "bad.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError) as err:
        read_model_file(path)
    assert message in err.value.message and str(path) in err.value.message
    assert err.value.hint


def test_tensor_checks(tmp_path: Path) -> None:
    """Overlapping, unaligned and ragged tensors are refused before a backend sees them."""

    def with_tensor_field(name: str, index: int, value: int) -> Path:
        data = bytearray((tmp_path / "base.gguf").read_bytes())
        fields = field_offsets(bytes(data))
        name_at = bytes(data).index(name.encode())
        after = [f for f in fields if f[0] > name_at]
        off, width = after[index]
        data[off : off + width] = value.to_bytes(width, "little")
        out = tmp_path / f"{name}-{index}-{value}.gguf"
        out.write_bytes(bytes(data))
        return out

    write_small_gguf(tmp_path / "base.gguf")
    # b.weight: n_dims, dim0, dim1, type, offset
    cases = {
        (1, 33): "whole blocks",  # c.weight (Q8_0) row of 33 elements
        (4, 0): "overlapping",  # b.weight at offset 0, over a.weight
        (4, 3): "unaligned",
        (3, 99): "unknown type",
        (0, 5): "dimensions",
    }
    for (index, value), message in cases.items():
        name = "c.weight" if message == "whole blocks" else "b.weight"
        path = with_tensor_field(name, index, value)
        with pytest.raises(ModelFormatError, match=message):
            read_model_file(path)


def test_synthesized_models_pass(llama_spm_model: Path, qwen_bpe_model: Path) -> None:
    for path in (llama_spm_model, qwen_bpe_model):
        assert read_model_file(path).tensor_count > 0


@pytest.mark.parametrize("backend", ["llamacpp", "ctransformers", "auto"])
def test_loader_validates_before_any_backend(
    base: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    from hearth.engine import ctransformers_backend, llamacpp_backend, loader

    def must_not_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("a backend saw a file that failed validation")

    monkeypatch.setattr(llamacpp_backend, "LlamaCppBackend", must_not_load)
    monkeypatch.setattr(ctransformers_backend, "CTransformersBackend", must_not_load)
    data = bytearray(base)
    data[8:16] = (2**40).to_bytes(8, "little")  # tensor count
    path = tmp_path / "evil.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError):
        loader.load_backend(path, backend)
