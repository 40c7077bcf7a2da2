"""Identify a model file and read its GGUF metadata without loading weights.

A small reader of its own rather than `gguf.GGUFReader`: it reads only the header, checks that
the file is long enough for the tensors it declares (a truncated download is the most common
corrupt file), and turns every failure into a `ModelFormatError` that names the file.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

from hearth.errors import ModelFormatError, ModelNotFoundError

GGUF_MAGIC = b"GGUF"
# Legacy GGML containers, as the little-endian uint32 magic reads in the file.
LEGACY_MAGICS = {
    0x67676D6C: "ggml",  # unversioned
    0x67676D66: "ggmf",
    0x67676A74: "ggjt",
}
LEGACY_MODEL_TYPES = (
    "starcoder",
    "gpt_bigcode",
    "gpt2",
    "gptj",
    "gpt_neox",
    "mpt",
    "replit",
    "falcon",
    "dolly",
    "llama",
)

# GGUF value types -> struct formats (scalars only; 8 = string, 9 = array).
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING = 8
_ARRAY = 9
_MAX_STRING = 1 << 30
_MAX_ARRAY = 1 << 28
_MAX_BYTES = 1 << 62  # any length beyond this is corrupt, not merely cut short
_MAX_KEYS = 1_000_000
_MAX_TENSORS = 1 << 20
_MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_TENSOR_NAME = 63  # GGML_MAX_NAME is 64 with the terminating NUL
_MIN_KEY_BYTES = 8 + 4 + 1  # key length, value type, the smallest value
_MIN_TENSOR_BYTES = 8 + 4 + 4 + 8  # name length, n_dims, type, offset
_INT64_MAX = (1 << 63) - 1


class FileKind(str, Enum):
    GGUF = "gguf"
    GGML = "ggml"  # legacy GGML/GGMF/GGJT


@dataclass
class ModelFile:
    """What Hearth knows about a model file before any backend touches it."""

    path: Path
    kind: FileKind
    size: int
    gguf_version: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tensor_count: int = 0
    legacy_model_type: str | None = None
    tensor_types: frozenset[int] = frozenset()  # ggml type ids of its tensors (GGUF only)

    @property
    def architecture(self) -> str:
        if self.kind is FileKind.GGML:
            return self.legacy_model_type or "unknown (legacy GGML)"
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def quantized(self) -> bool:
        """Whether any tensor is quantized (not F32/F16/BF16): the types llama.cpp's AMX and
        repacking kernels take over, and the ones those kernels crash on where AMX is broken."""
        return bool(self.tensor_types - _FLOAT_TYPES)

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if isinstance(value, int) else None

    @property
    def tokenizer_model(self) -> str | None:
        """`llama` (SentencePiece), `gpt2` (BPE), ... as GGUF names it."""
        value = self.metadata.get("tokenizer.ggml.model")
        return str(value) if value is not None else None

    @property
    def tokens(self) -> list[str]:
        value = self.metadata.get("tokenizer.ggml.tokens")
        return list(value) if isinstance(value, list) else []

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return str(value) if isinstance(value, str) else None

    def special_token_ids(self) -> dict[str, int]:
        """`tokenizer.ggml.*_token_id` entries, keyed by role (bos, eos, eot, prefix...)."""
        out: dict[str, int] = {}
        for key, value in self.metadata.items():
            is_id = key.startswith("tokenizer.ggml.") and key.endswith("_token_id")
            if is_id and isinstance(value, int) and 0 <= value < 0xFFFFFFFF:
                out[key[len("tokenizer.ggml.") : -len("_token_id")]] = value
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly digest for `hearth model info` and logs."""
        return {
            "path": str(self.path),
            "format": self.kind.value,
            "gguf_version": self.gguf_version,
            "size_bytes": self.size,
            "architecture": self.architecture,
            "name": self.name,
            "context_length": self.context_length,
            "tokenizer": self.tokenizer_model,
            "vocab_size": len(self.tokens) or None,
            "has_chat_template": self.chat_template is not None,
            "special_tokens": self.special_token_ids(),
            "file_type": self.metadata.get("general.file_type"),
            "tensors": self.tensor_count,
        }


