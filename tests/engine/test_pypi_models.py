"""The real models pulled from PyPI (tests/conftest.py) are what the registry says they are:
the registry's `fim = "prefix-only"` matches what Hearth detects from their vocabularies."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.engine.catalog import describe_model_file
from hearth.engine.model_file import read_model_file
from hearth.engine.registry import get_model


@pytest.mark.parametrize(
    ("fixture", "name", "architecture", "chat"),
    [
        ("gemma_model", "gemma-3-270m", "gemma3", False),
        ("smollm2_model", "smollm2-135m-instruct", "llama", True),
    ],
)
def test_pulled_file_matches_its_registry_entry(
    request: pytest.FixtureRequest, fixture: str, name: str, architecture: str, chat: bool
) -> None:
    path: Path = request.getfixturevalue(fixture)
    model = get_model(name)
    assert path.name == model.filename and path.stat().st_size == model.size_bytes
    assert path.with_name(path.name + ".sha256").read_text().split()[0] == model.sha256
    mf = read_model_file(path)
    assert mf.architecture == architecture
    assert (mf.chat_template is not None) == chat
    assert describe_model_file(mf)["fim_template"] == model.fim == "prefix-only"
