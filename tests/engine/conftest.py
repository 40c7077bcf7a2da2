"""Fixtures for the engine tests: the synthesized qwen2 file loaded once per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearth.engine.backend import Backend
from hearth.engine.loader import load_backend

sys.path.insert(0, str(Path(__file__).parent))
from qwen_fim import OPTS


@pytest.fixture(scope="module")
def backend(qwen_bpe_model: Path) -> Iterator[Backend]:
    """The synthesized qwen2 file through llama-cpp-python."""
    b = load_backend(qwen_bpe_model, "llamacpp", OPTS)
    yield b
    b.close()
