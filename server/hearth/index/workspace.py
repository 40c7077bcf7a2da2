"""Open the index of a workspace with the user's settings: store location, walk rules."""

from __future__ import annotations

from pathlib import Path

from hearth.index.indexer import Indexer, IndexOptions
from hearth.index.store import IndexStore, default_db_path
from hearth.index.walker import WalkOptions
from hearth.settings import Settings


def walk_options(settings: Settings) -> WalkOptions:
    return WalkOptions(
        max_file_bytes=settings.index_max_file_bytes,
        extra_excludes=settings.index_exclude,
        extra_secret_patterns=settings.index_secret_patterns,
    )


def db_path(root: Path, settings: Settings) -> Path:
    if settings.index_dir:
        return Path(settings.index_dir).expanduser() / "index.sqlite3"
    from hearth.paths import cache_dir

    return default_db_path(root, cache_dir())


def open_index(
    root: Path, settings: Settings, *, in_memory: bool = False, db: Path | None = None
) -> Indexer:
    store = IndexStore(None if in_memory else (db or db_path(root, settings)))
    return Indexer(root, store, IndexOptions(walk=walk_options(settings)))
