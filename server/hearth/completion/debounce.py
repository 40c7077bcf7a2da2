"""Adaptive debounce: wait about as long as the user's own pause between keystrokes.

A fast typist's next key arrives within ~100 ms, so a request started at once is mostly thrown
away; a slow typist should not wait for nothing. The delay follows the median of recent
intervals (only those short enough to be typing), within fixed bounds.
"""

from __future__ import annotations

import statistics
import time
from collections import deque

TYPING_GAP_S = 1.0  # a longer interval is a pause, not typing rhythm


class AdaptiveDebounce:
    def __init__(
        self,
        *,
        fixed_ms: int | None = None,
        min_ms: float = 10.0,
        max_ms: float = 150.0,
        factor: float = 0.6,
        window: int = 16,
    ) -> None:
        self.fixed_ms = fixed_ms
        self.min_ms = min_ms
        self.max_ms = max_ms
        self.factor = factor
        self._intervals: deque[float] = deque(maxlen=window)
        self._last: float | None = None

    def keystroke(self, now: float | None = None) -> None:
        """Record an edit; intervals longer than a typing gap reset nothing but are ignored."""
        now = time.monotonic() if now is None else now
        if self._last is not None:
            gap = now - self._last
            if 0 <= gap < TYPING_GAP_S:
                self._intervals.append(gap)
        self._last = now

    def typing_gap_s(self) -> float | None:
        """The user's usual interval between keystrokes while typing (None until known)."""
        if not self._intervals:
            return None
        return statistics.median(self._intervals)

    def delay_s(self) -> float:
        """How long to wait before starting a model call for an automatic trigger."""
        if self.fixed_ms is not None:
            return max(0, self.fixed_ms) / 1000
        if not self._intervals:
            return self.min_ms / 1000
        median_ms = statistics.median(self._intervals) * 1000
        return min(self.max_ms, max(self.min_ms, self.factor * median_ms)) / 1000
