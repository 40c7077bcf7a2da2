"""Golden cases for each postprocessing rule: document around the cursor, raw model output,
what the user must see."""

from __future__ import annotations

import pytest

from hearth.completion.postprocess import (
    CursorContext,
    answer_end,
    cut_at_undecodable,
    detect_indent_unit,
    postprocess,
    postprocess_steps,
    skip_leading_blank_lines,
    stop_after_exit,
    stop_at_dedent,
    stop_at_repetition,
    strip_special_tokens,
    trim_suffix_overlap,
)


def ctx(prefix: str, suffix: str = "", **kw: object) -> CursorContext:
    return CursorContext(prefix=prefix, suffix=suffix, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "specials", "want"),
    [
        ("x + 1<|endoftext|>junk", ["<|endoftext|>"], "x + 1"),
        ("x<|fim_pad|><|fim_pad|>", ["<|fim_pad|>", "<|endoftext|>"], "x"),
        ("a <EOT> b", ["<EOT>"], "a "),
        ("plain", ["<EOT>"], "plain"),
    ],
    ids=["eos", "pad", "codellama-eot", "clean"],
)
def test_strip_special_tokens(raw: str, specials: list[str], want: str) -> None:
    assert strip_special_tokens(raw, specials) == want


@pytest.mark.parametrize(
    ("before", "after", "raw", "want"),
    [
        ("print(", ")", "foo(x))", "foo(x)"),
        ("print(", ")", "foo(x)", "foo(x)"),
        ("def f(", "):", "a, b):", "a, b"),
        ('x = "', '"', 'hello"', "hello"),
        ("items = [", "]", "1, 2, 3]", "1, 2, 3"),
        ("call(", ")", "a, b", "a, b"),
    ],
    ids=["dup-paren", "own-paren-kept", "dup-tail", "dup-quote", "dup-bracket", "no-overlap"],
)
def test_trim_suffix_overlap_on_the_line(before: str, after: str, raw: str, want: str) -> None:
    assert trim_suffix_overlap(raw, ctx(before, after)) == want


def test_trim_suffix_overlap_of_following_lines() -> None:
    c = ctx("def f():\n", "\ndef g():\n    pass\n")
    assert trim_suffix_overlap("    return 1\n\ndef g():\n    pass", c) == "    return 1"


def test_no_line_of_the_suffix_is_written_again() -> None:
    below = "\n    else:\n        y = 2\n    return y\n"
    c = ctx("def f(x):\n    if x:\n        ", below)
    assert trim_suffix_overlap("y = 1\n    else:\n        y = 2", c) == "y = 1"
    assert trim_suffix_overlap("y = 1\n    return y", c) == "y = 1"  # the third line below
    assert trim_suffix_overlap("return y", ctx("def f(x):\n    ", below)) == ""
    assert trim_suffix_overlap("y = 3", c) == "y = 3"


@pytest.mark.parametrize(
    ("prefix", "suffix", "multiline", "raw", "kept"),
    [
        ("x = ", "\n", False, "1\nprint(x)", "1"),
        ("def f():\n    ", "\n", True, "a = 1\n    return a\nprint(", "a = 1\n    return a"),
        ("def f():\n    ", "\n", True, "a = 1\n    b = a\n", None),  # may go on
        ("def f():\n    ", "\n", True, "a = 1\n    return a\n", "a = 1\n    return a"),
        ("def f():\n    ", "\n", True, "a = 1\n    b", None),
        ("def f():\n    ", "\n    return a\n", True, "a = 1\n    return a\n", "a = 1"),
        ("def f():\n    ", "\n    return a\n", True, "return a\n", ""),
        ("def f():\n    ", "\n", True, "a()\n    a()\n    a()\n    a(", "a()\n    a()"),
    ],
    ids=[
        "single-line",
        "dedent",
        "open",
        "return",
        "open-line",
        "suffix-line",
        "first-is-below",
        "repeat",
    ],
)
def test_answer_end_stops_generating_once_decided(
    prefix: str, suffix: str, multiline: bool, raw: str, kept: str | None
) -> None:
    cut = answer_end(raw, ctx(prefix, suffix, multiline=multiline))
    assert (None if cut is None else raw[:cut]) == kept


@pytest.mark.parametrize(
    ("prefix", "raw", "want"),
    [
        ("def f():\n    ", "x = 1\n    return x\nprint(f())", "x = 1\n    return x"),
        ("class A:\n    def f(self):\n        ", "pass\n    def g(self):", "pass"),
        ("x = ", "1", "1"),
    ],
    ids=["dedent-to-module", "dedent-to-class", "single-line"],
)
def test_stop_at_dedent(prefix: str, raw: str, want: str) -> None:
    assert stop_at_dedent(raw, ctx(prefix)) == want