class _Reader:
    """Reads the header, checking every length against the bytes the file still holds
    before anything is read or allocated."""

    def __init__(self, fh: BinaryIO, path: Path, size: int) -> None:
        self.fh = fh
        self.path = path
        self.size = size
        self.pos = fh.tell()

    @property
    def left(self) -> int:
        return self.size - self.pos

    def need(self, n: int, what: str, limit: int) -> None:
        """`n` bytes (of `what`) must be plausible and present in the file."""
        if n > limit:
            raise _corrupt(self.path, what)
        if n > self.left:
            raise _truncated(self.path)

    def take(self, n: int) -> bytes:
        if n > self.left:
            raise _truncated(self.path)
        data = self.fh.read(n)
        if len(data) != n:
            raise _truncated(self.path)
        self.pos += n
        return data

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self, limit: int = _MAX_STRING) -> str:
        n = self.scalar("<Q")
        self.need(n, f"a string of {n} bytes", limit)
        return self.take(n).decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype = self.scalar("<I")
            count = self.scalar("<Q")
            if etype == _ARRAY:
                raise _corrupt(self.path, "an array of arrays")
            if etype not in _SCALARS and etype != _STRING:
                raise _corrupt(self.path, f"an array of unknown value type {etype}")
            fmt = _SCALARS.get(etype, "<Q")  # a string is at least its 8-byte length
            self.need(count * struct.calcsize(fmt), f"an array of {count} items", _MAX_BYTES)
            if count > _MAX_ARRAY:
                raise _corrupt(self.path, f"an array of {count} items")
            if etype in _SCALARS:
                raw = self.take(struct.calcsize(fmt) * count)
                return list(struct.unpack(f"<{count}{fmt[1]}", raw))
            return [self.string() for _ in range(count)]
        raise _corrupt(self.path, f"unknown value type {vtype}")


def _truncated(path: Path) -> ModelFormatError:
    return ModelFormatError(
        f"{path} is truncated: it ends before the data its header declares",
        "the download was probably interrupted; download the file again "
        "(`hearth model pull NAME` resumes and verifies it)",
    )


def _corrupt(path: Path, what: str) -> ModelFormatError:
    return ModelFormatError(
        f"{path} is not a valid GGUF file (its header declares {what})",
        "the file is corrupt; download it again",
    )


# (elements per block, bytes per block) of the ggml types nearly every GGUF uses. Reading a
# header then needs no `gguf` import (numpy and all: a third of a second at every server
# start and in every model probe); rarer types are looked up in gguf's own table.
_COMMON_TYPES: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    30: (1, 2),  # BF16
}


_FLOAT_TYPES = frozenset({0, 1, 30})  # F32, F16, BF16


def _type_sizes(ggml_type: int) -> tuple[int, int] | None:
    if ggml_type in _COMMON_TYPES:
        return _COMMON_TYPES[ggml_type]
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        return GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        return None


def _tensor_nbytes(path: Path, name: str, ggml_type: int, dims: list[int]) -> int:
    """Bytes of one tensor's data; a type this reader does not know, a shape that does not
    fill whole blocks or overflows int64 is corrupt (llama.cpp refuses those too)."""
    sizes = _type_sizes(ggml_type)
    if sizes is None:
        raise _corrupt(path, f"tensor {name!r} of unknown type {ggml_type}")
    block, type_size = sizes
    elements = 1
    for d in dims:
        if d > _INT64_MAX:
            raise _corrupt(path, f"tensor {name!r} with a dimension of {d}")
        elements *= d
        if elements > _INT64_MAX:
            raise _corrupt(path, f"tensor {name!r} with shape {dims}")
    if dims and dims[0] % block:
        raise _corrupt(path, f"tensor {name!r} whose rows do not fill whole blocks")
    return elements // block * type_size


def _check_tokenizer(path: Path, metadata: dict[str, Any]) -> None:
    """Vocab arrays that disagree in length make llama.cpp read past their ends."""
    tokens = metadata.get("tokenizer.ggml.tokens")
    if tokens is None:
        return
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise _corrupt(path, "a token list that is not a list of strings")
    for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        value = metadata.get(key)
        if value is not None and (not isinstance(value, list) or len(value) != len(tokens)):
            raise _corrupt(path, f"{key} not matching its {len(tokens)} tokens")
    merges = metadata.get("tokenizer.ggml.merges")
    if merges is not None and (
        not isinstance(merges, list) or not all(isinstance(m, str) for m in merges)
    ):
        raise _corrupt(path, "tokenizer merges that are not a list of strings")


def _guess_legacy_type(path: Path) -> str | None:
    """The ctransformers model type named by whole words of the file name, if any."""
    words = set(re.split(r"[^a-z0-9]+", path.stem.lower().replace("gpt-", "gpt_")))
    joined = path.stem.lower().replace("-", "_")
    for model_type in LEGACY_MODEL_TYPES:
        if model_type in words or ("_" in model_type and model_type in joined):
            return "starcoder" if model_type == "gpt_bigcode" else model_type
    if words & {"santacoder", "bigcode"}:
        return "starcoder"
    if words & {"neox", "pythia"}:
        return "gpt_neox"
    return None


