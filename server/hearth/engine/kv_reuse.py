"""Reusing the end of a cached prompt after an edit in its middle (FIM suffix reuse).

With a prefix-suffix-middle FIM layout (Qwen, StarCoder, DeepSeek...) the user types at the
end of the prefix, which sits *before* the suffix: plain prefix reuse then re-evaluates the
whole suffix after every keystroke. When the backend can move cached entries to new
positions (llama.cpp's KV shift, which re-rotates RoPE keys), the suffix can stay: only the
changed middle and the prompt's last token are evaluated.

This is an approximation: the moved entries were computed while attending to the old
prefix, a few characters shorter. The drift is bounded by a token budget; once the edits
since the tail was last evaluated exactly exceed it, the next prompt is evaluated exactly
again. The planning here is pure; the backend applies the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hearth.runs import common_prefix, common_suffix

#: Reusing fewer tail tokens than this is not worth the shift.
MIN_TAIL = 8


@dataclass(frozen=True)
class TailReuse:
    """Keep `keep` tokens, evaluate the new middle, move the old tail to its new place."""

    keep: int  # common prefix of the old and the new prompt
    old_tail: int  # where the reused tail starts in the old prompt
    new_tail: int  # where it starts in the new prompt
    end: int  # length of the new prompt; the tail's last token is evaluated again
    drift: int  # tokens removed + inserted before the tail

    @property
    def shift(self) -> int:
        return self.new_tail - self.old_tail

    @property
    def reused(self) -> int:
        """Cached tokens kept: the prefix and the tail but its last token."""
        return self.keep + (self.end - self.new_tail - 1)


def plan_tail_reuse(
    old: Sequence[int], cached: Sequence[int], new: Sequence[int], budget: int
) -> TailReuse | None:
    """A plan when `new` differs from `old` (the last prompt, still at the start of the
    cache) only in a stretch costing at most `budget` tokens, followed by a common tail."""
    if budget <= 0 or not old or len(cached) < len(old) or list(cached[: len(old)]) != list(old):
        return None
    keep = common_prefix(old, new)
    if keep >= len(old) or keep >= len(new):
        return None  # plain prefix reuse covers an extension or a truncation
    tail = common_suffix(old, new, min(len(old), len(new)) - keep)
    if tail < MIN_TAIL:
        return None
    removed = len(old) - tail - keep
    inserted = len(new) - tail - keep
    drift = removed + inserted
    if drift > budget:
        return None
    return TailReuse(keep, len(old) - tail, len(new) - tail, len(new), drift)
