"""With no model configured, Hearth uses the best model already pulled, and says which; with
none pulled, it names a pull that works wherever pip does, and downloads nothing itself."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from hearth.engine.catalog import find_configured_model, model_for
from hearth.engine.download import OFFLINE_ENV
from hearth.engine.registry import get_model, model_path
from hearth.errors import OfflineError
from hearth.paths import ensure_dir
from hearth.settings import Settings


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(OFFLINE_ENV, "1")  # as in every command but `hearth model pull`
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")  # and pip could not run


def place(name: str) -> Path:
    path = model_path(get_model(name))
    ensure_dir(path.parent)
    path.write_bytes(b"GGUF")
    return path


def test_nothing_pulled_names_a_pullable_model() -> None:
    path, how = find_configured_model(Settings(), "completion")
    assert path is None
    assert "hearth model pull gemma-3-270m" in how
    path, how = find_configured_model(Settings(), "chat")
    assert path is None and "hearth model pull smollm2-135m-instruct" in how


def test_nothing_pulled_fails_with_the_pull_command_and_downloads_nothing() -> None:
    with pytest.raises(OfflineError) as err:
        model_for(Settings(), "completion", progress=False)
    message = err.value.user_message()
    assert message.startswith("no completion model configured or pulled; ")
    assert "hearth model pull gemma-3-270m" in message
    assert "\n" not in message
    assert not model_path(get_model("gemma-3-270m")).parent.exists()


def test_the_only_pulled_model_serves_both_roles(caplog: pytest.LogCaptureFixture) -> None:
    smol = place("smollm2-135m-instruct")
    with caplog.at_level(logging.INFO, logger="hearth.engine.catalog"):
        assert model_for(Settings(), "completion", progress=False) == smol
    assert "using smollm2-135m-instruct, the best one pulled" in caplog.text
    assert model_for(Settings(), "chat", progress=False) == smol
    path, how = find_configured_model(Settings(), "chat")
    assert path == smol and "smollm2-135m-instruct" in how


def test_best_pulled_per_role() -> None:
    place("smollm2-135m-instruct")
    gemma = place("gemma-3-270m")
    assert model_for(Settings(), "completion", progress=False) == gemma
    assert find_configured_model(Settings(), "completion") == (
        gemma,
        "default model gemma-3-270m (the best completion model pulled)",
    )
    # Gemma 270M is a base model: chat stays with the instruct model.
    assert model_for(Settings(), "chat", progress=False).name.startswith("SmolLM2")


def test_a_configured_model_wins_over_pulled_ones(tmp_path: Path) -> None:
    place("gemma-3-270m")
    own = tmp_path / "own.gguf"
    own.write_bytes(b"GGUF")
    assert model_for(Settings(model=str(own)), "completion", progress=False) == own.resolve()
