"""Load a model file in a throwaway child process before the server loads it itself.

Hearth validates every GGUF header, yet a file can pass those checks and still make a
backend's native code abort (llama.cpp's GGML_ASSERT on impossible hyperparameters) or crash
(ctransformers' 2023 ggml). In process that would take the language server, and every open
editor feature, down with it; in the probe only the child dies and the user is told which file
and backend failed. A probe that passed is remembered per (real path, size, mtime, backend,
library version, Hearth version), so it costs once per file, not at every start.

Where llama.cpp crashes by a signal, the probe tries once more without its extra weight
buffers (AMX, repacked): on Xeons that advertise AMX without granting the tile state its AMX
kernels segfault on the first decode of any quantized model, and the plain buffers work. The
outcome is remembered with the passed probe, so the next start loads that way directly.

Run as `python -m hearth.engine.probe REQUEST_JSON`: the child answers with one JSON line on
its original stdout (its native chatter goes to stderr), and exits when the parent goes away.
Test-only: `HEARTH_PROBE_CRASH_WITH_EXTRA_BUFFERS=1` makes a llamacpp child kill itself with
SIGSEGV before loading when extra buffers are on (the AMX crash, on any CPU).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearth.engine.backend import LoadOptions, SamplingParams
from hearth.engine.model_file import ModelFile
from hearth.errors import HearthError, ModelCrashError, ModelLoadError

log = logging.getLogger(__name__)

PROBE_DIR = "probes"
# A probe reads the whole file once (evaluation touches every weight): allow for a slow disk.
BASE_TIMEOUT_S = 120.0
DISK_BYTES_PER_S = 50e6
# Small enough to load fast, large enough for a prompt of a few tokens.
PROBE_CTX = 256
PROBE_BATCH = 32
PROBE_TEXT = "def main(argv):\n    return len(argv)  # é ✓\n"
_EXIT_ORPHANED = 70
# Native crashes that extra weight buffers can cause (AMX: SIGSEGV at ldtilecfg).
_CRASH_SIGNALS = frozenset({"SIGSEGV", "SIGBUS", "SIGILL", "SIGABRT"})
CRASH_ENV = "HEARTH_PROBE_CRASH_WITH_EXTRA_BUFFERS"
_TAIL_BYTES = 16_384


@dataclass(frozen=True)
class ProbeResult:
    """How a probe went: `cached` means an earlier identical probe passed and none ran;
    `extra_buffers` is how the model must be loaded (False: it crashed with them on)."""

    seconds: float
    cached: bool
    extra_buffers: bool = True


def library_version(backend: str) -> str:
    """The backend package's version, without importing it (a cache key part)."""
    from importlib.metadata import PackageNotFoundError, version

    package = {"llamacpp": "llama-cpp-python", "ctransformers": "ctransformers"}[backend]
    try:
        return version(package)
    except PackageNotFoundError:
        return "missing"


def cache_key(model: ModelFile, backend: str, options: LoadOptions) -> dict[str, Any]:
    """What a passed probe vouches for; any change (a new download, an upgraded backend,
    another model type) means probing again."""
    from hearth import __version__

    real = Path(os.path.realpath(model.path))
    st = real.stat()
    return {
        "path": str(real),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "backend": backend,
        "library": library_version(backend),
        "hearth": __version__,
        "model_type": options.model_type,
        "gpu_layers": options.n_gpu_layers,
        "extra_buffers": options.extra_buffers,  # as asked; the entry says what passed
    }


def _cache_file(key: dict[str, Any]) -> Path:
    from hearth.paths import cache_dir

    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return cache_dir() / PROBE_DIR / f"{digest}.json"


