"""Assemble a FIM prompt as token ids from a template and the text around the cursor."""

from __future__ import annotations

from hearth.engine.backend import Backend
from hearth.engine.templates import FimTemplate, Special, Text
from hearth.errors import ConfigError


def fim_prompt_tokens(
    backend: Backend, template: FimTemplate, prefix: str, suffix: str
) -> list[int]:
    """Token ids for `template` filled with `prefix`/`suffix`.

    Special tokens are looked up in the vocab; text is tokenized as plain text, one run per
    stretch between special tokens, so the tokens of the prefix stay the same while the user
    types at its end (the backend then reuses them from the previous call).
    """
    tokens: list[int] = []
    if backend.add_bos and backend.bos_id is not None:
        tokens.append(backend.bos_id)
    pending = ""
    for seg in template.render(prefix, suffix):
        if isinstance(seg, Text):
            pending += seg.text
            continue
        if pending:
            tokens.extend(backend.tokenize(pending))
            pending = ""
        assert isinstance(seg, Special)
        tid = backend.special_token_id(seg.text)
        if tid is None:
            raise ConfigError(
                f"the FIM template {template.name!r} needs the token {seg.text!r}, "
                f"which {backend.model.path.name} does not have",
                'set fim_template = "auto" to detect the right template for this model',
            )
        tokens.append(tid)
    if pending:
        tokens.extend(backend.tokenize(pending))
    return tokens


def fim_stops(backend: Backend, template: FimTemplate) -> tuple[tuple[str, ...], frozenset[int]]:
    """Stop strings, and the ids of those that are single tokens in this vocab."""
    ids = frozenset(tid for s in template.stop if (tid := backend.special_token_id(s)) is not None)
    return template.stop, ids
