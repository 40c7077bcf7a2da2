"""FIM templates: loaded from `prompts/fim/*.toml` (and the user's own folder), picked per model.

A template renders to *segments* rather than one string: special tokens become token ids and
the user's code is always tokenized as plain text, so code that happens to contain
`<|endoftext|>` can never inject a control token, and ctransformers (whose tokenizer does not
parse special tokens) gets the same prompt as llama-cpp-python.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from hearth._toml import tomllib
from hearth.errors import ConfigError

log = logging.getLogger(__name__)

PREFIX_ONLY = "prefix-only"
_PLACEHOLDER = re.compile(r"\{(prefix|suffix)\}")


@dataclass(frozen=True)
class Special:
    """A control token, written as its vocab text."""

    text: str


@dataclass(frozen=True)
class Text:
    """Plain text: template literals or the user's code, never parsed for special tokens."""

    text: str


Segment = Special | Text


@dataclass(frozen=True)
class FimTemplate:
    name: str
    description: str
    template: str
    required: tuple[str, ...]
    stop: tuple[str, ...]
    priority: int = 100
    repo_name: str | None = None
    file_sep: str | None = None
    source: str = ""
    specials: tuple[str, ...] = field(default=())

    @property
    def uses_suffix(self) -> bool:
        return "{suffix}" in self.template

    def render(self, prefix: str, suffix: str) -> list[Segment]:
        """Split the template into special tokens, literals and the user's prefix/suffix."""
        out: list[Segment] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(self.template):
            out.extend(self._literal(self.template[pos : m.start()]))
            value = prefix if m.group(1) == "prefix" else suffix
            if value:
                out.append(Text(value))
            pos = m.end()
        out.extend(self._literal(self.template[pos:]))
        return out

    def _literal(self, text: str) -> list[Segment]:
        if not text:
            return []
        if not self.specials:
            return [Text(text)]
        pattern = "|".join(re.escape(s) for s in sorted(self.specials, key=len, reverse=True))
        out: list[Segment] = []
        pos = 0
        for m in re.finditer(pattern, text):
            if m.start() > pos:
                out.append(Text(text[pos : m.start()]))
            out.append(Special(m.group(0)))
            pos = m.end()
        if pos < len(text):
            out.append(Text(text[pos:]))
        return out


def _parse(data: dict[str, Any], source: str) -> FimTemplate:
    try:
        name = str(data["name"])
        template = str(data["template"])
    except KeyError as exc:
        raise ConfigError(f"FIM template {source} lacks the key {exc}") from None
    if "{prefix}" not in template:
        raise ConfigError(f"FIM template {source} has no {{prefix}} placeholder")
    required = tuple(str(t) for t in data.get("required", []))
    stop = tuple(str(t) for t in data.get("stop", []))
    extra = [data.get("repo_name"), data.get("file_sep")]
    specials = tuple(dict.fromkeys([*required, *stop, *(str(e) for e in extra if e)]))
    return FimTemplate(
        name=name,
        description=str(data.get("description", name)),
        template=template,
        required=required,
        stop=stop,
        priority=int(data.get("priority", 100)),
        repo_name=data.get("repo_name"),
        file_sep=data.get("file_sep"),
        source=source,
        specials=specials,
    )


def _load_dir_entries(entries: Iterable[tuple[str, str]]) -> dict[str, FimTemplate]:
    out: dict[str, FimTemplate] = {}
    for source, text in entries:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"FIM template {source} is not valid TOML: {exc}") from None
        tpl = _parse(data, source)
        out[tpl.name] = tpl
    return out


def builtin_templates() -> dict[str, FimTemplate]:
    root = files("hearth.prompts") / "fim"
    entries = [
        (f"prompts/fim/{item.name}", item.read_text(encoding="utf-8"))
        for item in root.iterdir()
        if item.name.endswith(".toml")
    ]
    return _load_dir_entries(entries)


def load_templates(user_dir: Path | None = None) -> dict[str, FimTemplate]:
    """Built-in templates, overridden or extended by `*.toml` files in `user_dir`."""
    templates = builtin_templates()
    if user_dir is not None and user_dir.is_dir():
        entries = [(str(p), p.read_text(encoding="utf-8")) for p in sorted(user_dir.glob("*.toml"))]
        templates.update(_load_dir_entries(entries))
    return templates


def detect_template(
    templates: dict[str, FimTemplate],
    count_tokens: Callable[[str], int | None],
) -> FimTemplate:
    """The first family (by priority) whose required tokens are each one token in the vocab.

    `count_tokens(text)` returns how many tokens the vocab has for `text` as a special token
    (1 when it is one token, None when absent).
    """
    for tpl in sorted(templates.values(), key=lambda t: (t.priority, t.name)):
        if tpl.required and all(count_tokens(tok) == 1 for tok in tpl.required):
            return tpl
    fallback = templates.get(PREFIX_ONLY)
    if fallback is None:  # pragma: no cover - shipped with the package
        raise ConfigError("the prefix-only FIM template is missing from prompts/fim")
    return fallback


def get_template(templates: dict[str, FimTemplate], name: str) -> FimTemplate:
    try:
        return templates[name]
    except KeyError:
        known = ", ".join(sorted(templates))
        raise ConfigError(
            f"unknown FIM template {name!r}",
            f"use one of: {known}, or add a .toml file to the user templates folder",
        ) from None
