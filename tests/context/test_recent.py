"""Finding what an edit changed: the fast common-prefix/suffix search (`hearth/runs.py`,
also used on token lists by the KV cache reuse) against an element-by-element loop."""

from __future__ import annotations

import random

from hearth.context.recent import changed_lines
from hearth.runs import common_prefix, common_suffix


def _reference(old: str, new: str) -> tuple[int, int] | None:
    if old == new:
        return None
    n = min(len(old), len(new))
    i = 0
    while i < n and old[i] == new[i]:
        i += 1
    j = 0
    while j < n - i and old[len(old) - 1 - j] == new[len(new) - 1 - j]:
        j += 1
    first = new.count("\n", 0, i)
    last = new.count("\n", 0, max(i, len(new) - j))
    return first, max(first, last)


def _edits(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    cut = rng.choice([0, 0, 1, 2, 70, 5000])
    insert = rng.choice(["", "x", "\n", "é\n  ", "a" * 4100, text[at : at + 300]])
    return text[:at] + insert + text[at + cut :]


def test_changed_lines_agrees_with_the_char_by_char_search() -> None:
    rng = random.Random(7)
    alphabet = "ab \n\n\t(é🙂"
    for size in (0, 1, 63, 64, 65, 4095, 4096, 4097, 9000, 20000):
        for _ in range(25):
            old = "".join(rng.choice(alphabet) for _ in range(size))
            new = _edits(rng, old)
            assert changed_lines(old, new) == _reference(old, new), (size, len(new))
            assert changed_lines(new, old) == _reference(new, old)


def test_common_prefix_and_suffix_never_overlap() -> None:
    old, new = "abcabc", "abcXabc"
    i = common_prefix(old, new)
    assert i == 3
    assert common_suffix(old, new, min(len(old), len(new)) - i) == 3
    assert common_suffix("aaaa", "aaaaa", 0) == 0
    assert common_prefix("", "abc") == 0


def test_token_lists_get_the_same_runs_as_an_element_loop() -> None:
    rng = random.Random(11)
    for size in (0, 5, 64, 65, 3000, 9000):
        for _ in range(20):
            old = [rng.randrange(6) for _ in range(size)]
            at = rng.randrange(size + 1)
            new = old[:at] + [rng.randrange(6) for _ in range(rng.randrange(4))] + old[at + 2 :]
            i = 0
            while i < min(len(old), len(new)) and old[i] == new[i]:
                i += 1
            limit = min(len(old), len(new)) - i
            j = 0
            while j < limit and old[len(old) - 1 - j] == new[len(new) - 1 - j]:
                j += 1
            assert common_prefix(old, new) == i
            assert common_suffix(old, new, limit) == j
            assert common_suffix(old, new, len(old) + len(new)) <= min(len(old), len(new))
