"""Session-wide model fixtures.

Tests never download models: they synthesize tiny random-weight files once per session
(`hearth.bench.synth`), and use the real files in ../shared/models/ only where present, skipping
with a reason where that folder is absent (a user's clone of the project).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hearth.bench import synth

SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def llama_spm_model(models_dir: Path) -> Path:
    """F32 llama + SentencePiece vocab with CodeLlama FIM tokens; loads in both backends."""
    return synth.write_llama_spm(models_dir / "llama-spm-f32.gguf")


@pytest.fixture(scope="session")
def llama_spm_q8_model(llama_spm_model: Path, models_dir: Path) -> Path:
    """`llama_spm_model` quantized to Q8_0 by llama.cpp; loads in both backends."""
    return synth.quantize(llama_spm_model, models_dir / "llama-spm-q8_0.gguf", "q8_0")


@pytest.fixture(scope="session")
def qwen_bpe_model(models_dir: Path) -> Path:
    """F32 qwen2 + byte-level BPE vocab with Qwen's FIM/ChatML tokens; llama-cpp-python only."""
    return synth.write_qwen_bpe(models_dir / "qwen-bpe-f32.gguf")


@pytest.fixture(scope="session")
def ggml_starcoder_model(models_dir: Path) -> Path:
    """Legacy GGML StarCoder file with `<fim_*>` tokens; ctransformers only."""
    return synth.write_ggml_starcoder(models_dir / "ggml-starcoder-f32.bin")


@pytest.fixture(scope="session")
def stories_model() -> Path:
    """Real trained weights (stories260K), to prove decoding is right, not just that it runs."""
    path = SHARED_MODELS / "stories260K.gguf"
    if not path.is_file():
        pytest.skip(
            "../shared/models/stories260K.gguf is absent: real-weight tests need the shared "
            "model folder beside the project (see ../shared/models/README.md)"
        )
    return path


@pytest.fixture(scope="session")
def shared_vocab() -> Callable[[str], Path]:
    """`shared_vocab("qwen2")` -> ../shared/models/vocab/ggml-vocab-qwen2.gguf, or skip."""

    def find(name: str) -> Path:
        path = SHARED_MODELS / "vocab" / f"ggml-vocab-{name}.gguf"
        if not path.is_file():
            pytest.skip(
                f"../shared/models/vocab/ggml-vocab-{name}.gguf is absent: real-tokenizer tests "
                "need the shared model folder beside the project (see ../shared/models/README.md)"
            )
        return path

    return find
