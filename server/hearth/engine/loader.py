"""Pick a backend for a model file and load it.

`auto` reads the file, not its name: a modern GGUF goes to llama-cpp-python, a legacy GGML
file to ctransformers, and ctransformers also serves a CodeLlama-style GGUF when
llama-cpp-python is missing. The choice and its reason are logged and returned.

With `probe=True` the file is first loaded in a child process (`hearth.engine.probe`), so a
file that passes Hearth's header checks but crashes the backend's native code ends in an
error message instead of taking the calling process (the language server) down.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.model_file import FileKind, ModelFile, read_model_file
from hearth.errors import BackendUnavailableError, ConfigError, UnsupportedModelError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "llamacpp", "ctransformers", "http")


def installed_backends() -> dict[str, bool]:
    """Which backend libraries are importable, without importing them."""
    return {
        "llamacpp": importlib.util.find_spec("llama_cpp") is not None,
        "ctransformers": importlib.util.find_spec("ctransformers") is not None,
    }


@dataclass(frozen=True)
class Choice:
    backend: str
    reason: str


def choose_backend(model: ModelFile, requested: str = "auto") -> Choice:
    """Decide which backend loads `model`; explain the decision or why none can."""
    from hearth.engine.ctransformers_backend import unsupported_reason

    if requested not in BACKENDS:
        raise ConfigError(f"unknown backend {requested!r}", f"use one of: {', '.join(BACKENDS)}")
    have = installed_backends()
    ct_reason = unsupported_reason(model)
    if requested == "llamacpp":
        if model.kind is FileKind.GGML:
            raise UnsupportedModelError(
                f"llama-cpp-python cannot load {model.path}: it is a legacy GGML file "
                f"({model.architecture}), which current llama.cpp no longer reads",
                'use --backend ctransformers (or backend = "auto")',
            )
        return Choice("llamacpp", "requested explicitly")
    if requested == "ctransformers":
        if ct_reason:
            raise UnsupportedModelError(
                f"ctransformers cannot load {model.path}: it has {ct_reason}",
                'use --backend llamacpp (or backend = "auto"), which loads every current GGUF',
            )
        return Choice("ctransformers", "requested explicitly")
    # auto
    if model.kind is FileKind.GGML:
        if not have["ctransformers"]:
            raise BackendUnavailableError(
                f"{model.path} is a legacy GGML file, which only ctransformers loads, "
                "and ctransformers is not installed",
                "pip install ctransformers, or use a GGUF version of the model",
            )
        return Choice("ctransformers", "legacy GGML file: only ctransformers reads it")
    if have["llamacpp"]:
        return Choice("llamacpp", f"GGUF ({model.architecture}): llama-cpp-python loads it")
    if have["ctransformers"] and not ct_reason:
        return Choice(
            "ctransformers", "llama-cpp-python is not installed; ctransformers loads this GGUF"
        )
    raise BackendUnavailableError(
        f"no installed backend can load {model.path} ({model.architecture})",
        "pip install llama-cpp-python",
    )


def load_backend(
    path: str | Path,
    backend: str = "auto",
    options: LoadOptions | None = None,
    *,
    probe: bool = False,
) -> Backend:
    """Read `path`, choose a backend and load the model with it.

    For `http`, `path` is an optional local GGUF holding the server model's vocab (empty:
    none); the server itself comes from `options.http`. `probe` test-loads the file in a
    child process first (once per file: a passed probe is cached).
    """
    opts = options or LoadOptions()
    if backend == "http":
        from hearth.engine.http_backend import HttpBackend, model_stub
        from hearth.engine.http_endpoint import HttpEndpoint

        ep = opts.http or HttpEndpoint()
        local = Path(path) if str(path) not in ("", ".") else None
        log.info("using the inference server at %s", ep.display())
        return HttpBackend(model_stub(ep, local), opts)
    model = read_model_file(path)
    choice = choose_backend(model, backend)
    log.info(
        "loading %s (%s) with %s: %s", model.path, model.architecture, choice.backend, choice.reason
    )
    if probe:
        from hearth.engine.probe import probe_model

        probe_model(model, choice.backend, opts)
    return construct_backend(model, choice.backend, opts)


def construct_backend(model: ModelFile, backend: str, options: LoadOptions) -> Backend:
    """Load a validated `model` in this process with the chosen local backend."""
    if backend == "llamacpp":
        from hearth.engine.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(model, options)
    from hearth.engine.ctransformers_backend import CTransformersBackend

    return CTransformersBackend(model, options)