def test_stop_at_repetition() -> None:
    assert stop_at_repetition("a\nb\nb\nb\nb") == "a\nb"
    assert stop_at_repetition("a\n\n\n\nb") == "a\n\n\n\nb"
    assert stop_at_repetition("x\ny\nx\ny") == "x\ny\nx\ny"


@pytest.mark.parametrize(
    ("c", "raw", "want"),
    [
        (ctx("def f():\n    ", "\n", indent_unit="\t"), "if x:\n        y()", "if x:\n\t\ty()"),
        (ctx("a = ", "", crlf=True), "b(\n    1)", "b(\r\n    1)"),
        (ctx("a = ", ""), "  \n\t", ""),
        (ctx("name = ", "\n", multiline=False), "get_name()\nprint(name)", "get_name()"),
        (ctx("x = ", ""), "1   \n\n", "1"),
    ],
    ids=["tabs", "crlf", "whitespace-only", "single-line-mode", "trailing-blank"],
)
def test_postprocess_end_to_end(c: CursorContext, raw: str, want: str) -> None:
    assert postprocess(raw, c) == want


def test_postprocess_keeps_non_ascii() -> None:
    assert postprocess("'héllo wörld 😀'", ctx("s = ", "\n")) == "'héllo wörld 😀'"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("def f():\n  if x:\n    y\n", "  "),
        ("def f():\n\tx\n", "\t"),
        ("def f():\n    x\n", "    "),
        ("x = 1\n", "    "),
    ],
)
def test_detect_indent_unit(text: str, want: str) -> None:
    assert detect_indent_unit(text) == want


def test_cut_at_undecodable_bytes() -> None:
    assert cut_at_undecodable("total = 0\ufffdclas\ufffd") == "total = 0"
    assert cut_at_undecodable("plain") == "plain"
    assert postprocess("\ufffdclasd", ctx("x = ")) == ""


def test_steps_name_the_rules_that_changed_the_text() -> None:
    c = ctx("def f(x):\n    ", "\n    return y\n")
    text, rules = postprocess_steps("y = x<|endoftext|>", c, ["<|endoftext|>"])
    assert (text, rules) == ("y = x", ["special_tokens"])
    text, rules = postprocess_steps("y = x\n    return y", c)
    assert text == "y = x" and rules == ["suffix_overlap"]
    assert postprocess_steps("y = x", c) == ("y = x", [])


@pytest.mark.parametrize(
    ("before", "raw", "want"),
    [
        ("    ", "\n    a = 1\n    return a", "a = 1\n    return a"),
        ("    ", "\n\n        deeper()", "    deeper()"),  # keeps its own depth
        ("    ", "a = 1", "a = 1"),
        ("    x = ", "\n    1", "\n    1"),  # code before the cursor: not an empty line
    ],
    ids=["blank-first-line", "blank-lines", "no-blank", "not-empty-line"],
)
def test_skip_leading_blank_lines(before: str, raw: str, want: str) -> None:
    assert skip_leading_blank_lines(raw, ctx("def f():\n" + before, "\n")) == want


@pytest.mark.parametrize(
    ("prefix", "raw", "want"),
    [
        ("def f(x):\n    ", "return x\n\n    # print(f(1))\n    # print(f(2))", "return x"),
        ("def f(x):\n    ", "y = x\n    return y\n    print(y)", "y = x\n    return y"),
        (
            "def f(x):\n    ",
            "if x:\n        return 1\n    return 2",
            "if x:\n        return 1\n    return 2",
        ),
        (
            "def f(x):\n    ",
            "return (\n        x\n    )\n    z",
            "return (\n        x\n    )\n    z",
        ),
        ("for a in b:\n    ", "if a:\n        break\n    c()", "if a:\n        break\n    c()"),
    ],
    ids=["return-then-junk", "return-last", "nested-return-kept", "open-bracket", "nested-break"],
)
def test_stop_after_exit(prefix: str, raw: str, want: str) -> None:
    assert stop_after_exit(raw, ctx(prefix)) == want


def test_answer_end_stops_after_a_return_at_the_block_depth() -> None:
    c = ctx("def f(x):\n    ", "\n")
    raw = "y = x\n    return y\n"
    cut = answer_end(raw, c)
    assert cut is not None and raw[:cut] == "y = x\n    return y"
    assert answer_end("if x:\n        return 1\n", c) is None  # a nested return goes on
