"""Receiver resolution: the class behind `self.x.`, `this.#y.` or `var.` at the cursor."""

from __future__ import annotations

import time
from pathlib import Path

from hearth.context.builder import ContextEngine, DocumentView
from hearth.context.receivers import (
    attribute_type,
    class_bases,
    enclosing_class,
    receiver_chain,
    return_type,
    type_names,
    variable_type,
)
from hearth.context.tokens import EstimateTokenizer
from hearth.engine.templates import FimTemplate
from hearth.index.indexer import Indexer
from hearth.index.store import IndexStore

PY_OWNER = """\
from .console import Console
from .base import Base


class Panel(Base):
    def __init__(self, console: "Console | None" = None, style=None) -> None:
        self.console = console or Console()
        self.style = style

    def render(self, options: Options) -> None:
        x = 1
"""


def test_receiver_chain() -> None:
    assert receiver_chain("        self.console.pri") == (["self", "console"], "pri")
    assert receiver_chain("x = this.#client.getQueryCache().") == (
        ["this", "#client", "getQueryCache()"],
        "",
    )
    assert receiver_chain("  config.onError?.") == (["config", "onError"], "")
    assert receiver_chain("foo(") is None
    assert receiver_chain("") is None


def test_type_names_and_bases() -> None:
    assert type_names('Optional["Console"]') == ["Console"]
    assert type_names("Map<string, Query>") == ["Query"]
    assert class_bases("(JupyterMixin, metaclass=ABCMeta):") == ["JupyterMixin"]
    assert class_bases("(object):") == []
    assert class_bases("<T> extends Subscribable<Listener<A, B>> implements X, Y {") == [
        "Subscribable",
        "X",
        "Y",
    ]
    assert return_type("def get(self) -> Optional[Style]") == "Style"
    assert return_type("getQueryCache(): QueryCache {") == "QueryCache"
    assert return_type("def f(self)") is None


def test_enclosing_class_and_attribute_types() -> None:
    lines = PY_OWNER.split("\n")
    row = lines.index("        x = 1")
    assert enclosing_class(lines, row) == (4, "Panel", ["Base"])
    assert enclosing_class(lines, 0) is None
    # `self.console = console or Console()`: the constructor call names the class.
    assert attribute_type(lines, 4, len(lines) - 1, "console") == "Console"
    assert attribute_type(lines, 4, len(lines) - 1, "style") is None
    assert variable_type(lines, row, "options") == "Options"
    ts = [
        "export class QueryObserver<",
        "  TData = unknown,",
        "> extends Subscribable<Listener<TData>> {",
        "  #client: QueryClient",
        "  #current?: Mutation<TData>",
        "  run() {",
        "    this.#client.",
        "  }",
        "}",
    ]
    assert enclosing_class(ts, 6) == (0, "QueryObserver", ["Subscribable"])
    assert attribute_type(ts, 0, 8, "#client") == "QueryClient"
    assert attribute_type(ts, 0, 8, "current") == "Mutation"


CONSOLE = (
    "class Console:\n"
    '    """Writes to the terminal."""\n'
    + "".join(
        f"    def method_{i}(self, value: int) -> int:\n        return value + {i}\n\n"
        for i in range(40)
    )
    + "    def print_rich(self, *objects: object) -> None:\n        pass\n"
)
BASE = (
    "class Base:\n"
    + "".join(f"    def helper_{i}(self) -> None:\n        pass\n\n" for i in range(20))
    + "    def base_only(self) -> int:\n        return 1\n"
)


def _workspace(tmp_path: Path) -> Indexer:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "console.py").write_text(CONSOLE)
    (root / "pkg" / "base.py").write_text(BASE)
    (root / "pkg" / "panel.py").write_text(PY_OWNER)
    idx = Indexer(root, IndexStore(None))
    idx.index_all()
    return idx


def _defs(engine: ContextEngine, text: str, tpl: FimTemplate, **kw: object) -> list[str]:
    lines = text.split("\n")
    row = len(lines) - 1
    doc = DocumentView(text, row, len(lines[row]), "pkg/panel.py")
    ctx = engine.build(
        EstimateTokenizer(4096),
        tpl,
        doc,
        budget_tokens=2048,
        max_tokens=64,
        **kw,  # type: ignore[arg-type]
    )
    return [p.text for p in ctx.parts if p.source == "definition"]


def test_attribute_receiver_brings_the_class_outline(
    tmp_path: Path, templates: dict[str, FimTemplate]
) -> None:
    engine = ContextEngine(_workspace(tmp_path))
    # `print_rich` is the 41st method: beyond a plain outline's member cap, and no name near
    # the cursor says "Console" except through `self.console`.
    text = PY_OWNER + "        self.console."
    defs = _defs(engine, text, templates["qwen"])
    assert any("def print_rich(self, *objects: object) -> None:" in d for d in defs)


def test_self_receiver_brings_the_base_class(
    tmp_path: Path, templates: dict[str, FimTemplate]
) -> None:
    engine = ContextEngine(_workspace(tmp_path))
    text = PY_OWNER + "        self."
    defs = _defs(engine, text, templates["qwen"])
    assert any("def base_only(self) -> int:" in d for d in defs)


def test_sources_out_of_time_are_skipped_and_the_build_stays_in_the_box(
    tmp_path: Path, templates: dict[str, FimTemplate]
) -> None:
    engine = ContextEngine(_workspace(tmp_path))
    text = PY_OWNER + "        self.console."
    lines = text.split("\n")
    doc = DocumentView(text, len(lines) - 1, len(lines[-1]), "pkg/panel.py")
    tok = EstimateTokenizer(4096)
    late = engine.build(
        tok, templates["qwen"], doc, budget_tokens=2048, max_tokens=64, deadline=time.monotonic()
    )
    assert {"definition", "similar", "recent-edit"} <= set(late.skipped)
    assert [p.source for p in late.parts][-2:] == ["prefix", "suffix"]
    assert not [p for p in late.parts if p.source == "definition"]
    # With time enough, nothing is skipped and the receiver's class is there.
    ok = engine.build(
        tok,
        templates["qwen"],
        doc,
        budget_tokens=2048,
        max_tokens=64,
        deadline=time.monotonic() + 5.0,
    )
    assert ok.skipped == []
    assert any("print_rich" in p.text for p in ok.parts if p.source == "definition")


def test_estimates_only_tokenize_what_is_chosen(
    tmp_path: Path, templates: dict[str, FimTemplate]
) -> None:
    calls: list[str] = []

    class Counting(EstimateTokenizer):
        def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
            calls.append(text)
            return super().tokenize(text, add_bos=add_bos)

    engine = ContextEngine(_workspace(tmp_path))
    text = PY_OWNER + "        self.console."
    lines = text.split("\n")
    doc = DocumentView(text, len(lines) - 1, len(lines[-1]), "pkg/panel.py")
    ctx = engine.build(Counting(4096), templates["qwen"], doc, budget_tokens=4000, max_tokens=64)
    assert len(ctx.tokens) <= 4000
    chosen = {p.text for p in ctx.parts if p.source == "definition"}
    assert chosen
    # The prompt's own count matches the parts' counts: estimates never leak into the result.
    assert sum(p.tokens for p in ctx.parts) <= len(ctx.tokens)
