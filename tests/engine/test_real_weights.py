"""Real trained weights decode correctly through both backends (../shared/models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.engine.backend import LoadOptions
from hearth.engine.generate import GenerationRequest, generate
from hearth.engine.loader import load_backend


@pytest.mark.parametrize("backend_name", ["llamacpp", "ctransformers"])
def test_stories260k_tells_the_story_of_lily(stories_model: Path, backend_name: str) -> None:
    backend = load_backend(stories_model, backend_name, LoadOptions(n_ctx=256, n_threads=2))
    try:
        prompt = backend.tokenize("Once upon a time", add_bos=True)
        gen = generate(backend, prompt, GenerationRequest(max_tokens=24))
        assert gen.text.startswith(", there was a little girl named Lily"), gen.text
    finally:
        backend.close()
