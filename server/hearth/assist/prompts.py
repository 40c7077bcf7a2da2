"""Instruction prompts as data (`prompts/assist/*.md`), filled with `{{name}}` placeholders.

Double braces keep the user's code (full of `{` and `}`) out of the substitution syntax, and
each value is inserted once, so code that contains `{{code}}` is never expanded again.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

_FIELD = re.compile(r"\{\{(\w+)\}\}")


@cache
def load_prompt(name: str) -> str:
    """The text of `prompts/assist/<name>.md`."""
    return files("hearth.prompts").joinpath("assist", f"{name}.md").read_text(encoding="utf-8")


def fill(template: str, **values: str) -> str:
    """Replace each `{{name}}` by its value in one pass; unknown names stay as they are."""

    def sub(m: re.Match[str]) -> str:
        return values.get(m.group(1), m.group(0))

    return _FIELD.sub(sub, template)


def render(name: str, **values: str) -> str:
    return fill(load_prompt(name), **values)
