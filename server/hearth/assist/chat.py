"""Chat formatting for instruct models: a system and a user message to prompt token ids.

The model's own `tokenizer.chat_template` (Jinja, from the GGUF) is preferred and is rendered
only in a sandboxed, immutable Jinja environment: the template comes from a downloaded file and
must not reach Python internals. Models without one (and ctransformers' legacy files) use a
fallback family from `prompts/chat/` chosen from the vocabulary, or the one configured.

The user's code never becomes control tokens: message contents are rendered as placeholders,
and only the template's own text is scanned for the vocabulary's special tokens.
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from hearth._toml import tomllib
from hearth.engine.backend import Backend
from hearth.errors import ConfigError

log = logging.getLogger(__name__)

AUTO = "auto"
GGUF = "gguf"  # the model's own template, with no fallback

# End-of-turn markers of common templates; those a template uses become stop strings.
_TURN_ENDS = (
    "<|im_end|>",
    "<|eot_id|>",
    "<end_of_turn>",
    "<|end|>",
    "<|endoftext|>",
    "<|EOT|>",
    "<｜end▁of▁sentence｜>",
    "</s>",
)
# Private-use characters cannot come from a template's literals, so they mark contents safely.
_MARK = re.compile("\ue000(\\d+)\ue001")
_CONTROL, _USER_DEFINED = 3, 4
_SPECIAL_RE: weakref.WeakKeyDictionary[Backend, re.Pattern[str] | None] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class FallbackTemplate:
    name: str
    description: str
    template: str
    stop: tuple[str, ...]
    priority: int = 100
    tokens: tuple[str, ...] = ()
    tokenizers: tuple[str, ...] = ()

    def applies(self, backend: Backend) -> bool:
        if self.tokens and not all(backend.special_token_id(t) is not None for t in self.tokens):
            return False
        return not self.tokenizers or backend.model.tokenizer_model in self.tokenizers


@cache
def fallback_templates() -> dict[str, FallbackTemplate]:
    """The families shipped in `prompts/chat/*.toml`, by name."""
    out: dict[str, FallbackTemplate] = {}
    for entry in files("hearth.prompts").joinpath("chat").iterdir():
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        out[data["name"]] = FallbackTemplate(
            name=data["name"],
            description=data.get("description", ""),
            template=data["template"],
            stop=tuple(data.get("stop", ())),
            priority=int(data.get("priority", 100)),
            tokens=tuple(data.get("tokens", ())),
            tokenizers=tuple(data.get("tokenizers", ())),
        )
    return out


@dataclass(frozen=True)
class ChatPrompt:
    """A formatted prompt: token ids, stops, and which template made it (for logs/tests)."""

    tokens: list[int]
    stop: tuple[str, ...]
    stop_ids: frozenset[int]
    template: str


def choose_template(backend: Backend, setting: str = AUTO) -> str:
    """`gguf` when the model carries a chat template and the setting allows it, else a family."""
    families = fallback_templates()
    if setting not in (AUTO, GGUF) and setting not in families:
        raise ConfigError(
            f"unknown chat template {setting!r}",
            f"use auto, gguf or one of: {', '.join(sorted(families))}",
        )
    if setting in families:
        return setting
    if backend.model.chat_template:
        return GGUF
    if setting == GGUF:
        raise ConfigError(
            f"{backend.model.path.name} has no chat template in its metadata",
            'set chat_template = "auto" to use a fallback family',
        )
    for tpl in sorted(families.values(), key=lambda t: t.priority):
        if tpl.applies(backend):
            return tpl.name
    return "alpaca"


def format_chat(backend: Backend, system: str, user: str, *, setting: str = AUTO) -> ChatPrompt:
    """Token ids for one system + user turn, ending where the assistant's answer starts."""
    name = choose_template(backend, setting)
    if name == GGUF:
        source = backend.model.chat_template or ""
        try:
            pieces = _render_gguf(backend, source, system, user)
        except Exception as exc:  # a template Hearth cannot render must not block the feature
            if setting == GGUF:
                raise ConfigError(
                    f"the chat template of {backend.model.path.name} failed to render: {exc}",
                    'set chat_template = "auto" to use a fallback family',
                ) from None
            fallback = _first_family(backend)
            log.warning("chat template of the model failed (%s); using %s", exc, fallback)
            return format_chat(backend, system, user, setting=fallback)
        stops = tuple(m for m in _TURN_ENDS if m in source)
    else:
        tpl = fallback_templates()[name]
        pieces = _split_fallback(tpl.template, system, user)
        stops = tpl.stop
    tokens = _tokens(backend, pieces)
    stop_ids = frozenset(tid for s in stops if (tid := backend.special_token_id(s)) is not None)
    return ChatPrompt(tokens, stops, stop_ids, name)