def read_model_file(path: str | Path) -> ModelFile:
    """Identify `path` and read its metadata; raise a clear error for anything unusable."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelNotFoundError(
            f"model file not found: {p}",
            "check the path, or pass --model /path/to/model.gguf or set HEARTH_MODEL",
        )
    if p.is_dir():
        raise ModelNotFoundError(
            f"{p} is a folder, not a model file", "point --model at a .gguf file inside it"
        )
    size = p.stat().st_size
    with p.open("rb") as fh:
        head = fh.read(4)
        if head == GGUF_MAGIC:
            return _read_gguf(fh, p, size)
        if len(head) == 4 and struct.unpack("<I", head)[0] in LEGACY_MAGICS:
            return ModelFile(
                path=p, kind=FileKind.GGML, size=size, legacy_model_type=_guess_legacy_type(p)
            )
    if size == 0:
        raise ModelFormatError(f"{p} is empty", "download the model file again")
    raise ModelFormatError(
        f"{p} is not a model file (no GGUF or GGML header)",
        "Hearth runs GGUF models (and legacy GGML files through ctransformers); "
        "see `hearth model list` for ones that work",
    )


def _read_gguf(fh: BinaryIO, path: Path, size: int) -> ModelFile:
    """Validate the whole GGUF header against the file before any backend parses it.

    Model files are untrusted input: ctransformers bundles a 2023 ggml whose GGUF parser
    predates the fixes for CVE-2024-21802/21825/21836/23496/23605 and later GGUF overflows,
    so every count, length, type, shape and tensor offset is checked here first.
    """
    r = _Reader(fh, path, size)
    version = r.scalar("<I")
    if version not in (2, 3):
        raise ModelFormatError(
            f"{path} is GGUF version {version}; Hearth reads versions 2 and 3",
            "convert the model with a current llama.cpp, or download a current GGUF",
        )
    n_tensors = r.scalar("<Q")
    n_kv = r.scalar("<Q")
    if n_tensors > _MAX_TENSORS or n_kv > _MAX_KEYS:
        raise _corrupt(path, f"{n_tensors} tensors and {n_kv} keys")
    if n_tensors * _MIN_TENSOR_BYTES + n_kv * _MIN_KEY_BYTES > r.left:
        raise _truncated(path)
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string(limit=1 << 16)
        if key in metadata:
            raise _corrupt(path, f"the key {key[:80]!r} twice")
        vtype = r.scalar("<I")
        metadata[key] = r.value(vtype)
    alignment = metadata.get("general.alignment", 32)
    if (
        not isinstance(alignment, int)
        or isinstance(alignment, bool)
        or alignment <= 0
        or alignment & (alignment - 1)
    ):
        raise _corrupt(path, f"an alignment of {alignment!r}")
    _check_tokenizer(path, metadata)
    spans: list[tuple[int, int, str]] = []
    names: set[str] = set()
    types: set[int] = set()
    for _ in range(n_tensors):
        name = r.string(limit=_MAX_TENSOR_NAME)
        if name in names:
            raise _corrupt(path, f"the tensor {name!r} twice")
        names.add(name)
        n_dims = r.scalar("<I")
        if n_dims > _MAX_DIMS:
            raise _corrupt(path, f"a tensor with {n_dims} dimensions")
        dims = [r.scalar("<Q") for _ in range(n_dims)]
        ggml_type = r.scalar("<I")
        offset = r.scalar("<Q")
        nbytes = _tensor_nbytes(path, name, ggml_type, dims)
        types.add(ggml_type)
        if offset % alignment:
            raise _corrupt(path, f"tensor {name!r} at an unaligned offset {offset}")
        spans.append((offset, offset + nbytes, name))
    data_start = (r.pos + alignment - 1) // alignment * alignment
    end = 0
    for start, stop, name in sorted(spans):
        if start < end:
            raise _corrupt(path, f"tensor {name!r} overlapping another tensor's data")
        end = stop
    if n_tensors and data_start + end > size:
        raise _truncated(path)
    return ModelFile(
        path=path,
        kind=FileKind.GGUF,
        size=size,
        gguf_version=version,
        metadata=metadata,
        tensor_count=n_tensors,
        tensor_types=frozenset(types),
    )
