"""The curated model registry (`models.toml`) and how a `--model` value becomes a file path.

Picking a model is the hardest step for users, so Hearth ships a short list of models known to
work with its FIM templates and backends, and lets `recommend` rank them for the machine.
Nothing here touches the network: pulling lives in `download.py`.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from hearth._toml import tomllib
from hearth.errors import ConfigError, ModelNotFoundError
from hearth.paths import models_dir

DEFAULT_COMPLETION_MODEL = "qwen2.5-coder-0.5b"
"""Fast enough for inline completion on a CPU-only laptop."""
DEFAULT_CHAT_MODEL = "qwen2.5-coder-1.5b-instruct"
"""Chat tolerates seconds of latency, so it can afford a bigger model than completion."""

ROLES = ("completion", "chat")
BACKENDS = ("llamacpp", "ctransformers")
FIM_FAMILIES = ("qwen", "starcoder", "codellama", "deepseek", "codegemma", "codestral")

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RegistryModel:
    """One downloadable model; `fim=None` means instruct-only (no inline completion)."""

    name: str
    description: str
    repo: str
    filename: str
    size_bytes: int
    params_b: float
    quant: str
    fim: str | None
    roles: tuple[str, ...]
    backend: str
    context_length: int
    license: str
    sha256: str | None = None
    kv_bytes_per_token: int | None = None

    def suits(self, role: str) -> bool:
        return role in self.roles

    @property
    def url(self) -> str:
        """Where a user can fetch the file by hand when Hearth cannot reach the hub."""
        return f"https://huggingface.co/{self.repo}/resolve/main/{self.filename}"


def _bad(index: int, name: object, problem: str) -> ConfigError:
    return ConfigError(
        f"models.toml entry {index} ({name!r}): {problem}",
        "the packaged model registry is broken; reinstall Hearth or report a bug",
    )


def _parse(index: int, raw: dict[str, Any]) -> RegistryModel:
    """Validate eagerly: a typo in packaged data should fail at load, not at pull time."""
    name = raw.get("name")
    known = set(RegistryModel.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise _bad(index, name, f"unknown keys {sorted(unknown)}")
    try:
        model = RegistryModel(
            name=str(raw["name"]),
            description=str(raw["description"]),
            repo=str(raw["repo"]),
            filename=str(raw["filename"]),
            size_bytes=int(raw["size_bytes"]),
            params_b=float(raw["params_b"]),
            quant=str(raw["quant"]),
            fim=None if raw.get("fim") is None else str(raw["fim"]),
            roles=tuple(str(r) for r in raw["roles"]),
            backend=str(raw["backend"]),
            context_length=int(raw["context_length"]),
            license=str(raw["license"]),
            sha256=None if raw.get("sha256") is None else str(raw["sha256"]).lower(),
            kv_bytes_per_token=(
                None if raw.get("kv_bytes_per_token") is None else int(raw["kv_bytes_per_token"])
            ),
        )
    except KeyError as exc:
        raise _bad(index, name, f"missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise _bad(index, name, f"bad value ({exc})") from None

    problems = []
    if not _NAME.match(model.name):
        problems.append("name must be lowercase letters, digits, '.', '_' or '-'")
    if model.repo.count("/") != 1:
        problems.append("repo must be 'owner/name'")
    if not model.filename.endswith(".gguf") or "/" in model.filename:
        problems.append("filename must be a .gguf file at the repository root")
    if model.size_bytes <= 0 or model.params_b <= 0 or model.context_length <= 0:
        problems.append("size_bytes, params_b and context_length must be positive")
    if not model.roles or any(r not in ROLES for r in model.roles):
        problems.append(f"roles must be a non-empty subset of {ROLES}")
    if model.fim is not None and model.fim not in FIM_FAMILIES:
        problems.append(f"fim must be one of {FIM_FAMILIES} or omitted")
    if model.suits("completion") and model.fim is None:
        problems.append("a completion model needs a fim family")
    if model.backend not in BACKENDS:
        problems.append(f"backend must be one of {BACKENDS}")
    if model.sha256 is not None and not _SHA256.match(model.sha256):
        problems.append("sha256 must be 64 hex digits")
    if model.kv_bytes_per_token is not None and model.kv_bytes_per_token <= 0:
        problems.append("kv_bytes_per_token must be positive")
    if problems:
        raise _bad(index, model.name, "; ".join(problems))
    return model


@functools.lru_cache(maxsize=1)
def _load() -> tuple[RegistryModel, ...]:
    text = (files("hearth.engine") / "models.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    models = tuple(_parse(i, raw) for i, raw in enumerate(data.get("model", [])))
    seen: set[str] = set()
    for i, m in enumerate(models):
        if m.name in seen:
            raise _bad(i, m.name, "duplicate name")
        seen.add(m.name)
    return models


def load_registry() -> list[RegistryModel]:
    """All registry entries in file order (parsed once per process)."""
    return list(_load())


def get_model(name: str) -> RegistryModel:
    """The entry called `name`; an unknown name suggests the closest ones."""
    models = _load()
    for m in models:
        if m.name == name.strip().lower():
            return m
    names = [m.name for m in models]
    close = difflib.get_close_matches(name.strip().lower(), names, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ModelNotFoundError(
        f"unknown model {name!r}",
        f"{hint}`hearth model list` shows the registry; a path to a .gguf file also works",
    )


def model_path(model: RegistryModel) -> Path:
    """Where `pull` puts the file, whether or not it is there yet."""
    return models_dir() / model.name / model.filename


def cached_path(model: RegistryModel) -> Path | None:
    """The pulled file, or None; partial downloads live elsewhere, so presence means complete."""
    path = model_path(model)
    return path if path.is_file() else None


def _looks_like_path(ref: str) -> bool:
    return (
        "/" in ref
        or "\\" in ref
        or ref.startswith(("~", "."))
        or ref.lower().endswith((".gguf", ".bin", ".ggml"))
    )


def resolve_model_ref(ref: str) -> Path:
    """Turn a `--model`/`HEARTH_MODEL` value (a file path or a registry name) into a file path."""
    ref = ref.strip()
    if not ref:
        raise ModelNotFoundError(
            "no model given", f"pass --model {DEFAULT_COMPLETION_MODEL} or a path to a .gguf file"
        )
    path = Path(ref).expanduser()
    if path.is_file():
        return path.resolve()
    if path.exists():
        raise ModelNotFoundError(
            f"{path} is not a model file (it is a directory or special file)",
            "pass the path of the .gguf file itself",
        )
    if _looks_like_path(ref):
        raise ModelNotFoundError(
            f"no model file at {path}",
            "check the path (it is relative to the current directory unless absolute), "
            f"or pass a registry name such as {DEFAULT_COMPLETION_MODEL}",
        )
    model = get_model(ref)
    found = cached_path(model)
    if found is None:
        raise ModelNotFoundError(
            f"model {model.name} is not downloaded yet (expected at {model_path(model)})",
            f"run `hearth model pull {model.name}`",
        )
    return found
