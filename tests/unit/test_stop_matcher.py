"""StopMatcher: stops found across chunk boundaries, and no fragment of a stop is ever emitted."""

from __future__ import annotations

import pytest

from hearth.engine.generate import StopMatcher

ENDOFTEXT = "<|endoftext|>"


@pytest.mark.parametrize(
    ("stops", "text", "start", "expected"),
    [
        pytest.param([ENDOFTEXT], "x = 1<|endoftext|>", 0, 5, id="whole-stop-from-zero"),
        # The stop began in the previous chunk ("x = 1<|endof") and ends in the new one.
        pytest.param([ENDOFTEXT], "x = 1<|endoftext|>", 12, 5, id="spans-chunk-boundary"),
        # start is at the stop's last character: overlap back by len(stop) - 1 still finds it.
        pytest.param([ENDOFTEXT], "x = 1<|endoftext|>", 17, 5, id="start-at-last-char"),
        pytest.param(["\n\n"], "a\nb\n\nc", 4, 3, id="two-char-stop-split"),
        pytest.param(["\n\n", ENDOFTEXT], "ab<|endoftext|>\n\n", 0, 2, id="earliest-of-two"),
        pytest.param(["\n\n", ENDOFTEXT], "ab\n\n<|endoftext|>", 0, 2, id="earliest-order-swapped"),
        pytest.param(["abc", "bc"], "xabc", 0, 1, id="overlapping-stops-earliest-start"),
        pytest.param([ENDOFTEXT], "no stop here", 0, -1, id="absent"),
        pytest.param([], "anything<|endoftext|>", 0, -1, id="no-stops"),
        pytest.param(["", ENDOFTEXT], "a<|endoftext|>", 0, 1, id="empty-stop-ignored"),
        pytest.param(["»"], "naïve «x» y", 0, 8, id="unicode-stop"),
        pytest.param(
            ["<｜end▁of▁sentence｜>"], "日本<｜end▁of▁sentence｜>", 1, 2, id="unicode-spans"
        ),
        # A stop that ended before start - len(stop) + 1 was already reported; it is not seen.
        pytest.param(["ab"], "ab cd", 3, -1, id="stop-entirely-before-window"),
        pytest.param(["ab"], "ab cd ab", 3, 6, id="later-stop-after-old-one"),
    ],
)
def test_find(stops: list[str], text: str, start: int, expected: int) -> None:
    assert StopMatcher(stops).find(text, start) == expected


@pytest.mark.parametrize(
    ("stops", "text", "expected"),
    [
        pytest.param([ENDOFTEXT], "x = 1<|endof", len("x = 1"), id="partial-endof-held"),
        pytest.param([ENDOFTEXT], "x = 1<", len("x = 1"), id="single-char-prefix-held"),
        pytest.param([ENDOFTEXT], "x = 1<|endoftext|", len("x = 1"), id="all-but-last-held"),
        pytest.param([ENDOFTEXT], "x = 1 < 2", len("x = 1 < 2"), id="lt-not-at-end"),
        pytest.param([ENDOFTEXT], "x = <|end of", len("x = <|end of"), id="diverged-prefix"),
        pytest.param([ENDOFTEXT], "", 0, id="empty-text"),
        pytest.param([], "x = 1<|endof", len("x = 1<|endof"), id="no-stops"),
        # The longest held-back suffix over all stops wins.
        pytest.param(["\n\n", ENDOFTEXT], "a\n", 1, id="newline-held"),
        pytest.param(["\n\n", "<|im_end|>"], "a<|im", 1, id="longest-hold-wins"),
        pytest.param(["<|file_sep|>"], "<|file", 0, id="text-is-all-prefix"),
        pytest.param(["»»"], "«x»", 2, id="unicode-prefix-held"),
    ],
)
def test_safe_end(stops: list[str], text: str, expected: int) -> None:
    assert StopMatcher(stops).safe_end(text) == expected


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(["def f():", "\n    return 1", "<|end", "oftext|>", "junk"], id="split-2"),
        pytest.param(["def f():\n    return 1<", "|", "e", "ndoftext|", ">junk"], id="split-many"),
        pytest.param(["def f():\n    return 1<|endoftext|>junk"], id="one-chunk"),
        pytest.param(list("def f():\n    return 1<|endoftext|>junk"), id="char-by-char"),
    ],
)
def test_streaming_never_emits_a_fragment(chunks: list[str]) -> None:
    """The loop `generate()` runs: emit up to safe_end, cut at the first stop."""
    matcher = StopMatcher([ENDOFTEXT, "<|fim_pad|>"])
    text = ""
    emitted: list[str] = []
    shown = 0
    for chunk in chunks:
        before = len(text)
        text += chunk
        hit = matcher.find(text, before)
        if hit != -1:
            text = text[:hit]
            break
        safe = matcher.safe_end(text)
        assert safe >= shown
        emitted.append(text[shown:safe])
        shown = safe
    else:  # pragma: no cover - every case contains the stop
        pytest.fail("stop not found")
    emitted.append(text[shown:])
    assert "".join(emitted) == "def f():\n    return 1"
    assert all("<" not in piece for piece in emitted)


def test_longest_is_recorded() -> None:
    assert StopMatcher(["a", ENDOFTEXT, ""]).longest == len(ENDOFTEXT)
    assert StopMatcher([]).longest == 0
