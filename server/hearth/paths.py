"""Where Hearth keeps its files: one place, so tests and users can redirect it with env vars.

Nothing here creates a folder: reading a path must never leave empty directories behind on a
machine that only asked a question. Writers call `ensure_dir` right before they write.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "hearth"
CACHE_DIR_ENV = "HEARTH_CACHE_DIR"
CONFIG_DIR_ENV = "HEARTH_CONFIG_DIR"


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Downloaded models and other re-creatable data (`HEARTH_CACHE_DIR` overrides)."""
    return _from_env(CACHE_DIR_ENV) or platformdirs.user_cache_path(APP_NAME, appauthor=False)


def models_dir() -> Path:
    """Pulled registry models, one sub-folder per model name."""
    return cache_dir() / "models"


def config_dir() -> Path:
    """The user's settings and own FIM templates (`HEARTH_CONFIG_DIR` overrides)."""
    return _from_env(CONFIG_DIR_ENV) or platformdirs.user_config_path(APP_NAME, appauthor=False)


def ensure_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing, at the moment something is about to be written."""
    path.mkdir(parents=True, exist_ok=True)
    return path
