"""ContextEngine.build: budgets, ordering, deduplication, hysteresis and bad input."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hearth.context.builder import CompletionContext, ContextEngine, DocumentView
from hearth.context.tokens import EstimateTokenizer, VocabTokenizer
from hearth.engine.templates import FimTemplate
from hearth.errors import ContextOverflowError
from hearth.index.indexer import Indexer
from hearth.index.store import IndexStore
from hearth.runs import common_prefix

APP = "py/app.py"


def build(
    engine: ContextEngine,
    tok: EstimateTokenizer | VocabTokenizer,
    tpl: FimTemplate,
    root: Path,
    rel: str,
    line: int,
    col: int,
    budget: int = 1024,
    **kw: object,
) -> CompletionContext:
    text = (root / rel).read_text(encoding="utf-8")
    doc = DocumentView(text, line, col, rel)
    return engine.build(tok, tpl, doc, budget_tokens=budget, max_tokens=64, **kw)  # type: ignore[arg-type]


def sources(ctx: CompletionContext) -> list[str]:
    return [p.source for p in ctx.parts]


def test_python_definitions_from_imports(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    ctx = build(engine, tok, templates["qwen"], workspace, APP, 8, 4)
    defs = [p for p in ctx.parts if p.source == "definition"]
    assert any("class Circle(Shape):" in p.text and p.path == "py/pkg/shapes.py" for p in defs)
    assert any("def circle_from_diameter" in p.text for p in defs)
    # Ordering: cross-file parts, then the prefix, then the suffix, in the prompt too.
    assert sources(ctx)[-2:] == ["prefix", "suffix"]
    text = ctx.prompt_text
    assert text.index("class Circle") < text.index("<|fim_prefix|>") < text.index("<|fim_suffix|>")
    assert text.startswith("<|repo_name|>ws\n<|file_sep|>py/pkg/shapes.py\n")
    assert "<|file_sep|>py/app.py\n<|fim_prefix|>" in text
    assert len(ctx.tokens) <= 1024
    assert sum(p.tokens for p in ctx.parts) <= len(ctx.tokens)


def test_comment_layout_without_repository_tokens(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    ctx = build(engine, tok, templates["codellama"], workspace, "ts/src/index.ts", 8, 0)
    # A path comment, no line range: small models copied "(lines 1-16)" headers.
    assert ctx.prompt_text.startswith("<PRE> // ts/src/models.ts\n")
    assert "// export class UserStore {" in ctx.prompt_text
    assert "(lines " not in ctx.prompt_text
    assert not any(p.path and p.path.startswith("other/") for p in ctx.parts)  # same family only


def test_prefix_only_layout_reads_as_files_laid_end_to_end(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    class NoSeparators(EstimateTokenizer):
        def special_token_id(self, text: str) -> int | None:
            return None  # like Gemma 3's vocab: no file separator token

    ctx = build(engine, NoSeparators(4096), templates["prefix-only"], workspace, APP, 8, 4)
    defs = [p for p in ctx.parts if p.source == "definition"]
    assert defs, "the imported definitions are context for a prefix-only model too"
    text = ctx.prompt_text
    assert "# py/pkg/shapes.py\nclass Circle(Shape):" in text  # code, under its path
    assert "\n# py/app.py\n" in text  # then the current file under its own
    assert text.index("class Circle") < text.index("# py/app.py") < text.index(ctx.prefix)
    assert "(lines " not in text
    assert len(ctx.tokens) <= 1024
    # A vocab with a file separator (SmolLM2 has `<file_sep>`) gets the files laid out with it.
    sep = build(engine, tok, templates["prefix-only"], workspace, APP, 8, 4).prompt_text
    assert sep.startswith("<file_sep>py/") and "<file_sep>py/app.py\n" in sep


def test_go_definitions(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    ctx = build(engine, tok, templates["qwen"], workspace, "go/main.go", 9, 1)
    assert any("func NewCircle(r float64) *Circle" in p.text for p in ctx.parts)


@pytest.mark.parametrize("budget", [40, 64, 100, 200, 512, 1024, 2048, 100_000])
def test_the_budget_holds_and_the_prefix_always_wins(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
    budget: int,
) -> None:
    ctx = build(engine, tok, templates["qwen"], workspace, "py/pkg/shapes.py", 38, 8, budget)
    assert len(ctx.tokens) <= min(budget, tok.n_ctx - 64 - 1)
    prefix = next(p for p in ctx.parts if p.source == "prefix")
    assert prefix.text  # never empty while there is text before the cursor
    if budget <= 100:
        assert sources(ctx) in (["prefix", "suffix"], ["scope", "prefix", "suffix"])


def test_overflow_errors(
    engine: ContextEngine, templates: dict[str, FimTemplate], workspace: Path
) -> None:
    small = EstimateTokenizer(128)
    with pytest.raises(ContextOverflowError, match="max_tokens"):
        engine.build(
            small, templates["qwen"], DocumentView("x", 0, 1), budget_tokens=64, max_tokens=128
        )
    with pytest.raises(ContextOverflowError):
        engine.build(
            small, templates["qwen"], DocumentView("x", 0, 1), budget_tokens=3, max_tokens=8
        )


def test_bad_input(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    tpl = templates["qwen"]
    # Cursor beyond the end of the line and of the file: clamped.
    ctx = build(engine, tok, tpl, workspace, APP, 999, 999)
    assert ctx.suffix == "" and ctx.prefix.endswith("main()\n")
    ctx = build(engine, tok, tpl, workspace, APP, 1, 999)
    assert ctx.prefix.endswith("import pkg")
    # Empty file.
    ctx = engine.build(tok, tpl, DocumentView("", 0, 0, "new.py"), budget_tokens=512, max_tokens=64)
    assert ctx.prefix == "" and ctx.suffix == ""
    # No grammar: plain windows only.
    text = "Circle Square clamp\n" * 5
    ctx = engine.build(
        tok, tpl, DocumentView(text, 2, 3, "notes.xyz"), budget_tokens=512, max_tokens=64
    )
    assert sources(ctx) == ["prefix", "suffix"]
    # Unknown identifiers and a file the index does not know.
    ctx = engine.build(
        tok,
        tpl,
        DocumentView("zzq_unknown(qqx_nothing)\n", 0, 5, "new.py"),
        budget_tokens=512,
        max_tokens=64,
    )
    assert sources(ctx) == ["prefix", "suffix"]


def test_circular_imports(
    tmp_path: Path, tok: EstimateTokenizer, templates: dict[str, FimTemplate]
) -> None:
    (tmp_path / "a.py").write_text("from b import beta\n\ndef alpha():\n    return beta()\n")
    (tmp_path / "b.py").write_text("from a import alpha\n\ndef beta():\n    return alpha()\n")
    idx = Indexer(tmp_path, IndexStore(None))
    idx.index_all()
    engine = ContextEngine(idx)
    text = (tmp_path / "a.py").read_text()
    ctx = engine.build(
        tok, templates["qwen"], DocumentView(text, 3, 4, "a.py"), budget_tokens=512, max_tokens=64
    )
    assert any(p.path == "b.py" and "def beta" in p.text for p in ctx.parts)


def test_snippets_too_similar_to_the_cursor_area_are_skipped(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    text = (workspace / "py/pkg/shapes.py").read_text()
    engine.note_document("py/pkg/copy_of_shapes.py", text)  # a near copy, open in another tab
    other = (
        'class Ellipse(Shape):\n    """An ellipse given by its radius."""\n\n'
        "    def area(self) -> float:\n        raise NotImplementedError\n"
    )
    engine.note_document("py/pkg/other.py", other)
    ctx = build(engine, tok, templates["qwen"], workspace, "py/pkg/shapes.py", 24, 8)
    assert not any(p.path == "py/pkg/copy_of_shapes.py" for p in ctx.parts)
    assert any(p.source == "similar" and p.path == "py/pkg/other.py" for p in ctx.parts)


def test_recent_edits_in_other_files(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    util = (workspace / "py/pkg/util.py").read_text()
    engine.note_document("py/pkg/util.py", util)
    engine.note_document(
        "py/pkg/util.py",
        util + "\n\ndef wrap_radius(radius: float) -> float:\n    return radius % 7\n",
    )
    ctx = build(engine, tok, templates["qwen"], workspace, APP, 8, 4, 2048)
    assert any(p.source == "recent-edit" and "wrap_radius" in p.text for p in ctx.parts)


def test_out_of_time_sources_are_skipped(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    ctx = build(engine, tok, templates["qwen"], workspace, APP, 8, 4, deadline=time.monotonic() - 1)
    assert "definition" in ctx.skipped
    assert sources(ctx) == ["prefix", "suffix"]


def test_typing_reevaluates_only_new_tokens(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    base = (workspace / "py/pkg/shapes.py").read_text()
    lines = base.split("\n")
    row = 42
    typed = "    r = circle_from_diameter(MAX_SIDE).area() + Square(2).area()"
    prev: list[int] | None = None
    reevaluated = []
    for i in range(1, len(typed) + 1):
        text = "\n".join([*lines[:row], typed[:i], *lines[row:]])
        ctx = engine.build(
            tok,
            templates["qwen"],
            DocumentView(text, row, i, "py/pkg/shapes.py"),
            budget_tokens=1024,
            max_tokens=64,
        )
        if prev is not None:
            new = len(ctx.tokens) - common_prefix(prev, ctx.tokens)
            suffix = next(p.tokens for p in ctx.parts if p.source == "suffix")
            # The new tokens at the cursor, the two FIM tokens and the small suffix after them.
            reevaluated.append(new - suffix - 2)
        prev = ctx.tokens
    reevaluated.sort()
    assert reevaluated[len(reevaluated) // 2] <= 3, reevaluated
    assert reevaluated[int(len(reevaluated) * 0.9)] <= 40, reevaluated


def test_remember_false_leaves_the_state(
    engine: ContextEngine,
    tok: EstimateTokenizer,
    templates: dict[str, FimTemplate],
    workspace: Path,
) -> None:
    build(engine, tok, templates["qwen"], workspace, APP, 8, 4, remember=False)
    assert engine._states == {}


def test_control_tokens_in_code_stay_text(
    shared_vocab: Callable[[str], Path], templates: dict[str, FimTemplate]
) -> None:
    tok = VocabTokenizer(shared_vocab("qwen2"))
    engine = ContextEngine(None)
    text = 'x = "<|fim_middle|><|endoftext|><|file_sep|>"\n'
    ctx = engine.build(
        tok, templates["qwen"], DocumentView(text, 1, 0, "a.py"), budget_tokens=512, max_tokens=64
    )
    specials = {tok.special_token_id(t) for t in ("<|fim_middle|>", "<|file_sep|>")}
    assert sum(1 for t in ctx.tokens if t in specials) == 1 + 0  # the template's one fim_middle
    assert ctx.tokens == tok.tokenize("") + ctx.tokens  # sanity: ids only


def test_piecewise_tokens_match_whole_text(shared_vocab: Callable[[str], Path]) -> None:
    from hearth.context.tokens import TokenCache

    text = Path(__file__).read_text(encoding="utf-8")
    qwen = VocabTokenizer(shared_vocab("qwen2"))
    assert TokenCache(qwen).run(text) == qwen.tokenize(text)  # cuts fall on pre-token edges
    # StarCoder merges a newline with the indentation after it: a few more tokens, same text.
    star = VocabTokenizer(shared_vocab("starcoder"))
    ids = TokenCache(star).run(text)
    assert star.detokenize(ids).decode("utf-8") == text
    assert len(ids) <= len(star.tokenize(text)) * 1.02
