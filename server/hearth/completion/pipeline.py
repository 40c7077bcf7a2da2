"""One inline completion from a cursor to suggestions, without any LSP types.

The LSP feature (and the latency benchmark) drive it in three steps: `plan` (trigger rules,
shape, cache: cheap, on the event loop), `submit` (context and generation on the inference
worker) and `finish` (postprocessing, cache). Speculation and warm-up reuse the same steps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hearth.completion.cache import SuggestionCache
from hearth.completion.fim import fim_stops
from hearth.completion.postprocess import (
    CursorContext,
    answer_end,
    detect_indent_unit,
    postprocess_steps,
)
from hearth.completion.shape import CursorShape, cursor_shape
from hearth.completion.triggers import TriggerInput, TriggerRules, skip_reason
from hearth.context.builder import CompletionContext, ContextEngine, DocumentView
from hearth.engine.backend import BACKGROUND_PREFILL_CHUNK, Backend, SamplingParams
from hearth.engine.generate import Generation, GenerationRequest, StopReason
from hearth.engine.service import Engine, PromptBuilder, Role
from hearth.engine.templates import FimTemplate
from hearth.engine.worker import JobHandle

if TYPE_CHECKING:
    from hearth.settings import Settings

log = logging.getLogger(__name__)

INDENT_SAMPLE_LINES = 400  # lines around the cursor that decide the indentation style
CONTEXT_TIME_S = 0.08  # optional context sources get this long before the prompt is built
ALT_TEMPERATURE = 0.6  # extra candidates for an explicit request are sampled, not greedy
FOLLOW_LINES = 2  # lines below the cursor that rank a prefix-only model's candidates


@dataclass(frozen=True)
class CompletionOptions:
    max_tokens: int = 64
    time_budget_s: float | None = 3.0
    budget_tokens: int = 1536
    multiline_mode: str = "auto"  # auto | always | never
    rules: TriggerRules = field(default_factory=TriggerRules)
    sampling: SamplingParams = field(default_factory=SamplingParams)
    candidates: int = 3  # for explicit requests
    suffix_reuse_tokens: int = 64  # see engine/kv_reuse.py
    draft_tokens: int = 8  # see engine/draft.py
    rank_branches: int = 3  # see engine/rank.py
    rank_while_typing: bool = False

    @classmethod
    def from_settings(cls, s: Settings) -> CompletionOptions:
        return cls(
            max_tokens=s.max_tokens,
            time_budget_s=s.time_budget_ms / 1000,
            budget_tokens=s.context_budget_tokens,
            multiline_mode=s.multiline,
            rules=TriggerRules(
                in_comments=s.complete_in_comments, in_strings=s.complete_in_strings
            ),
            sampling=SamplingParams.from_settings(s),
            candidates=s.explicit_candidates,
            suffix_reuse_tokens=s.suffix_reuse_tokens,
            draft_tokens=s.draft_tokens,
            rank_branches=s.rank_branches,
            rank_while_typing=s.rank_while_typing,
        )


@dataclass
class Plan:
    """A request that needs the model."""

    uri: str
    doc: DocumentView
    prefix: str
    suffix: str
    shape: CursorShape
    cursor: CursorContext
    explicit: bool
    speculative: bool = False
    context: CompletionContext | None = None  # filled on the worker
    specials: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    reason: str


@dataclass(frozen=True)
class Cached:
    items: tuple[str, ...]
    typed_ahead: bool


@dataclass
class Outcome:
    items: tuple[str, ...]
    generations: list[Generation]
    rules: list[list[str]] = field(default_factory=list)  # per generation: rules that cut it

    @property
    def tokens_evaluated(self) -> int:
        return sum(g.n_evaluated for g in self.generations)


def follow_lines(suffix: str, lines: int = FOLLOW_LINES) -> str:
    """The suffix up to the end of its `lines`-th non-blank line after the cursor's line."""
    parts = suffix.split("\n")
    seen = 0
    for i, part in enumerate(parts[1:], start=1):
        if part.strip():
            seen += 1
            if seen == lines:
                return "\n".join(parts[: i + 1])
    return suffix if seen else ""


