"""The workspace a file on disk belongs to, for the command line (`hearth context`,
`hearth complete`): found by project markers, indexed incrementally before use."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hearth.index.indexer import Indexer
    from hearth.settings import Settings

log = logging.getLogger(__name__)

ROOT_MARKERS = (
    ".git",
    ".hg",
    "hearth.toml",
    "pyproject.toml",
    "setup.py",
    "package.json",
    "tsconfig.json",
    "go.mod",
    "Cargo.toml",
    "pom.xml",
    "build.gradle",
    "composer.json",
    "Gemfile",
)


def find_root(path: Path) -> Path | None:
    """The nearest folder at or above `path`'s folder holding a project marker; None when
    there is none (a loose file is then completed without a workspace index)."""
    start = path.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if any((candidate / m).exists() for m in ROOT_MARKERS):
            return candidate
    return None


def open_workspace(path: Path, settings: Settings) -> tuple[Indexer | None, str | None]:
    """The index of `path`'s workspace, brought up to date (only changed files are read),
    and `path` relative to it. (None, None) when there is no workspace."""
    from hearth.index.workspace import open_index

    root = find_root(path)
    if root is None:
        return None, None
    indexer = open_index(root, settings)
    if indexer.store.warning:
        log.warning("%s", indexer.store.warning)
    stats = indexer.index_all()
    log.info("index of %s: %d read, %d unchanged", root, stats.indexed, stats.unchanged)
    return indexer, indexer.relpath(path.resolve())
