"""`hearth.showContext`: what the model would see at a position, for the editor to show.

Thin glue: arguments and documents from the LSP side, the payload from hearth.context.describe.
Counts use the loaded completion model's tokenizer, or a stated estimate while none is loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygls.uris import to_fs_path

from hearth.context.builder import DocumentView
from hearth.context.describe import Counter, estimated_counter, show_context
from hearth.errors import UsageError

if TYPE_CHECKING:
    from hearth.lsp.server import HearthServer

log = logging.getLogger(__name__)


def _counter(ls: HearthServer) -> Counter:
    model = getattr(ls, "model", None)
    backend = getattr(model, "backend", None)
    engine = getattr(model, "engine", None)
    if backend is not None and engine is not None:
        return Counter(backend, engine.fim_template(backend), estimated=False)
    return estimated_counter(ls.settings)


def show_context_command(ls: HearthServer, args: list[Any]) -> dict[str, Any]:
    """Arguments: [{"uri": str, "position": {"line": int, "character": int}}]."""
    arg = args[0] if args and isinstance(args[0], dict) else None
    pos = arg.get("position") if arg else None
    if not arg or not isinstance(arg.get("uri"), str) or not isinstance(pos, dict):
        raise UsageError(
            "hearth.showContext needs [{uri, position}]",
            "pass the document URI and an LSP position",
        )
    uri = arg["uri"]
    # Only documents the editor opened: `get_text_document` would read an unopened URI from
    # disk, and a URI can name any file (`file:///ws/../etc/passwd`).
    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        raise UsageError(
            "hearth.showContext works on open documents only",
            "open the file in the editor first",
        )
    if ls.completion.is_secret_uri(uri):
        raise UsageError(
            "Hearth builds no prompt from a secret file (.env, keys, credentials)",
            "see indexSecretPatterns in the README",
        )
    refused = ls.guard.check(uri, doc.source, doc.version)
    if refused is not None:  # too large or binary-looking (lsp/document_guard.py)
        raise refused.error()
    text = ls.guard.prompt_text(uri, doc.source, doc.version)  # same length as the source
    line = int(pos.get("line", 0))
    lines = text.split("\n")
    row = min(max(line, 0), len(lines) - 1)
    # LSP characters are UTF-16 units; the context engine counts code points.
    units = int(pos.get("character", 0))
    col = 0
    for ch in lines[row]:
        units -= 2 if ord(ch) > 0xFFFF else 1
        if units < 0:
            break
        col += 1
    relpath = None
    fs = to_fs_path(uri)
    if fs and ls.root is not None:
        try:
            relpath = Path(fs).resolve().relative_to(ls.root.resolve()).as_posix()
        except ValueError:
            relpath = None
    engine = ls.completion.context
    return show_context(
        engine,
        _counter(ls),
        DocumentView(text, row, col, relpath),
        budget_tokens=ls.settings.context_budget_tokens,
        max_tokens=ls.settings.max_tokens,
    )
