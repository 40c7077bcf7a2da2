"""Explain and Review on the engine's chat model: prompt, stream, and read the answer.

Both run as chat-role jobs on the single inference worker (so a completion pauses them, and
they resume intact). The prompt is built on the worker, where the loaded model is known: its
chat format, its context size, and whether it can constrain output to the findings schema.
A selection too long for the context is cut, and the answer says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from hearth.assist.chat import ChatPrompt, format_chat
from hearth.assist.findings import Finding, ParsedReview, parse_review, schema_json
from hearth.assist.prompts import load_prompt, render
from hearth.assist.sanitize import sanitize, strip_controls
from hearth.assist.selection import Selection
from hearth.engine.backend import Backend, SamplingParams
from hearth.engine.generate import Generation, GenerationRequest, StopReason
from hearth.engine.service import Engine, Role
from hearth.engine.worker import JobHandle
from hearth.errors import ContextOverflowError

if TYPE_CHECKING:
    from hearth.settings import Settings

# Leave at least this many tokens of the context for the answer.
MIN_ANSWER_TOKENS = 64


class Kind(str, Enum):
    EXPLAIN = "explain"
    REVIEW = "review"


@dataclass(frozen=True)
class AssistOptions:
    max_tokens: int = 768
    time_budget_s: float | None = 120.0
    chat_template: str = "auto"
    sampling: SamplingParams = field(default_factory=SamplingParams)

    @classmethod
    def from_settings(cls, settings: Settings) -> AssistOptions:
        return cls(
            max_tokens=settings.chat_max_tokens,
            time_budget_s=settings.chat_time_budget_ms / 1000,
            chat_template=settings.chat_template,
            sampling=SamplingParams.from_settings(settings),
        )


@dataclass
class Prepared:
    """What the worker decided while building the prompt (read after the job started)."""

    first: int = 0  # 1-based first line shown to the model
    last: int = 0  # 1-based last line shown to the model (the selection may be cut)
    note: str = ""  # shown to the user above the answer when the selection was cut
    template: str = ""
    backend: str = ""
    prompt_tokens: int = 0
    constrained: bool = False  # output held to the findings schema by a grammar


@dataclass
class AssistJob:
    kind: Kind
    selection: Selection
    handle: JobHandle[Generation]
    prepared: Prepared

    def cancel(self) -> None:
        self.handle.cancel()

    def result(self, timeout: float | None = None) -> Generation:
        return self.handle.result(timeout)


@dataclass
class ReviewResult:
    findings: list[Finding]
    message: str
    first: int
    last: int
    raw: str
    parsed: ParsedReview

    def as_json(self, path: str) -> dict[str, object]:
        return {
            "path": path,
            "lines": [self.first, self.last],
            "message": self.message,
            "findings": [f.as_json() for f in self.findings],
            "dropped": self.parsed.dropped,
        }


def _user_prompt(kind: Kind, sel: Selection, last: int, related: list[str], note: str) -> str:
    context = render("context", items="\n".join(related)) if related else ""
    if kind is Kind.REVIEW:
        code = sel.numbered(upto=last)
    else:
        code = "\n".join(ln.rstrip("\r") for ln in sel.lines[: last - sel.start_line + 1])
    return render(
        kind.value,
        language=sel.language or "text",
        path=sel.path,
        start_line=str(sel.start_line + 1),
        end_line=str(last + 1),
        fence=sel.language or "",
        code=code,
        context=context,
        note=f"\n{note}\n" if note else "",
    )


def start(
    engine: Engine,
    kind: Kind,
    sel: Selection,
    options: AssistOptions,
    *,
    related: list[str] | None = None,
    on_text: Callable[[str], None] | None = None,
) -> AssistJob:
    """Queue an explanation or review of `sel`; text streams to `on_text` as it comes."""
    prepared = Prepared()
    related = list(related or [])

    def build(backend: Backend) -> tuple[list[int], GenerationRequest]:
        max_tokens = min(options.max_tokens, max(MIN_ANSWER_TOKENS, backend.n_ctx // 2))
        budget = backend.n_ctx - max_tokens
        system = load_prompt("system").strip()
        last, extra, note = sel.end_line, related, ""
        while True:
            user = _user_prompt(kind, sel, last, extra, note)
            if backend.remote:  # the server applies its model's chat template
                chat = _server_chat(backend, system, user)
            else:
                chat = format_chat(backend, system, user, setting=options.chat_template)
            if len(chat.tokens) <= budget:
                break
            if extra:  # context goes first: the selection is what was asked about
                extra = []
                continue
            if last == sel.start_line:
                raise ContextOverflowError(
                    f"even one line of the selection does not fit the model's context "
                    f"({backend.n_ctx} tokens, {max_tokens} kept for the answer)",
                    "raise context_length, or lower chat_max_tokens",
                )
            last = sel.start_line + (last - sel.start_line) // 2
            note = (
                f"Note: the selection is too long for the model's context; only lines "
                f"{sel.start_line + 1}-{last + 1} of {sel.start_line + 1}-{sel.end_line + 1} "
                "are included."
            )
        sampling = options.sampling
        grammar = backend.json_schema_grammar(schema_json()) if kind is Kind.REVIEW else None
        if grammar is not None:
            sampling = SamplingParams(**{**sampling.__dict__, "grammar": grammar})
        prepared.first, prepared.last = sel.start_line + 1, last + 1
        prepared.note = f"> {note}\n\n" if note else ""
        prepared.template = chat.template
        prepared.backend = backend.name
        prepared.prompt_tokens = len(chat.tokens)
        prepared.constrained = grammar is not None
        request = GenerationRequest(
            max_tokens=max_tokens,
            stop=chat.stop,
            stop_ids=chat.stop_ids,
            time_budget_s=options.time_budget_s,
            sampling=sampling,
            messages=(("system", system), ("user", user)) if backend.remote else (),
        )
        return chat.tokens, request

    started = [False]

    def emit(chunk: str) -> None:
        if on_text is None:
            return
        chunk = strip_controls(chunk)  # model text must not drive a terminal
        if not started[0]:
            started[0] = True
            if kind is Kind.EXPLAIN and prepared.note:
                chunk = prepared.note + chunk
        on_text(chunk)

    handle = engine.submit(Role.CHAT, build, on_text=emit if on_text else None)
    return AssistJob(kind, sel, handle, prepared)


# Tokens a chat template adds around two turns (role markers, separators): an allowance,
# since a server applies the template itself.
CHAT_TEMPLATE_ALLOWANCE = 32


def _server_chat(backend: Backend, system: str, user: str) -> ChatPrompt:
    """A chat prompt for a remote server: sized for the budget, sent as messages."""
    tokens = backend.tokenize(system) + backend.tokenize(user)
    tokens += [0] * CHAT_TEMPLATE_ALLOWANCE  # only the count matters: messages are sent
    return ChatPrompt(tokens=tokens, template="server", stop=(), stop_ids=frozenset())


_ENDINGS = {
    StopReason.MAX_TOKENS: "the answer reached the token limit (chat_max_tokens)",
    StopReason.TIME: "the answer reached the time limit (chat_time_budget_ms)",
    StopReason.CONTEXT: "the model's context is full",
}


def stop_note(gen: Generation) -> str:
    """A visible line when the answer was cut short, else ""."""
    ending = _ENDINGS.get(gen.stop_reason)
    return f"_(stopped: {ending})_" if ending else ""


def explain_markdown(job: AssistJob, gen: Generation) -> str:
    """The explanation as the user sees it: the cut note, the text, and why it stopped early.
    Model text is untrusted: no images, raw HTML or `command:` links (assist/sanitize.py)."""
    text = sanitize(job.prepared.note + gen.text.strip())
    ending = stop_note(gen)
    return f"{text}\n\n{ending}" if ending else text


def review_result(job: AssistJob, gen: Generation) -> ReviewResult:
    first, last = job.prepared.first, job.prepared.last
    parsed = parse_review(gen.text, first, last)
    message = parsed.message(first, last)
    ending = _ENDINGS.get(gen.stop_reason)
    if ending and parsed.malformed:
        message += f" ({ending})"
    # The message quotes model output when it explains what was dropped.
    return ReviewResult(parsed.findings, sanitize(message), first, last, gen.text, parsed)