def _first_family(backend: Backend) -> str:
    for tpl in sorted(fallback_templates().values(), key=lambda t: t.priority):
        if tpl.applies(backend):
            return tpl.name
    return "alpaca"


# A piece is (is_content, text): contents are tokenized as plain text, literals are scanned
# for the vocabulary's special tokens.
Piece = tuple[bool, str]


def _split_fallback(template: str, system: str, user: str) -> list[Piece]:
    out: list[Piece] = []
    pos = 0
    for m in re.finditer(r"\{(system|user)\}", template):
        out.append((False, template[pos : m.start()]))
        out.append((True, system if m.group(1) == "system" else user))
        pos = m.end()
    out.append((False, template[pos:]))
    return out


def _render_gguf(backend: Backend, source: str, system: str, user: str) -> list[Piece]:
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    template = env.from_string(source)
    specials = backend.model.special_token_ids()
    tokens = backend.model.tokens

    def tok(role: str) -> str:
        tid = specials.get(role)
        return tokens[tid] if tid is not None and 0 <= tid < len(tokens) else ""

    contents = [system, user]
    marks = [f"\ue000{i}\ue001" for i in range(len(contents))]
    variables: dict[str, Any] = {
        "add_generation_prompt": True,
        "bos_token": tok("bos"),
        "eos_token": tok("eos"),
    }
    try:
        rendered = template.render(
            messages=[
                {"role": "system", "content": marks[0]},
                {"role": "user", "content": marks[1]},
            ],
            **variables,
        )
    except TemplateError:
        # Some templates (Gemma, Mistral) refuse a system turn: fold it into the user's.
        contents = [f"{system}\n\n{user}"]
        marks = marks[:1]
        rendered = template.render(messages=[{"role": "user", "content": marks[0]}], **variables)
    found = [int(m.group(1)) for m in _MARK.finditer(rendered)]
    if sorted(found) != list(range(len(contents))):
        raise ValueError("the template does not place each message's content exactly once")
    out: list[Piece] = []
    pos = 0
    for m in _MARK.finditer(rendered):
        out.append((False, rendered[pos : m.start()]))
        out.append((True, contents[int(m.group(1))]))
        pos = m.end()
    out.append((False, rendered[pos:]))
    return out


def _special_pattern(backend: Backend) -> re.Pattern[str] | None:
    """A regex matching the vocabulary's control tokens (longest first), or None."""
    if backend in _SPECIAL_RE:
        return _SPECIAL_RE[backend]
    tokens = backend.model.tokens
    types = backend.model.metadata.get("tokenizer.ggml.token_type")
    found: list[str] = []
    if isinstance(types, list) and len(types) == len(tokens):
        found = [
            t for t, k in zip(tokens, types, strict=True) if k in (_CONTROL, _USER_DEFINED) and t
        ]
    pattern = (
        re.compile("|".join(re.escape(t) for t in sorted(found, key=len, reverse=True)))
        if found
        else None
    )
    _SPECIAL_RE[backend] = pattern
    return pattern


def _tokens(backend: Backend, pieces: list[Piece]) -> list[int]:
    out: list[int] = []
    pattern = _special_pattern(backend)
    for is_content, text in pieces:
        if not text:
            continue
        if is_content or pattern is None:
            out.extend(backend.tokenize(text))
            continue
        pos = 0
        for m in pattern.finditer(text):
            if m.start() > pos:
                out.extend(backend.tokenize(text[pos : m.start()]))
            tid = backend.special_token_id(m.group(0))
            if tid is not None:
                out.append(tid)
            pos = m.end()
        if pos < len(text):
            out.extend(backend.tokenize(text[pos:]))
    bos = backend.bos_id
    if backend.add_bos and bos is not None and (not out or out[0] != bos):
        out.insert(0, bos)
    return out
