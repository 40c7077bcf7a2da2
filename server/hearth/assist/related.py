"""Related context for Explain and Review: where the names a selection uses are defined.

Queries the workspace index directly (the completion context engine budgets for a cursor;
a selection wants the definitions it calls). Only signatures and first doc lines are sent,
which is what the model needs to read the selection correctly, at a few tokens each.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hearth.index.store import IndexStore

log = logging.getLogger(__name__)

MAX_NAMES = 40
MAX_ITEMS = 12


def related_definitions(
    store: IndexStore | None, code: str, *, path: str | None = None, limit: int = MAX_ITEMS
) -> list[str]:
    """Markdown list items (`path:line` and signature) for names used in `code`."""
    if store is None:
        return []
    from hearth.index.extract import identifiers

    names = list(dict.fromkeys(identifiers(code)))[:MAX_NAMES]
    items: list[str] = []
    seen: set[tuple[str, int]] = set()
    try:
        for name in names:
            for hit in store.definitions(name, limit=2):
                d = hit.definition
                key = (hit.path, d.start_line)
                if key in seen:
                    continue
                seen.add(key)
                # A definition inside the selection itself explains nothing new.
                if path is not None and hit.path == path and d.signature and d.signature in code:
                    continue
                doc = f" — {d.doc}" if d.doc else ""
                items.append(f"- `{hit.path}:{d.start_line + 1}` `{d.signature}`{doc}")
                if len(items) >= limit:
                    return items
    except Exception:  # the index is a cache: a broken one costs context, not the answer
        log.warning("related definitions lookup failed", exc_info=True)
    return items
