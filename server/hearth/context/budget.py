"""Fitting candidates into the token budget, with a share per source, and hysteresis.

Snippets are chosen greedily within each source's share, then whatever is left is offered to
the remaining candidates. The previous build's choice is kept unless the new one is clearly
better, and when it changes, what stays keeps its place at the front: the prompt's common
prefix with the previous one (what the model does not evaluate again) ends at the first
change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearth.context.snippet import (
    CROSS_FILE_SOURCES,
    DEFINITION,
    RECENT_EDIT,
    SIMILAR,
    Snippet,
    norm_lines,
)

if TYPE_CHECKING:
    from hearth.settings import Settings

SWITCH_MARGIN = 0.25  # a new choice must score this much better than the kept one
MIN_CROSS_TOKENS = 96  # less room than this for cross-file material: local windows only


@dataclass(frozen=True)
class Shares:
    """Shares of the budget per source (the prefix gets the rest, and what is unused)."""

    definition: float = 0.35
    similar: float = 0.15
    recent_edit: float = 0.05
    # Small: with prefix-suffix-middle templates every suffix token is re-evaluated per
    # keystroke (the prefix before it grows), so its size is a per-keystroke cost.
    suffix: float = 0.05

    def of(self, source: str) -> float:
        return {DEFINITION: self.definition, SIMILAR: self.similar, RECENT_EDIT: self.recent_edit}[
            source
        ]

    @classmethod
    def from_settings(cls, settings: Settings) -> Shares:
        """The settings' shares; together they are capped at 0.8 so the prefix keeps room."""
        d, s, r = (
            settings.context_share_definitions,
            settings.context_share_similar,
            settings.context_share_recent_edits,
        )
        total = d + s + r
        k = 0.8 / total if total > 0.8 else 1.0
        return cls(definition=d * k, similar=s * k, recent_edit=r * k)

    @property
    def cross_file(self) -> float:
        return self.definition + self.similar + self.recent_edit


def greedy(
    candidates: list[Snippet], cost: Callable[[Snippet], int], shares: dict[str, int], total: int
) -> list[Snippet]:
    """Best first within each source's share, then the rest into what is left of `total`.
    Candidates overlapping a chosen one (same file, overlapping lines) are skipped."""
    chosen: list[Snippet] = []
    used: dict[str, int] = dict.fromkeys(shares, 0)
    spent = 0

    def fits(s: Snippet, limit: int | None) -> bool:
        c = cost(s)
        if spent + c > total:
            return False
        if limit is not None and used.get(s.source, 0) + c > limit:
            return False
        if any(s.overlaps(o) for o in chosen):
            return False
        lines = norm_lines(s.text)
        return not lines or not lines <= shown

    shown: set[str] = set()

    ordered = sorted(candidates, key=lambda s: (CROSS_FILE_SOURCES.index(s.source), -s.score))
    rest: list[Snippet] = []
    for s in ordered:
        if fits(s, shares.get(s.source, 0)):
            chosen.append(s)
            shown.update(norm_lines(s.text))
            used[s.source] = used.get(s.source, 0) + cost(s)
            spent += cost(s)
        else:
            rest.append(s)
    for s in rest:
        if fits(s, None):
            chosen.append(s)
            shown.update(norm_lines(s.text))
            spent += cost(s)
    return chosen


def stable_choice(
    fresh: list[Snippet],
    previous: list[Snippet],
    candidates: dict[str, Snippet],
    cost: Callable[[Snippet], int],
    total: int,
    *,
    still_valid: Callable[[Snippet], bool],
    sticky: bool = False,
) -> list[Snippet]:
    """The previous choice (in its order) unless `fresh` scores clearly better; else the
    snippets both share, in their previous order, followed by the fresh ones. `sticky`:
    the previous choice whenever all of it is still valid and fits."""
    old = [candidates.get(s.key, s) for s in previous if still_valid(s)]
    while old and sum(cost(s) for s in old) > total:
        old.pop()
    fresh_keys = {s.key for s in fresh}
    if not old:
        return fresh
    if sticky and len(old) == len(previous):
        return old
    if {s.key for s in old} == fresh_keys:
        return old

    def score(s: Snippet) -> float:
        current = candidates.get(s.key)
        return current.score if current is not None else 0.0

    old_score = sum(score(s) for s in old)
    new_score = sum(s.score for s in fresh)
    if len(old) == len(previous) and new_score <= old_score * (1 + SWITCH_MARGIN):
        return old
    kept = [s for s in old if s.key in fresh_keys]
    kept_keys = {s.key for s in kept}
    merged = kept + [s for s in fresh if s.key not in kept_keys]
    while merged and sum(cost(s) for s in merged) > total:
        merged.pop()
    return merged
