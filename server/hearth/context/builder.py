"""Assemble the prompt for a completion at a cursor: labelled parts fitted to a token budget.

This is the seam between the completion pipeline (LSP and CLI) and the context sources; the
callers only see `ContextEngine.build`, so sources can be added without touching them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hearth.completion.fim import fim_prompt_tokens
from hearth.engine.backend import Backend
from hearth.engine.templates import FimTemplate
from hearth.errors import ContextOverflowError

if TYPE_CHECKING:
    from hearth.index.indexer import Indexer

PREFIX_CHARS = 6000
SUFFIX_CHARS = 1500


@dataclass(frozen=True)
class DocumentView:
    """A document as the editor has it (unsaved text) and a cursor in it."""

    text: str
    line: int  # 0-based
    character: int  # 0-based, in code points
    relpath: str | None = None  # workspace-relative POSIX path, when inside the workspace
    language: str | None = None  # index language name ("python", ...), None when unknown

    @property
    def offset(self) -> int:
        """Code-point offset of the cursor, clamped into the document."""
        lines = self.text.split("\n")
        line = min(max(self.line, 0), len(lines) - 1)
        col = min(max(self.character, 0), len(lines[line].rstrip("\r")))
        return sum(len(ln) + 1 for ln in lines[:line]) + col


@dataclass(frozen=True)
class ContextPart:
    """One labelled piece of the prompt, for `hearth context` and `hearth.showContext`."""

    source: str  # "prefix", "suffix", "scope", "definition", "similar", "recent-edit"
    path: str | None
    start_line: int  # 0-based, inclusive
    end_line: int  # 0-based, inclusive
    text: str
    tokens: int


@dataclass
class CompletionContext:
    tokens: list[int]  # the whole prompt, ready for the engine
    prefix: str  # the local text before the cursor that the prompt ends (or FIM-ends) with
    suffix: str  # the local text after the cursor in the prompt
    parts: list[ContextPart] = field(default_factory=list)
    build_ms: float = 0.0


def window(prefix: str, suffix: str, prefix_chars: int, suffix_chars: int) -> tuple[str, str]:
    """Trim to whole lines: the last `prefix_chars` before and `suffix_chars` after."""
    if len(prefix) > prefix_chars:
        cut = prefix.find("\n", len(prefix) - prefix_chars)
        prefix = prefix[cut + 1 :] if cut != -1 else prefix[-prefix_chars:]
    if len(suffix) > suffix_chars:
        cut = suffix.rfind("\n", 0, suffix_chars)
        suffix = suffix[: cut + 1] if cut != -1 else suffix[:suffix_chars]
    return prefix, suffix


class ContextEngine:
    """Builds completion prompts; knows the index and what the user opened and edited."""

    def __init__(self, indexer: Indexer | None = None) -> None:
        self.indexer = indexer

    def note_document(self, relpath: str, text: str) -> None:
        """The user opened or edited `relpath` (feeds the similar-snippet and recent sources)."""

    def build(
        self,
        backend: Backend,
        template: FimTemplate,
        doc: DocumentView,
        *,
        budget_tokens: int,
        max_tokens: int,
        deadline: float | None = None,
    ) -> CompletionContext:
        """The prompt for `doc` at its cursor within `budget_tokens` (and the model's context
        minus `max_tokens`). `deadline` (time.monotonic()) bounds optional sources."""
        t0 = time.perf_counter()
        if max_tokens >= backend.n_ctx:
            raise ContextOverflowError(
                f"max_tokens ({max_tokens}) leaves no room for the prompt in a context of "
                f"{backend.n_ctx} tokens",
                "lower max_tokens or raise context_length",
            )
        budget = min(budget_tokens, backend.n_ctx - max_tokens - 1)
        offset = doc.offset
        pre, suf = window(doc.text[:offset], doc.text[offset:], PREFIX_CHARS, SUFFIX_CHARS)
        tokens = fim_prompt_tokens(backend, template, pre, suf)
        while len(tokens) > budget and len(pre) > 64:
            pre, suf = window(pre, suf, len(pre) // 2, len(suf) // 2)
            tokens = fim_prompt_tokens(backend, template, pre, suf)
        if len(tokens) > budget:
            raise ContextOverflowError(
                f"the prompt needs {len(tokens)} tokens; the budget is {budget}",
                "raise context_length or the context budget",
            )
        first = doc.text[:offset].count("\n")
        parts = [
            ContextPart(
                "prefix",
                doc.relpath,
                first - pre.count("\n"),
                first,
                pre,
                len(backend.tokenize(pre)) if pre else 0,
            ),
            ContextPart(
                "suffix",
                doc.relpath,
                first,
                first + suf.count("\n"),
                suf,
                len(backend.tokenize(suf)) if suf else 0,
            ),
        ]
        return CompletionContext(
            tokens, pre, suf, parts, build_ms=(time.perf_counter() - t0) * 1000
        )
