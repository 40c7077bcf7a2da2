"""The packaged registry is valid, and `--model` values resolve to files or helpful errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.engine.registry import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_COMPLETION_MODEL,
    RegistryModel,
    cached_path,
    get_model,
    load_registry,
    model_path,
    resolve_model_ref,
)
from hearth.errors import ModelNotFoundError
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
    assert model.repo.count("/") == 1
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
    assert DEFAULT_COMPLETION_MODEL == "qwen2.5-coder-0.5b"


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
