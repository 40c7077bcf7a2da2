"""Where two sequences (texts, token lists) start and stop differing.

Used per keystroke on whole documents (recent edits) and on whole prompts (cache reuse), so
the comparison runs on slices, at C speed, narrowing down to the first difference: a 100 kB
text takes ~0.1 ms instead of ~10 ms for an element-by-element loop.
"""

from __future__ import annotations

from collections.abc import Sequence

_STEPS = (4096, 64, 1)


def common_prefix(a: Sequence[object], b: Sequence[object]) -> int:
    """Length of the start `a` and `b` share (two strs or two lists)."""
    n = min(len(a), len(b))
    i = 0
    for step in _STEPS:
        while i + step <= n and a[i : i + step] == b[i : i + step]:
            i += step
    return i


def common_suffix(a: Sequence[object], b: Sequence[object], limit: int) -> int:
    """Length of the end `a` and `b` share, at most `limit`."""
    la, lb = len(a), len(b)
    n = min(la, lb, limit)
    j = 0
    for step in _STEPS:
        while j + step <= n and a[la - j - step : la - j] == b[lb - j - step : lb - j]:
            j += step
    return j
