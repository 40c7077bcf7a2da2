"""read_model_file: GGUF metadata without loading weights, and a clear error for bad files."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import pytest

from hearth.engine.model_file import FileKind, read_model_file
from hearth.errors import ModelFormatError, ModelNotFoundError

TOKENS = ["<unk>", "<s>", "</s>", "<|fim_prefix|>", "def", " f"]
NO_TOKEN = 0xFFFFFFFF


def write_gguf(path: Path) -> Path:
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("tiny-test")
    writer.add_context_length(2048)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(TOKENS)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_uint32("tokenizer.ggml.padding_token_id", NO_TOKEN)  # "no such token"
    # 8 f32 = 32 bytes: a multiple of the alignment, so the file ends with tensor data.
    writer.add_tensor("weight", np.arange(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def gguf_path(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "tiny.gguf")


def test_reads_gguf_metadata(gguf_path: Path) -> None:
    model = read_model_file(gguf_path)
    assert model.kind is FileKind.GGUF
    assert model.gguf_version == 3
    assert model.size == gguf_path.stat().st_size
    assert model.architecture == "llama"
    assert model.name == "tiny-test"
    assert model.context_length == 2048
    assert model.tokenizer_model == "llama"
    assert model.tokens == TOKENS
    assert model.chat_template is None
    assert model.tensor_count == 1
    # padding_token_id = 0xFFFFFFFF means "none" and is dropped.
    assert model.special_token_ids() == {"bos": 1, "eos": 2}
    assert model.summary() == {
        "path": str(gguf_path),
        "format": "gguf",
        "gguf_version": 3,
        "size_bytes": gguf_path.stat().st_size,
        "architecture": "llama",
        "name": "tiny-test",
        "context_length": 2048,
        "tokenizer": "llama",
        "vocab_size": len(TOKENS),
        "has_chat_template": False,
        "special_tokens": {"bos": 1, "eos": 2},
        "file_type": None,
        "tensors": 1,
    }


def test_accepts_str_path(gguf_path: Path) -> None:
    assert read_model_file(str(gguf_path)).path == gguf_path


@pytest.mark.parametrize(
    "keep",
    [
        pytest.param(lambda size: size - 4, id="tensor-data-cut"),
        pytest.param(lambda size: size - 32, id="tensor-data-missing"),
        pytest.param(lambda size: 40, id="metadata-cut"),
        pytest.param(lambda size: 6, id="version-cut"),
    ],
)
def test_truncated_gguf(gguf_path: Path, keep: Callable[[int], int]) -> None:
    data = gguf_path.read_bytes()
    gguf_path.write_bytes(data[: keep(len(data))])
    with pytest.raises(ModelFormatError) as err:
        read_model_file(gguf_path)
    assert "truncated" in err.value.message
    assert str(gguf_path) in err.value.message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.gguf"
    with pytest.raises(ModelNotFoundError) as err:
        read_model_file(path)
    assert str(path) in err.value.message
    assert err.value.hint


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="folder"):
        read_model_file(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("empty.gguf", b"", "is empty", id="empty"),
        pytest.param("notes.gguf", b"hello, this is text\n", "not a model file", id="text"),
        pytest.param("short.gguf", b"GG", "not a model file", id="two-bytes"),
        pytest.param(
            "old.gguf", b"GGUF" + struct.pack("<I", 1) + bytes(32), "GGUF version 1", id="gguf-v1"
        ),
        pytest.param(
            "future.gguf", b"GGUF" + struct.pack("<I", 4) + bytes(32), "GGUF version 4", id="v4"
        ),
    ],
)
def test_not_a_usable_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ModelFormatError) as err:
        read_model_file(path)
    assert message in err.value.message
    assert str(path) in err.value.message


def test_corrupt_header_counts(tmp_path: Path) -> None:
    path = tmp_path / "huge.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 0))
    with pytest.raises(ModelFormatError, match="not a valid GGUF"):
        read_model_file(path)


@pytest.mark.parametrize(
    ("name", "magic", "model_type"),
    [
        pytest.param("starcoder-x.bin", 0x67676D6C, "starcoder", id="ggml-starcoder"),
        pytest.param("gpt-bigcode-1b.bin", 0x67676D66, "starcoder", id="ggmf-bigcode"),
        pytest.param("santacoder.q4.bin", 0x67676A74, "starcoder", id="ggjt-santacoder"),
        pytest.param("gpt-neox-20b.bin", 0x67676D6C, "gpt_neox", id="gpt-neox"),
        pytest.param("pythia-70m.bin", 0x67676D6C, "gpt_neox", id="pythia"),
        pytest.param("Replit-Code.bin", 0x67676D6C, "replit", id="replit-case"),
        pytest.param("weights.bin", 0x67676D6C, None, id="unknown-name"),
    ],
)
def test_legacy_ggml(tmp_path: Path, name: str, magic: int, model_type: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(struct.pack("<I", magic) + bytes(64))
    model = read_model_file(path)
    assert model.kind is FileKind.GGML
    assert model.legacy_model_type == model_type
    assert model.gguf_version is None
    assert model.metadata == {}
    assert model.architecture == (model_type or "unknown (legacy GGML)")
    assert model.name == Path(name).stem
    assert model.context_length is None
    assert model.summary()["format"] == "ggml"
