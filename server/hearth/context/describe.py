"""What the model sees, for people: `hearth context` output and the `hearth.showContext`
payload. Without a loaded model, token counts come from a documented estimate and say so."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hearth.context.builder import CompletionContext, ContextEngine, DocumentView
from hearth.context.tokens import EstimateTokenizer, Tokenizer, VocabTokenizer
from hearth.engine.templates import FimTemplate, detect_template, get_template, load_templates
from hearth.errors import HearthError

if TYPE_CHECKING:
    from hearth.settings import Settings

log = logging.getLogger(__name__)

ESTIMATE_NOTE = (
    "no model loaded: token counts are estimated (about 4 characters per token) and the "
    "{template} template is assumed"
)
DEFAULT_ESTIMATE_TEMPLATE = "qwen"  # the default registry model's family


@dataclass
class Counter:
    """The tokenizer and template a context is built with, and whether they are guesses."""

    tokenizer: Tokenizer
    template: FimTemplate
    estimated: bool
    model: str | None = None

    @property
    def note(self) -> str | None:
        return ESTIMATE_NOTE.format(template=self.template.name) if self.estimated else None


def pick_template(tok: Tokenizer, name: str, templates: dict[str, FimTemplate]) -> FimTemplate:
    if name != "auto":
        return get_template(templates, name)

    def count(text: str) -> int | None:
        return 1 if tok.special_token_id(text) is not None else None

    return detect_template(templates, count)


def estimated_counter(settings: Settings, template: str | None = None) -> Counter:
    templates = load_templates()
    name = template or settings.fim_template
    tpl = get_template(templates, DEFAULT_ESTIMATE_TEMPLATE if name == "auto" else name)
    return Counter(EstimateTokenizer(settings.context_length), tpl, estimated=True)


def counter_for(settings: Settings) -> Counter:
    """The configured completion model's tokenizer (its vocabulary only, no weights, no
    download), else the estimate."""
    from hearth.engine.catalog import find_configured_model

    try:
        path, _how = find_configured_model(settings, "completion")
    except HearthError as exc:
        log.info("no completion model for token counts: %s", exc.user_message())
        path = None
    if path is None:
        return estimated_counter(settings)
    try:
        tok = VocabTokenizer(Path(path), n_ctx=settings.context_length)
    except HearthError as exc:
        log.info("reading the vocabulary of %s failed: %s", path, exc.user_message())
        return estimated_counter(settings)
    tpl = pick_template(tok, settings.fim_template, load_templates())
    return Counter(tok, tpl, estimated=False, model=str(path))


def payload(ctx: CompletionContext, note: str | None = None) -> dict[str, Any]:
    """The `hearth.showContext` result (also `hearth context --json`)."""
    out: dict[str, Any] = {
        "parts": [
            {
                "source": p.source,
                "path": p.path,
                "start_line": p.start_line,
                "end_line": p.end_line,
                "tokens": p.tokens,
                "text": p.text,
            }
            for p in ctx.parts
        ],
        "prompt": ctx.prompt_text,
        "tokens": len(ctx.tokens),
        "budget": ctx.budget,
        "build_ms": round(ctx.build_ms, 2),
        "estimated": note is not None,
    }
    if ctx.skipped:
        out["skipped"] = ctx.skipped
    if note:
        out["note"] = note
    return out


def format_text(ctx: CompletionContext, note: str | None = None) -> str:
    """Each part under a label with its source, path, 1-based line range and token count."""
    out = []
    for p in ctx.parts:
        where = p.path or "(untitled)"
        lines = f"{p.start_line + 1}-{p.end_line + 1}"
        out.append(f"=== {p.source}  {where}:{lines}  ({p.tokens} tokens)")
        out.append(p.text if p.text.endswith("\n") or not p.text else p.text + "\n")
    total = f"=== {len(ctx.tokens)} prompt tokens of a {ctx.budget}-token budget"
    total += f", built in {ctx.build_ms:.1f} ms"
    out.append(total)
    if ctx.skipped:
        out.append(f"=== skipped (out of time): {', '.join(ctx.skipped)}")
    if note:
        out.append(f"=== {note}")
    return "\n".join(out) + "\n"


def show_context(
    engine: ContextEngine,
    counter: Counter,
    doc: DocumentView,
    *,
    budget_tokens: int,
    max_tokens: int,
) -> dict[str, Any]:
    """The `hearth.showContext` payload; leaves the engine's hysteresis state alone."""
    ctx = engine.build(
        counter.tokenizer,
        counter.template,
        doc,
        budget_tokens=budget_tokens,
        max_tokens=max_tokens,
        remember=False,
    )
    return payload(ctx, counter.note)
