"""Shared pieces for context-engine tests: a fixture workspace copy and an indexed engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hearth.context.builder import ContextEngine
from hearth.context.tokens import EstimateTokenizer
from hearth.engine.templates import FimTemplate, load_templates
from hearth.index.indexer import Indexer
from hearth.index.store import IndexStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "workspace"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of tests/fixtures/workspace that is its own project (it has a .git folder)."""
    root = tmp_path / "ws"
    shutil.copytree(FIXTURE, root)
    (root / ".git").mkdir()
    return root


@pytest.fixture
def indexer(workspace: Path) -> Indexer:
    idx = Indexer(workspace, IndexStore(None))
    idx.index_all()
    return idx


@pytest.fixture
def engine(indexer: Indexer) -> ContextEngine:
    return ContextEngine(indexer)


@pytest.fixture
def tok() -> EstimateTokenizer:
    return EstimateTokenizer(4096)


@pytest.fixture
def templates() -> dict[str, FimTemplate]:
    return load_templates()
