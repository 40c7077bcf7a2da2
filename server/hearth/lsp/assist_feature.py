"""Explain and Review in the editor: code actions, the two commands, diagnostics and quick fixes.

The commands stream the model's text as work-done progress (each report carries the full text
so far), stop when the client cancels the request or the progress, and return the result.
Review findings become diagnostics (source "hearth") that last until the next review of the
same lines or until the text they point at changes; each replacement is a quick fix.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.uris import to_fs_path

from hearth.assist.assistant import (
    AssistJob,
    AssistOptions,
    Kind,
    explain_markdown,
    review_result,
    start,
)
from hearth.assist.findings import Finding
from hearth.assist.related import related_definitions
from hearth.assist.sanitize import Stream
from hearth.assist.selection import Selection, enclosing_definition, select_at_cursor, select_lines
from hearth.engine.generate import StopReason
from hearth.errors import HearthError, ModelNotFoundError
from hearth.lsp.command_context import current_command
from hearth.lsp.document_guard import usable
from hearth.lsp.jsonvalue import plain

if TYPE_CHECKING:
    from hearth.engine.service import Engine
    from hearth.lsp.server import HearthServer

log = logging.getLogger(__name__)

SOURCE = "hearth"
EXPLAIN, REVIEW = "hearth.explain", "hearth.review"
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
# Hearth's own server error code for "the assistant failed" (inside the JSON-RPC server range).
ERROR_CODE = -32001


@dataclass
class Published:
    """A finding shown as a diagnostic, with the text it pointed at when it was published."""

    finding: Finding
    diagnostic: types.Diagnostic
    lines: list[str]  # the document's lines finding.line..finding.end_line at publish time


def _doc_lines(text: str) -> list[str]:
    return [ln.rstrip("\r") for ln in text.split("\n")]


def _units(text: str, encoding: str) -> int:
    from hearth.lsp.positions import units

    return units(text, encoding)


class AssistFeature:
    def __init__(self, server: HearthServer) -> None:
        self.server = server
        self.published: dict[str, list[Published]] = {}

    # -- engine ------------------------------------------------------------------------------
    def _engine(self) -> Engine:
        """The server's one engine (owned by the model feature); chat runs on its chat role."""
        model = getattr(self.server, "model", None)
        engine: Engine | None = getattr(model, "engine", None)
        if engine is None:
            info = getattr(model, "info", None)
            why = getattr(info, "message", None) or "no model is configured"
            raise ModelNotFoundError(
                f"Explain and Review need a chat model: {why}",
                "set hearth.chatModel (or hearth.model) to a local .gguf file",
            )
        return engine

    def _options(self) -> AssistOptions:
        return AssistOptions.from_settings(self.server.settings)

    # -- documents ---------------------------------------------------------------------------
    def _document(self, uri: str) -> tuple[str, str, str | None, str]:
        """(text, display path, language, position encoding) of a document the editor opened."""
        from hearth.index.languages import language_for_path

        # Only documents the editor opened: `get_text_document` would read an unopened URI
        # from disk, and a URI can name any file (`file:///ws/../etc/passwd`, a link out).
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None:
            raise JsonRpcInvalidParams(
                "Explain and Review work on open documents only: open the file in the editor"
            )
        if self.server.completion.is_secret_uri(uri):
            raise JsonRpcInvalidParams(
                "Hearth sends no secret file (.env, keys, credentials) to the model "
                "(see indexSecretPatterns in the README)"
            )
        text = doc.source
        refused = self.server.guard.check(uri, text, doc.version)
        if refused is not None:  # too large or binary-looking (lsp/document_guard.py)
            raise JsonRpcInvalidParams(refused.user_message())
        text = usable(text)  # no lone surrogates or NUL bytes; positions stay the same
        fs = to_fs_path(uri) or uri
        path = fs
        root = self.server.root
        if root is not None:
            try:
                path = Path(fs).resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                path = fs
        encoding = getattr(doc, "encoding", "utf-16")
        return text, path, language_for_path(fs), str(encoding)

    def _selection(self, uri: str, rng: types.Range) -> Selection:
        text, path, language, _ = self._document(uri)
        if rng.start == rng.end:
            return select_at_cursor(text, path, language, rng.start.line)
        return select_lines(
            text,
            path,
            language,
            rng.start.line,
            rng.end.line,
            end_character=rng.end.character,
        )

    @staticmethod
    def _arguments(args: list[Any]) -> tuple[str, types.Range]:
        try:
            arg = plain(args[0])
            rng = arg["range"]
            return str(arg["uri"]), types.Range(
                start=types.Position(
                    line=int(rng["start"]["line"]), character=int(rng["start"]["character"])
                ),
                end=types.Position(
                    line=int(rng["end"]["line"]), character=int(rng["end"]["character"])
                ),
            )
        except (IndexError, KeyError, TypeError, ValueError):
            raise JsonRpcInvalidParams(
                'expected arguments [{"uri": <document uri>, "range": <LSP Range>}]'
            ) from None

    # -- code actions ------------------------------------------------------------------------
    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri, rng = params.text_document.uri, params.range
        actions = self._quick_fixes(uri, rng)
        doc = self.server.workspace.text_documents.get(uri)
        if doc is not None and self.server.guard.check(uri, doc.source, doc.version):
            return actions  # too large or binary-looking: no Explain/Review to offer
        only = params.context.only
        if only and not any(k.startswith(types.CodeActionKind.Refactor.value) for k in only):
            return actions
        target = rng
        if rng.start == rng.end:
            try:
                text, _, language, _ = self._document(uri)
                found = enclosing_definition(text, language, rng.start.line)
            except Exception:  # no document, no grammar: no actions, never an error popup
                log.debug("no enclosing definition for code actions", exc_info=True)
                found = None
            if found is None:
                return actions
            target = types.Range(
                start=types.Position(line=found[0], character=0),
                end=types.Position(line=found[1] + 1, character=0),
            )
        arg = {"uri": uri, "range": _range_json(target)}
        for title, command in (("Hearth: Explain", EXPLAIN), ("Hearth: Review", REVIEW)):
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.Refactor,
                    command=types.Command(title=title, command=command, arguments=[arg]),
                )
            )
        return actions

    def _quick_fixes(self, uri: str, rng: types.Range) -> list[types.CodeAction]:
        out: list[types.CodeAction] = []
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None:
            return out
        lines = _doc_lines(doc.source)
        for p in self.published.get(uri, []):
            f, d = p.finding, p.diagnostic
            if f.replacement is None:
                continue
            if lines[f.line - 1 : f.end_line] != p.lines:
                continue  # a fix only ever replaces the text it was written for
            if d.range.end.line < rng.start.line or d.range.start.line > rng.end.line:
                continue
            out.append(
                types.CodeAction(
                    title=f"Hearth: fix — {f.message[:70]}",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[d],
                    is_preferred=True,
                    edit=types.WorkspaceEdit(
                        changes={uri: [types.TextEdit(range=d.range, new_text=f.replacement)]}
                    ),
                )
            )
        return out

    # -- commands ----------------------------------------------------------------------------
    async def explain(self, args: list[Any]) -> dict[str, Any]:
        job, gen = await self._run(Kind.EXPLAIN, args, "Hearth: Explain")
        return {"markdown": explain_markdown(job, gen)}

    async def review(self, args: list[Any]) -> dict[str, Any]:
        job, gen = await self._run(Kind.REVIEW, args, "Hearth: Review")
        result = review_result(job, gen)
        uri = self._arguments(args)[0]
        text, _, _, encoding = self._document(uri)
        found, message = result.findings, result.message
        reviewed = _doc_lines(job.selection.text)[result.first - 1 : result.last]
        if _doc_lines(text)[result.first - 1 : result.last] != reviewed:
            # The lines moved or changed while the model wrote: its line numbers now point at
            # other text, where a fix must never land.
            found = []
            message = "the document changed during the review: run it again"
        findings = self._publish(uri, text, encoding, result.first, result.last, found)
        return {"findings": findings, "message": message}

    async def _run(self, kind: Kind, args: list[Any], title: str) -> tuple[AssistJob, Any]:
        ctx = current_command()
        uri, rng = self._arguments(args)
        try:
            sel = self._selection(uri, rng)
            engine = self._engine()
        except HearthError as exc:
            raise JsonRpcInvalidParams(exc.user_message()) from None
        related = self._related(sel)
        token = ctx.token
        progress = self.server.work_done_progress
        loop = asyncio.get_running_loop()
        stream = Stream()
        sent = [""]

        def on_text(chunk: str) -> None:  # on the inference thread
            if token is None:
                return
            # Untrusted model text: only what sanitizing can no longer change is shown, so
            # each report extends the one before (assist/sanitize.py).
            message = stream.feed(chunk)
            if message != sent[0]:
                sent[0] = message
                value = types.WorkDoneProgressReport(message=message)
                loop.call_soon_threadsafe(progress.report, token, value)

        if token is not None:
            progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True))
        job = start(engine, kind, sel, self._options(), related=related, on_text=on_text)
        watched: list[concurrent.futures.Future[Any]] = []
        if ctx.request is not None:
            watched.append(ctx.request)
        if token is not None and token in progress.tokens:
            watched.append(progress.tokens[token])
        for fut in watched:
            fut.add_done_callback(lambda f: job.cancel() if f.cancelled() else None)
        try:
            gen = await asyncio.wrap_future(job.handle.future)
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            job.cancel()
            raise JsonRpcRequestCancelled(f"{title} was cancelled") from None
        except HearthError as exc:
            raise JsonRpcException(exc.user_message(), ERROR_CODE) from None
        finally:
            if token is not None:
                # Reports queued from the worker thread go out before the end.
                await asyncio.sleep(0)
                progress.end(token, types.WorkDoneProgressEnd())
        if gen.stop_reason is StopReason.CANCELLED:
            raise JsonRpcRequestCancelled(f"{title} was cancelled")
        return job, gen

    def _related(self, sel: Selection) -> list[str]:
        indexer = getattr(getattr(self.server, "index", None), "indexer", None)
        if indexer is None:
            return []
        return related_definitions(indexer.store, sel.code, path=sel.path)

    # -- diagnostics -------------------------------------------------------------------------
    def _publish(
        self,
        uri: str,
        text: str,
        encoding: str,
        first: int,
        last: int,
        findings: list[Finding],
    ) -> list[dict[str, Any]]:
        """Replace the diagnostics of lines `first`..`last` (1-based) with `findings`."""
        lines = _doc_lines(text)
        kept = [
            p
            for p in self.published.get(uri, [])
            if p.finding.end_line < first or p.finding.line > last
        ]
        out: list[dict[str, Any]] = []
        for f in findings:
            if not first <= f.line <= f.end_line <= min(last, len(lines)):
                continue  # only ever inside the reviewed lines
            rng = types.Range(
                start=types.Position(line=f.line - 1, character=0),
                end=types.Position(
                    line=f.end_line - 1, character=_units(lines[f.end_line - 1], encoding)
                ),
            )
            diag = types.Diagnostic(
                range=rng,
                message=f.message,
                severity=_SEVERITY[f.severity],
                source=SOURCE,
                code=f.category,
                data={"id": uuid.uuid4().hex[:8], "replacement": f.replacement},
            )
            kept.append(Published(f, diag, lines[f.line - 1 : f.end_line]))
            out.append(
                {
                    "range": _range_json(rng),
                    "severity": f.severity,
                    "category": f.category,
                    "message": f.message,
                    "replacement": f.replacement,
                }
            )
        self.published[uri] = kept
        self._send(uri)
        return out

    def _send(self, uri: str) -> None:
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, diagnostics=[p.diagnostic for p in self.published.get(uri, [])]
            )
        )

    def document_changed(self, uri: str) -> None:
        """Drop diagnostics whose lines no longer hold the text they were published for."""
        current = self.published.get(uri)
        if not current:
            return
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None:
            return
        lines = _doc_lines(doc.source)
        kept = [p for p in current if lines[p.finding.line - 1 : p.finding.end_line] == p.lines]
        if len(kept) != len(current):
            self.published[uri] = kept
            self._send(uri)

    def document_closed(self, uri: str) -> None:
        if self.published.pop(uri, None):
            self._send(uri)


def _range_json(rng: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }
