"""The time box: content-defined token pieces shared by every window, documents tokenized when
noted, the whole-index query off the critical path, and the deadline as a bound on build time."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hearth.context.builder import ContextEngine, DocumentView
from hearth.context.snippet import Snippet
from hearth.context.tokens import EstimateTokenizer, TokenCache, VocabTokenizer, pieces
from hearth.engine.templates import FimTemplate
from hearth.index.indexer import Indexer

SOURCE = Path(__file__).resolve().parents[2] / "server" / "hearth" / "context" / "builder.py"


class Counting(EstimateTokenizer):
    def __init__(self) -> None:
        super().__init__(4096)
        self.chars = 0

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        self.chars += len(text)
        return super().tokenize(text, add_bos=add_bos)


def test_windows_share_the_documents_pieces() -> None:
    text = SOURCE.read_text(encoding="utf-8")
    whole = pieces(text)
    assert len(whole) > 10
    assert "".join(whole) == text
    starts = set()
    pos = 0
    for p in whole:
        starts.add(pos)
        pos += len(p)
    lines = text.split("\n")
    for first in (3, 57, 190, 401):
        offset = sum(len(ln) + 1 for ln in lines[:first])
        window = pieces(text[offset:])
        assert "".join(window) == text[offset:]
        # After its first piece, a window is cut where the whole document is.
        at = offset + len(window[0])
        later = window[1:]
        for p in later:
            assert at in starts
            at += len(p)


def test_warm_cache_gives_the_tokens_of_a_cold_one() -> None:
    text = SOURCE.read_text(encoding="utf-8")
    lines = text.split("\n")
    tok = Counting()
    warm = TokenCache(tok)
    warm.run(text)
    for first, last in ((10, 200), (150, 420), (0, len(lines))):
        window = "\n".join(lines[first:last])
        assert warm.run(window) == TokenCache(EstimateTokenizer(4096)).run(window)


def test_piecewise_tokens_equal_plain_tokens_on_any_window(
    shared_vocab: Callable[[str], Path],
) -> None:
    qwen = VocabTokenizer(shared_vocab("qwen2"))
    text = SOURCE.read_text(encoding="utf-8")
    lines = text.split("\n")
    warm = TokenCache(qwen)
    warm.run(text)
    for first, last in ((0, len(lines)), (33, 240), (201, 377)):
        window = "\n".join(lines[first:last])
        assert warm.run(window) == qwen.tokenize(window)


def test_a_noted_document_is_tokenized_once(
    indexer: Indexer, templates: dict[str, FimTemplate]
) -> None:
    text = SOURCE.read_text(encoding="utf-8")
    tok = Counting()
    engine = ContextEngine(indexer, index_similar=False)
    engine.prepare(tok, text)
    assert tok.chars >= len(text)
    tok.chars = 0
    lines = text.split("\n")
    row = 300
    doc = DocumentView(text, row, len(lines[row]), "builder.py", "python")
    ctx = engine.build(tok, templates["qwen"], doc, budget_tokens=2048, max_tokens=64)
    prefix = next(p for p in ctx.parts if p.source == "prefix")
    # Only the window's first piece, the cursor's and the suffix meet the tokenizer again.
    assert tok.chars < len(prefix.text) / 2, (tok.chars, len(prefix.text))
    # Later edits: note_document re-tokenizes only the changed piece.
    edited = "\n".join([*lines[:row], lines[row] + "  # edited", *lines[row + 1 :]])
    tok.chars = 0
    engine.note_document("builder.py", edited)
    assert tok.chars < 3000


def test_a_slow_index_query_is_not_waited_for_and_serves_the_next_build(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = Snippet("similar", "py/pkg/shapes.py", 0, 2, "def slow_one():\n    pass\n", 0.9)

    def query(query_text: str, relpath: str | None) -> list[Snippet]:
        time.sleep(0.3)
        return [slow]

    monkeypatch.setattr(engine, "_query_index_similar", query)
    text = (workspace / "py/app.py").read_text(encoding="utf-8")
    doc = DocumentView(text, 8, 4, "py/app.py")
    box = 0.03
    t0 = time.monotonic()
    ctx = engine.build(
        tok, templates["qwen"], doc, budget_tokens=1024, max_tokens=64, deadline=t0 + box
    )
    took = time.monotonic() - t0
    assert "similar (index)" in ctx.skipped
    assert took < box + 0.2, took  # the deadline bounds the build, not the 0.3 s source
    time.sleep(0.4)  # the query finishes in the background ...
    again = engine.build(
        tok,
        templates["qwen"],
        doc,
        budget_tokens=1024,
        max_tokens=64,
        deadline=time.monotonic() + 1.0,
    )
    # ... and the next keystroke on the same line gets its result without waiting.
    assert "similar (index)" not in again.skipped
    assert [slow] in engine._similar.values()


def test_snippets_too_slow_to_tokenize_are_left_out(
    engine: ContextEngine,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    class Slow(Counting):
        def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
            time.sleep(len(text) * 200e-6)  # ~0.2 s per 1,000 characters
            return super().tokenize(text, add_bos=add_bos)

    tok = Slow()
    text = (workspace / "py/app.py").read_text(encoding="utf-8")
    engine.prepare(tok, text)  # also teaches the cache the tokenizer's speed
    engine.prepare(tok, (workspace / "py/pkg/shapes.py").read_text(encoding="utf-8"))
    doc = DocumentView(text, 8, 4, "py/app.py")
    box = 0.05
    t0 = time.monotonic()
    ctx = engine.build(
        tok, templates["qwen"], doc, budget_tokens=2048, max_tokens=64, deadline=t0 + box
    )
    took = time.monotonic() - t0
    assert any(s.endswith("(out of time)") or s == "definition" for s in ctx.skipped), ctx.skipped
    # Tokenizing every chosen snippet would take about a second with this tokenizer; the
    # bound is loose so that a loaded machine cannot fail it, yet far below that.
    assert took < box + 0.15, took
    assert ctx.parts[-2].source == "prefix"
