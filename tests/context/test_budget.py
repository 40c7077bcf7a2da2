"""Fitting snippets to the budget: shares per source, deduplication, hysteresis."""

from __future__ import annotations

from hearth.context.budget import Shares, greedy, stable_choice
from hearth.context.snippet import DEFINITION, IMPORTS, SIMILAR, Snippet
from hearth.settings import Settings


def snip(
    source: str, path: str, start: int, score: float, text: str = "", size: int = 10
) -> Snippet:
    body = text or f"{path} {start} {score} " + "x" * size
    return Snippet(source, path, start, start + 2, body + "\n", score)


def cost10(_s: Snippet) -> int:
    return 10


def test_greedy_takes_best_first_within_each_share() -> None:
    defs = [snip(DEFINITION, f"d{i}.py", 0, 1.0 - i / 10) for i in range(5)]
    sims = [snip(SIMILAR, f"s{i}.py", 0, 0.9 - i / 10) for i in range(5)]
    got = greedy(defs + sims, cost10, {DEFINITION: 20, SIMILAR: 20}, 40)
    assert [s.path for s in got] == ["d0.py", "d1.py", "s0.py", "s1.py"]


def test_greedy_gives_unused_share_to_the_rest() -> None:
    defs = [snip(DEFINITION, f"d{i}.py", 0, 1.0 - i / 10) for i in range(5)]
    got = greedy(defs, cost10, {DEFINITION: 20, SIMILAR: 20}, 40)
    assert [s.path for s in got] == ["d0.py", "d1.py", "d2.py", "d3.py"]


def test_greedy_never_exceeds_the_total() -> None:
    cands = [snip(DEFINITION, f"d{i}.py", 0, 1.0) for i in range(10)]
    assert greedy(cands, cost10, {DEFINITION: 1000}, 35) == cands[:3]
    assert greedy(cands, cost10, {DEFINITION: 1000}, 0) == []


def test_greedy_skips_overlapping_and_repeated_snippets() -> None:
    a = snip(DEFINITION, "a.py", 10, 1.0, "def f(x):\n    return x + 1")
    overlapping = snip(SIMILAR, "a.py", 11, 0.9, "something else entirely here")
    same_text = snip(SIMILAR, "b.py", 50, 0.8, "def f(x):\n    return x + 1")
    other = snip(SIMILAR, "c.py", 1, 0.7, "class Other:\n    pass")
    got = greedy([a, overlapping, same_text, other], cost10, {DEFINITION: 50, SIMILAR: 50}, 100)
    assert got == [a, other]


def test_import_blocks_overlap_nothing() -> None:
    block = Snippet(DEFINITION, "a.py", 0, 100, "def f(x):\ndef g(y):\n", 0.3, IMPORTS)
    full = snip(DEFINITION, "a.py", 10, 1.0, "def h(z):\n    return z")
    assert greedy([block, full], cost10, {DEFINITION: 100}, 100) == [full, block]


def test_stable_choice_keeps_the_previous_choice_unless_clearly_better() -> None:
    a, b, c = (snip(DEFINITION, f"{n}.py", 0, 1.0) for n in "abc")
    pool = {s.key: s for s in (a, b, c)}
    # Same set in another order: the previous order stays.
    assert stable_choice([b, a], [a, b], pool, cost10, 100, still_valid=lambda s: True) == [a, b]
    # A slightly better new set: keep the old one.
    c_up = Snippet(c.source, c.path, c.start_line, c.end_line, c.text, 1.1)
    pool[c.key] = c_up
    got = stable_choice([a, c_up], [a, b], pool, cost10, 100, still_valid=lambda s: True)
    assert got == [a, b]
    # A much better one: switch, keeping what stays at the front in its old place.
    c_big = Snippet(c.source, c.path, c.start_line, c.end_line, c.text, 5.0)
    pool[c.key] = c_big
    got = stable_choice([c_big, b], [a, b], pool, cost10, 100, still_valid=lambda s: True)
    assert got == [b, c_big]


def test_stable_choice_drops_from_the_end_to_fit_and_drops_invalid() -> None:
    a, b, c = (snip(DEFINITION, f"{n}.py", 0, 1.0) for n in "abc")
    pool = {s.key: s for s in (a, b, c)}
    got = stable_choice([a, b, c], [a, b, c], pool, cost10, 25, still_valid=lambda s: True)
    assert got == [a, b]
    got = stable_choice([c], [a, b], pool, cost10, 100, still_valid=lambda s: s is not a)
    assert a not in got and got == [c]


def test_sticky_choice_stays_while_all_of_it_is_valid_and_fits() -> None:
    """Typing along a line: a much better fresh set waits for a new line (switching means
    evaluating the whole prompt again); an invalid or overflowing old set does not."""
    a, b, c = (snip(DEFINITION, f"{n}.py", 0, 1.0) for n in "abc")
    c_big = Snippet(c.source, c.path, c.start_line, c.end_line, c.text, 5.0)
    pool = {s.key: s for s in (a, b, c_big)}

    def choose(previous: list[Snippet], total: int, valid: Snippet | None = None) -> list[Snippet]:
        return stable_choice(
            [c_big, b], previous, pool, cost10, total,
            still_valid=lambda s: s is not valid, sticky=True,
        )  # fmt: skip

    assert choose([a, b], 100) == [a, b]
    assert choose([a, b], 100, valid=a) == [b, c_big]  # a is no longer valid
    assert choose([a, b], 15) == [c_big]  # a and b no longer fit: the usual choice


def test_shares_from_settings_are_capped() -> None:
    shares = Shares.from_settings(
        Settings(context_share_definitions=0.8, context_share_similar=0.8)
    )
    assert abs(shares.cross_file - 0.8) < 1e-9
    assert shares.definition == shares.similar
    default = Shares.from_settings(Settings())
    assert default.definition == Settings().context_share_definitions
