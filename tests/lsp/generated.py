"""Shared pieces of the generated (hypothesis) tests: counts, soak selection, text strategies.

Default runs use small example counts so the suite stays fast; `pytest -m soak` runs the full
counts the reliability issue asks for (and only then are the `soak` tests not skipped).
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

# Pieces that trip position arithmetic: every LSP line break, characters that
# `str.splitlines` also splits at, BMP non-ASCII, astral (surrogate pairs in UTF-16), NUL.
PIECES = [
    "a",
    "b",
    "Z",
    "_",
    " ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "é",
    "中",
    "😋",
    "𝄞",
    "\U0010ffff",
    "\u2028",
    "\x0b",
    "\x0c",
    "\x85",
    "\x1c",
    "\x00",
    "\ufeff",
]

texts = st.lists(st.sampled_from(PIECES), max_size=24).map("".join)


def soak_selected(config: pytest.Config) -> bool:
    return "soak" in str(config.getoption("markexpr", "") or "")


def require_soak(config: pytest.Config) -> None:
    if not soak_selected(config):
        pytest.skip("full-count generated run: select it with `pytest -m soak`")