def cached_entry(key: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a passed probe for exactly `key`, or None."""
    path = _cache_file(key)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("key") == key else None


def is_cached(key: dict[str, Any]) -> bool:
    return cached_entry(key) is not None


def _remember(key: dict[str, Any], seconds: float, extra_buffers: bool) -> None:
    """Record a passed probe; a cache that cannot be written only costs a probe next time."""
    from hearth.paths import ensure_dir

    path = _cache_file(key)
    entry = {"key": key, "seconds": round(seconds, 3), "extra_buffers": extra_buffers}
    try:
        ensure_dir(path.parent)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot record the model probe in %s: %s", path.parent, exc.strerror)


def default_timeout(model: ModelFile) -> float:
    return BASE_TIMEOUT_S + model.size / DISK_BYTES_PER_S


def probe_model(
    model: ModelFile,
    backend: str,
    options: LoadOptions,
    *,
    timeout_s: float | None = None,
    use_cache: bool = True,
) -> ProbeResult:
    """Load `model` with `backend` in a child process, tokenize and evaluate a few tokens.

    Returns when the child succeeded (or an identical probe passed before), saying whether
    extra weight buffers stay on. Raises the child's own HearthError when the backend refused
    the file cleanly, and ModelCrashError when the child crashed, aborted or hung (with and
    without extra buffers, for a llama.cpp crash): then nothing was loaded in this process.
    """
    key = cache_key(model, backend, options)
    entry = cached_entry(key) if use_cache else None
    if entry is not None:
        log.debug("model probe of %s with %s: passed before", model.path, backend)
        extra = entry.get("extra_buffers", options.extra_buffers)
        return ProbeResult(0.0, cached=True, extra_buffers=bool(extra))
    timeout = timeout_s if timeout_s is not None else default_timeout(model)
    start = time.perf_counter()
    outcome, stderr = _run_child(model, backend, options, timeout)
    retried = _extra_buffers_crash(backend, options, outcome)
    if retried:
        options = dataclasses.replace(options, extra_buffers=False)
        first = outcome["signal"]
        outcome, stderr = _run_child(model, backend, options, timeout)
        if outcome.get("ok") is True:
            log.warning(
                "llama-cpp-python crashed (%s) test-loading %s with its AMX/repacked weight "
                "buffers on; it works with them off, so Hearth turned them off for this file",
                first,
                model.path,
            )
    seconds = time.perf_counter() - start
    if outcome.get("ok") is True:
        log.info("model probe of %s with %s passed in %.2f s", model.path, backend, seconds)
        _remember(key, seconds, options.extra_buffers)
        return ProbeResult(seconds, cached=False, extra_buffers=options.extra_buffers)
    error = outcome.get("error")
    if isinstance(error, dict):
        raise _rebuild_error(error)
    how = str(outcome.get("how", "it failed"))
    raise _crash_error(model, backend, how, stderr, both_ways=retried)


def _extra_buffers_crash(backend: str, options: LoadOptions, outcome: dict[str, Any]) -> bool:
    """Whether a failed probe is worth repeating without extra buffers: llama.cpp died by a
    signal with them on (a hang or a clean refusal would only repeat)."""
    return (
        backend == "llamacpp" and options.extra_buffers and outcome.get("signal") in _CRASH_SIGNALS
    )


def _child_env() -> dict[str, str]:
    import hearth

    env = dict(os.environ)
    env["GGML_NO_BACKTRACE"] = "1"  # an abort would otherwise attach gdb to print a backtrace
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    root = str(Path(hearth.__file__).resolve().parents[1])  # a source checkout works too
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _run_child(
    model: ModelFile, backend: str, options: LoadOptions, timeout: float
) -> tuple[dict[str, Any], str]:
    """(the child's answer or {"how": why it gave none}, the tail of its stderr)."""
    request: dict[str, Any] = {
        "path": str(Path(model.path).resolve()),
        "backend": backend,
        "options": _options_json(options),
    }
    watch_read, watch_write = os.pipe() if os.name == "posix" else (-1, -1)
    if watch_read >= 0:
        request["watch_fd"] = watch_read
    argv = [sys.executable, "-m", "hearth.engine.probe", json.dumps(request)]
    # `-m` puts the working folder first on the child's sys.path: a private empty folder,
    # never the shared temp folder (anyone could plant a module there) nor a workspace
    # (where a core dump must never land).
    with tempfile.TemporaryDirectory(prefix="hearth-probe-") as private:
        return _communicate(model, argv, private, watch_read, watch_write, timeout)


def _communicate(
    model: ModelFile, argv: list[str], cwd: str, watch_read: int, watch_write: int, timeout: float
) -> tuple[dict[str, Any], str]:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_env(),
            cwd=cwd,
            pass_fds=(watch_read,) if watch_read >= 0 else (),
        )
    except OSError as exc:
        for fd in (watch_read, watch_write):
            if fd >= 0:
                os.close(fd)
        raise ModelLoadError(
            f"cannot start a process to test-load {model.path}: {exc.strerror}",
            "set model_probe = false to load models without the probe",
        ) from None
    if watch_read >= 0:
        os.close(watch_read)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return {"how": f"no answer within {timeout:.0f} s, so it was stopped"}, _tail(err)
    finally:
        if watch_write >= 0:
            os.close(watch_write)
    for line in reversed(out.decode("utf-8", errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict) and proc.returncode == 0:
                return answer, _tail(err)
            if isinstance(answer, dict) and "error" in answer:
                return answer, _tail(err)
    how: dict[str, Any] = {"how": _describe_exit(proc.returncode)}
    if proc.returncode < 0:
        how["signal"] = _signal_name(-proc.returncode)
    return how, _tail(err)


def _options_json(options: LoadOptions) -> dict[str, Any]:
    return {
        "n_ctx": min(options.n_ctx, PROBE_CTX),
        "n_threads": options.n_threads,
        "n_batch": min(options.n_batch, PROBE_BATCH),
        "n_gpu_layers": options.n_gpu_layers,
        "seed": options.seed,
        "model_type": options.model_type,
        "extra_buffers": options.extra_buffers,
    }


def _tail(err: bytes) -> str:
    return err[-_TAIL_BYTES:].decode("utf-8", errors="replace")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"it was killed by {_signal_name(-code)}"
    return f"it exited with status {code}"


_DETAIL = re.compile(r"GGML_ASSERT|error|failed|abort|fault|terminate", re.IGNORECASE)


def _native_detail(stderr: str) -> str:
    """The last lines of the child's stderr that say what went wrong, without build paths."""
    lines = [ln.strip() for ln in stderr.splitlines() if _DETAIL.search(ln)]
    picked = [re.sub(r"(?:[^\s:]*/)+([^/\s:]+:\d+)", r"\1", ln)[:240] for ln in lines[-2:]]
    return "; ".join(picked)


def _crash_error(
    model: ModelFile, backend: str, how: str, stderr: str, *, both_ways: bool = False
) -> ModelCrashError:
    from hearth.engine.model_file import FileKind

    package = {"llamacpp": "llama-cpp-python", "ctransformers": "ctransformers"}[backend]
    detail = _native_detail(stderr)
    # Only ever point away from ctransformers: its 2023 parser is the riskier of the two.
    other = (
        ', or try backend = "llamacpp" (a current llama.cpp)'
        if backend == "ctransformers" and model.kind is FileKind.GGUF
        else ""
    )
    return ModelCrashError(
        f"{package} crashed while test-loading {model.path} in a separate process "
        f"({how}{': ' + detail if detail else ''}"
        f"{'; tried with AMX/repacked weight buffers on and off' if both_ways else ''}); "
        "Hearth did not load the model, "
        "everything else keeps working",
        "the file is corrupt or made to crash the backend: download it again from a source "
        f"you trust (`hearth model pull NAME` verifies checksums){other}; "
        "`hearth model info PATH` shows what the file declares",
    )


def _rebuild_error(error: dict[str, Any]) -> HearthError:
    """The child's HearthError, as the same class where it is one of Hearth's own."""
    from hearth import errors

    cls = getattr(errors, str(error.get("type", "")), None)
    if not (isinstance(cls, type) and issubclass(cls, HearthError)):
        cls = ModelLoadError
    hint = error.get("hint")
    return cls(str(error.get("message", "loading the model failed")), hint and str(hint))


# -- the child ------------------------------------------------------------------------------


def _watch_parent(fd: int) -> None:
    """Exit as soon as the parent is gone: its end of the pipe closes with it."""

    def wait() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os._exit(_EXIT_ORPHANED)

    threading.Thread(target=wait, name="hearth-probe-parent", daemon=True).start()


def _exercise(model: ModelFile, backend_name: str, options: LoadOptions) -> None:
    """What the server does first with a model: load, find special tokens, tokenize,
    evaluate, sample one token and turn tokens back into bytes."""
    from hearth.engine.loader import construct_backend

    if backend_name == "llamacpp" and options.extra_buffers and os.environ.get(CRASH_ENV) == "1":
        os.kill(os.getpid(), signal.SIGSEGV)  # test-only: the AMX crash on any CPU
    backend = construct_backend(model, backend_name, options)
    try:
        backend.special_token_id("<fim_prefix>")  # a legacy file's vocab is scanned by id
        _ = backend.eog_ids, backend.bos_id
        tokens = backend.tokenize(PROBE_TEXT, add_bos=backend.add_bos)
        room = max(1, min(len(tokens), 8, backend.n_ctx - 2))
        backend.prefill(tokens[:room])
        backend.start_sampling(SamplingParams())
        token = backend.sample()
        backend.accept(token)
        backend.detokenize([*tokens[:room], token])
    finally:
        backend.close()


def child_main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    if "watch_fd" in request:
        _watch_parent(int(request["watch_fd"]))
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file
    except (ImportError, ValueError, OSError):
        pass
    result_fd = os.dup(1)
    os.dup2(2, 1)  # whatever native code prints goes to stderr, the answer alone to stdout
    with os.fdopen(result_fd, "w", encoding="utf-8") as result:
        try:
            from hearth.engine.model_file import read_model_file

            fields = {f.name for f in dataclasses.fields(LoadOptions)}
            opts = LoadOptions(**{k: v for k, v in request["options"].items() if k in fields})
            _exercise(read_model_file(request["path"]), request["backend"], opts)
        except HearthError as exc:
            answer = {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}
            result.write(json.dumps({"error": answer}) + "\n")
            return 1
        except Exception as exc:  # a backend bug: the file is not loaded in-process either
            answer = {
                "type": "ModelLoadError",
                "message": f"{request['backend']} failed on {request['path']}: "
                f"{type(exc).__name__}: {exc}"[:500],
                "hint": "`hearth model info PATH` shows what the file declares",
            }
            result.write(json.dumps({"error": answer}) + "\n")
            return 1
        result.write(json.dumps({"ok": True}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:]))
