"""Trigger rules, the typed-ahead cache, the adaptive debounce and the cursor shape."""

from __future__ import annotations

import pytest

from hearth.completion.cache import SuggestionCache
from hearth.completion.debounce import AdaptiveDebounce
from hearth.completion.shape import cursor_shape
from hearth.completion.triggers import TriggerInput, TriggerRules, skip_reason

RULES = TriggerRules()


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        ("    x = ", "", None),
        ("print(", ")", None),
        ("f(a, ", '")];', None),
        ("    retu", "rn x", "middle of a word"),
        ("x = ", "compute(1, 2)", "code right of the cursor"),
        ("foo", "", None),
        ("", "", None),
    ],
)
def test_position_rules(before: str, after: str, reason: str | None) -> None:
    assert skip_reason(TriggerInput(before, after), RULES) == reason


def test_comments_and_strings_are_configurable() -> None:
    inp = TriggerInput("# note ", "", in_comment=True)
    assert skip_reason(inp, RULES) == "inside a comment"
    assert skip_reason(inp, TriggerRules(in_comments=True)) is None
    s = TriggerInput('x = "ab', '"', in_string=True)
    assert skip_reason(s, RULES) == "inside a string"
    assert skip_reason(s, TriggerRules(in_strings=True)) is None


def test_explicit_requests_bypass_position_rules() -> None:
    assert skip_reason(TriggerInput("retu", "rn x", explicit=True), RULES) is None


def test_cache_exact_and_typed_ahead() -> None:
    cache = SuggestionCache()
    cache.put("u", "def f():\n    return ", "\n", ("x + 1", "y"))
    hit = cache.get("u", "def f():\n    return ", "\n")
    assert hit is not None and hit.items == ("x + 1", "y") and hit.typed == ""
    ahead = cache.get("u", "def f():\n    return x ", "\n")
    assert ahead is not None and ahead.items == ("+ 1",) and ahead.typed == "x "
    assert cache.get("u", "def f():\n    return z", "\n") is None  # typed something else
    assert cache.get("u", "def f():\n    return x", "changed\n") is None  # suffix changed
    assert cache.get("other", "def f():\n    return ", "\n") is None
    assert cache.get("u", "def f():\n    return x + 1", "\n") is None  # all typed: nothing left


def test_cache_typed_ahead_needs_the_same_text_before() -> None:
    cache = SuggestionCache()
    cache.put("u", "a = 1\nb = ", "", ("2",))
    assert cache.get("u", "a = 9\nb = 2", "") is None


def test_cache_is_bounded_per_document() -> None:
    cache = SuggestionCache(per_document=3)
    for i in range(10):
        cache.put("u", f"p{i}", "", ("s",))
    assert cache.size() == 3
    assert cache.get("u", "p9", "") is not None and cache.get("u", "p0", "") is None


def test_debounce_follows_typing_rhythm() -> None:
    d = AdaptiveDebounce(min_ms=10, max_ms=150, factor=0.6)
    assert d.delay_s() == pytest.approx(0.010)
    assert d.typing_gap_s() is None
    t = 100.0
    for _ in range(10):
        d.keystroke(t)
        t += 0.1  # 100 ms between keys
    assert d.delay_s() == pytest.approx(0.060)
    assert d.typing_gap_s() == pytest.approx(0.1)
    for _ in range(20):
        d.keystroke(t)
        t += 0.9  # slow typing: capped
    assert d.delay_s() == pytest.approx(0.150)
    d.keystroke(t + 30)  # a long pause is not rhythm
    assert d.delay_s() == pytest.approx(0.150)


def test_debounce_fixed_value_wins() -> None:
    d = AdaptiveDebounce(fixed_ms=0)
    d.keystroke(1.0)
    d.keystroke(1.1)
    assert d.delay_s() == 0


@pytest.mark.parametrize(
    ("text", "line", "col", "language", "multiline"),
    [
        ("def f(x):\n    ", 1, 4, "python", True),  # empty line
        ("def f(x):", 0, 9, "python", True),  # block opener
        ("x = foo(1, ", 0, 11, "python", False),  # mid-line
        ("if (x) {", 0, 8, "javascript", True),
        ("x = d[1:", 0, 8, "python", False),  # a slice's colon opens no block
        ('s = "a {', 0, 8, "python", False),  # a brace in a string opens no block
        ("x = 1", 0, 5, None, False),
        ("", 0, 0, None, True),
        ("def f(x):\n    \n    return x\n", 1, 4, "python", False),  # the block goes on below
        ("def f(x):\n    \n\n        y = 1\n", 1, 4, "python", False),  # deeper below
        ("def f(x):\n    \n\n\ndef g():\n    pass\n", 1, 4, "python", True),  # dedent below
        ("if x:\n    a()\n", 0, 5, "python", False),  # the body already exists
        ("function f() {\n  \n}\n", 1, 2, "javascript", True),  # only the closer follows
        ("function f() {\n  \n  g();\n}\n", 1, 2, "javascript", False),
    ],
)
def test_shape_from_syntax(
    text: str, line: int, col: int, language: str | None, multiline: bool
) -> None:
    assert cursor_shape(text, line, col, language).multiline is multiline


def test_shape_knows_comments_and_strings() -> None:
    assert cursor_shape("# hello wor", 0, 11, "python").in_comment
    assert cursor_shape('x = "hello wor"', 0, 13, "python").in_string
    closed = cursor_shape('x = "hello"', 0, 11, "python")
    assert not closed.in_string and not closed.in_comment
    assert cursor_shape("// c\nint x;", 0, 4, "c").in_comment


def test_shape_mode_overrides() -> None:
    assert cursor_shape("x = foo(", 0, 8, "python", mode="always").multiline
    assert not cursor_shape("def f():\n    ", 1, 4, "python", mode="never").multiline
