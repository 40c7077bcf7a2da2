"""A FIM prompt on the synthesized qwen2 file, shared by the KV-cache tests (suffix reuse,
speculative branches): a small function and a suffix long enough to be worth moving."""

from __future__ import annotations

import numpy as np

from hearth.completion.fim import fim_prompt_tokens
from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.templates import load_templates

OPTS = LoadOptions(n_ctx=1024, n_threads=2, n_batch=64)
PREFIX = (
    "import os\n\n\ndef read_config(path):\n    with open(path) as f:\n"
    "        return f.read()\n\n\ndef main():\n    cfg = read_"
)
SUFFIX = "\n    print(cfg)\n\n\nif __name__ == '__main__':\n    main()\n" * 3


def fim_prompt(backend: Backend, prefix: str) -> list[int]:
    return fim_prompt_tokens(backend, load_templates()["qwen"], prefix, SUFFIX)


def last_logits(backend: Backend) -> np.ndarray:
    llm = backend._llm  # type: ignore[attr-defined]
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()