class CompletionPipeline:
    def __init__(
        self,
        engine: Engine,
        context: ContextEngine,
        options: CompletionOptions,
        cache: SuggestionCache | None = None,
    ) -> None:
        self.engine = engine
        self.context = context
        self.options = options
        self.cache = cache or SuggestionCache()

    # -- step 1: cheap checks ----------------------------------------------------------------
    def plan(self, uri: str, doc: DocumentView, *, explicit: bool) -> Plan | Skipped | Cached:
        offset = doc.offset
        prefix, suffix = doc.text[:offset], doc.text[offset:]
        if not explicit:
            hit = self.cache.get(uri, prefix, suffix)
            if hit is not None:
                return Cached(hit.items, bool(hit.typed))
        line_before = prefix.rpartition("\n")[2]
        line_after = suffix.partition("\n")[0].rstrip("\r")
        shape = cursor_shape(
            doc.text, doc.line, doc.character, doc.language, self.options.multiline_mode
        )
        why = skip_reason(
            TriggerInput(line_before, line_after, explicit, shape.in_comment, shape.in_string),
            self.options.rules,
        )
        if why is not None:
            return Skipped(why)
        lines = doc.text.split("\n")
        lo = max(0, doc.line - INDENT_SAMPLE_LINES // 2)
        sample = "\n".join(lines[lo : lo + INDENT_SAMPLE_LINES])
        cursor = CursorContext(
            prefix=prefix[-4000:],
            suffix=suffix[:4000],
            crlf="\r\n" in doc.text,
            indent_unit=detect_indent_unit(sample),
            multiline=shape.multiline,
        )
        return Plan(uri, doc, prefix, suffix, shape, cursor, explicit)

    # -- step 2: the model -------------------------------------------------------------------
    def _ranking(self, plan: Plan, template: FimTemplate, first: bool) -> tuple[int, str]:
        """Branches and the text they are ranked by, for a prompt that cannot show the code
        after the cursor: one line (at the end of a line) with code below it, when asked for
        or, where the setting says so, while typing. Not a block: the code after a block
        dedents, which an empty or unfinished block fits best."""
        n = self.options.rank_branches
        single = not plan.shape.multiline and not plan.cursor.line_after.strip()
        wanted = plan.explicit or self.options.rank_while_typing
        if not first or n < 2 or template.uses_suffix or not single or not wanted:
            return 1, ""
        follow = follow_lines(plan.suffix)
        return (n, follow) if follow.strip() else (1, "")

    def _builder(self, plan: Plan, sampling: SamplingParams, first: bool) -> PromptBuilder:
        options = self.options

        def build(backend: Backend) -> tuple[list[int], GenerationRequest]:
            template = self.engine.fim_template(backend)
            if plan.context is None or first:
                plan.context = self.context.build(
                    backend,
                    template,
                    plan.doc,
                    budget_tokens=options.budget_tokens,
                    max_tokens=options.max_tokens,
                    deadline=time.monotonic() + CONTEXT_TIME_S,
                    # A speculation is a guess about where the user goes: the context it
                    # picks must not become what the user's own next request keeps.
                    remember=not plan.speculative,
                )
                plan.specials = tuple(template.stop) + tuple(template.required)
            stops, stop_ids = fim_stops(backend, template)
            if not plan.shape.multiline and backend.remote:  # in process: answer_end says
                stops = (*stops, "\n")
            branches, follow = self._ranking(plan, template, first)
            request = GenerationRequest(
                max_tokens=options.max_tokens,
                stop=stops,
                stop_ids=stop_ids,
                time_budget_s=options.time_budget_s,
                sampling=sampling,
                prefill_chunk=BACKGROUND_PREFILL_CHUNK if plan.speculative else None,
                tail_budget=options.suffix_reuse_tokens,
                # Asked for, the answer is exact greedy decoding: a batch of checked guesses
                # computes its logits slightly differently from one-token steps, which flips
                # near-ties (the README sample's last line); typing keeps the speed.
                draft_tokens=0 if plan.explicit else options.draft_tokens,
                stop_check=lambda text: answer_end(text, plan.cursor),
                branches=branches,
                follow=follow,
            )
            return plan.context.tokens, request

        return build

    def submit(self, plan: Plan, *, candidates: int = 1) -> list[JobHandle[Generation]]:
        """Queue the generations; a newer request for the same document supersedes them."""
        handles = []
        for i in range(max(1, candidates)):
            sampling = self.options.sampling
            if i > 0:
                sampling = replace(
                    sampling, temperature=max(sampling.temperature, ALT_TEMPERATURE), seed=i
                )
            build = self._builder(plan, sampling, first=i == 0)
            handles.append(
                self.engine.submit(
                    Role.COMPLETION,
                    build,
                    group=plan.uri,
                    supersede=i == 0,
                    background=plan.speculative,
                )
            )
        return handles

    # -- step 3: clean up --------------------------------------------------------------------
    def finish(self, plan: Plan, generations: list[Generation]) -> Outcome:
        items: list[str] = []
        rules: list[list[str]] = []
        for gen in generations:
            if gen.stop_reason is StopReason.CANCELLED:
                continue
            text = gen.text
            if gen.stop_reason is StopReason.TIME and plan.shape.multiline and "\n" in text:
                text = text[: text.rfind("\n")]  # out of time: end at the last whole line
            text, changed = postprocess_steps(text, plan.cursor, plan.specials)
            rules.append(changed)
            if text and text not in items:
                items.append(text)
        outcome = Outcome(tuple(items), generations, rules)
        if items:
            self.cache.put(plan.uri, plan.prefix, plan.suffix, outcome.items)
        return outcome

    # -- speculation and warm-up -------------------------------------------------------------
    def speculate(self, uri: str, doc: DocumentView, accepted: str) -> Plan | None:
        """The plan for the position after `accepted` is taken as is (its suggestion is then
        cached before the user gets there); None when that place is cached or skipped."""
        before = doc.text[: doc.offset] + accepted
        text = before + doc.text[doc.offset :]
        line = before.count("\n")
        character = len(before) - (before.rfind("\n") + 1)
        doc = replace(doc, text=text, line=line, character=character)
        nxt = self.plan(uri, doc, explicit=False)
        if not isinstance(nxt, Plan):
            return None
        nxt.speculative = True
        return nxt

    def warm(self, uri: str, doc: DocumentView) -> JobHandle[int]:
        """Evaluate the prompt for `doc`'s cursor without generating."""
        options = self.options

        def build(backend: Backend) -> list[int]:
            template = self.engine.fim_template(backend)
            ctx = self.context.build(
                backend,
                template,
                doc,
                budget_tokens=options.budget_tokens,
                max_tokens=options.max_tokens,
                deadline=time.monotonic() + CONTEXT_TIME_S,
            )
            return ctx.tokens

        return self.engine.warm(
            Role.COMPLETION, build, group=uri, tail_budget=options.suffix_reuse_tokens
        )
