"""pygls hands JSON objects of methods it has no types for over as named tuples."""

from __future__ import annotations

from typing import Any


def plain(value: Any) -> Any:
    """`value` with named tuples turned back into dicts and tuples into lists, recursively."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
