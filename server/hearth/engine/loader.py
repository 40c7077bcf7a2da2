"""Pick a backend for a model file and load it.

`auto` reads the file, not its name: a modern GGUF goes to llama-cpp-python, a legacy GGML
file to ctransformers, and ctransformers also serves a CodeLlama-style GGUF when
llama-cpp-python is missing. The choice and its reason are logged and returned.

With `probe=True` the file is first loaded in a child process (`hearth.engine.probe`), so a
file that passes Hearth's header checks but crashes the backend's native code ends in an
error message instead of taking the calling process (the language server) down. The probe
also finds whether llama.cpp needs its extra (AMX/repacked) weight buffers off on this CPU;
without the probe they go off for quantized files wherever the CPU advertises AMX.
"""

from __future__ import annotations

import dataclasses
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

        passed = probe_model(model, choice.backend, opts)
        if passed.extra_buffers != opts.extra_buffers:
            opts = dataclasses.replace(opts, extra_buffers=passed.extra_buffers)
    elif choice.backend == "llamacpp":
        opts = unprobed_options(model, opts)
    return construct_backend(model, choice.backend, opts)


def unprobed_options(model: ModelFile, options: LoadOptions) -> LoadOptions:
    """Without a probe to find out, a quantized file on a CPU that advertises AMX loads
    without llama.cpp's extra weight buffers: its AMX kernels crash where the OS does not
    grant AMX, and a crash in process takes the language server down."""
    from hearth.sysinfo import cpu_advertises_amx

    if not (options.extra_buffers and model.quantized and cpu_advertises_amx()):
        return options
    log.warning(
        "loading %s with llama.cpp's AMX/repacked weight buffers off: this CPU advertises "
        "AMX, whose kernels crash on some machines, and model_probe = false cannot test them",
        model.path,
    )
    return dataclasses.replace(options, extra_buffers=False)


def buffers_note(backend: Backend, probed: bool) -> str:
    """How a llama.cpp model's weights were loaded, and why, for `hearth doctor`."""
    from hearth.sysinfo import cpu_advertises_amx

    amx = "this CPU advertises AMX" if cpu_advertises_amx() else "no AMX on this CPU"
    if backend.options.extra_buffers:
        return f"AMX/repacked weight buffers on ({amx})"
    why = (
        "the backend crashed with them on this CPU"
        if probed
        else "model_probe = false cannot test them"
    )
    return f"loads with repacked/AMX buffers off: {why} ({amx})"


def construct_backend(model: ModelFile, backend: str, options: LoadOptions) -> Backend:
    """Load a validated `model` in this process with the chosen local backend."""
    if backend == "llamacpp":
        from hearth.engine.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(model, options)
    from hearth.engine.ctransformers_backend import CTransformersBackend

    return CTransformersBackend(model, options)
