"""Chat-sized synthesized models: the review prompt alone is ~700 tokens, over the 512 of the
shared completion fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.bench import synth


@pytest.fixture(scope="session")
def chat_qwen_model(models_dir: Path) -> Path:
    """qwen2 + BPE vocab + ChatML template in its metadata (llama-cpp-python only)."""
    return synth.write_qwen_bpe(models_dir / "chat-qwen-bpe.gguf", n_ctx=4096)


@pytest.fixture(scope="session")
def chat_llama_model(models_dir: Path) -> Path:
    """llama + SentencePiece vocab, no chat template (both backends; llama2 fallback)."""
    return synth.write_llama_spm(models_dir / "chat-llama-spm.gguf", n_ctx=4096)
