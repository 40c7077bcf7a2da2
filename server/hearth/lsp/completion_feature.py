"""Inline completion over LSP: the handlers' side of `hearth.completion.pipeline`.

Everything here runs on the server's event loop; model work runs on the engine's worker and
is awaited, so `$/cancelRequest` (pygls cancels the handler's task) and a newer request for the
same document (the worker supersedes the group) both stop a generation between two tokens.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import hashlib
import itertools
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified
from pygls.uris import to_fs_path

from hearth.completion.cache import cache_key
from hearth.completion.debounce import AdaptiveDebounce
from hearth.completion.pipeline import Cached, CompletionOptions, CompletionPipeline, Plan
from hearth.completion.stats import StatsEvent, StatsStore
from hearth.context.builder import WARM_MAX_CHARS, ContextEngine, DocumentView
from hearth.context.recent import MAX_DOCUMENT_CHARS
from hearth.engine.generate import Generation, StopReason
from hearth.engine.http_client import InferenceServerError
from hearth.index.walker import WalkOptions, is_secret

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

    from hearth.lsp.server import HearthServer
    from hearth.settings import Settings

log = logging.getLogger(__name__)

ACCEPT_COMMAND = "hearth.suggestionAccepted"
WARM_DELAY_S = 0.4  # a pause this long after an edit, with no request, starts a warm-up
# A speculation starts once the user's usual gap between keystrokes has passed with no new
# one (at most this long): one that starts mid-burst is thrown away by the next keystroke,
# which first waits for the chunk it is evaluating (~60 ms on a 2-core laptop).
SPECULATE_WAIT_MAX_S = 0.25
RECENT = 4000  # request records kept for `hearth/completionStats`
# Longer documents are neither kept as recent nor tokenized ahead by the context engine.
NOTE_MAX_CHARS = max(MAX_DOCUMENT_CHARS, WARM_MAX_CHARS)


@dataclass
class _Served:
    uri: str
    at: float
    latency_ms: float
    language: str | None
    length: int
    shown: bool = False
    accepted_chars: int | None = None  # None until accepted (in whole or in part)


@dataclass
class _Speculation:
    """The suggestion being computed in the background for the place after the one shown."""

    key: str  # cache_key() of that place
    job: concurrent.futures.Future[Generation]  # the engine's job (background priority)
    done: asyncio.Future[tuple[str, ...]]  # its suggestions (empty when it failed or stopped)


@dataclass
class _DocState:
    debounce: AdaptiveDebounce
    seq: int = 0  # bumps on every inline request: a sleeping (debounced) older one gives up
    edits: int = 0  # bumps on every didChange: a request that saw an older count is stale
    changed_at: float = 0.0  # the text changed or the cursor jumped (a warm-up may be due)
    requested_at: float = 0.0  # the last request that reached the model or the cache
    cursor: types.Position | None = None  # best guess: last request or end of last edit
    warm_timer: asyncio.TimerHandle | None = None
    speculation: _Speculation | None = None


class CompletionFeature:
    def __init__(self, server: HearthServer) -> None:
        self.server = server
        self.context = ContextEngine(None)
        self.pipeline: CompletionPipeline | None = None
        self.stats = StatsStore(enabled=False)
        self.counters: collections.Counter[str] = collections.Counter()
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT)
        self._docs: dict[str, _DocState] = {}
        self._served: collections.OrderedDict[str, _Served] = collections.OrderedDict()
        self._ids = itertools.count(1)
        server.model.listeners.append(self._model_ready)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.server.settings

    def start(self) -> None:
        self.stats = StatsStore(enabled=self.settings.completion_stats)

    def _model_ready(self) -> None:
        engine = self.server.model.engine
        if engine is None:
            return
        self.pipeline = CompletionPipeline(
            engine, self.context, CompletionOptions.from_settings(self.settings)
        )
        # Documents opened while the model loaded were never warmed: warm the latest one.
        latest = max(self._docs, key=lambda uri: self._docs[uri].changed_at, default=None)
        if latest is not None:
            self._schedule_warm(latest)

    def settings_changed(self, old: Settings, new: Settings) -> None:
        if self.pipeline is not None:
            self.pipeline.options = CompletionOptions.from_settings(new)
            self.pipeline.cache.clear()
        for state in self._docs.values():
            state.debounce.fixed_ms = new.debounce_ms
        self.stats.enabled = new.completion_stats

    def _context_engine(self) -> ContextEngine:
        """The context engine, switched to one with the index once the index is ready."""
        index = self.server.index
        if self.context.indexer is None and index.indexer is not None and index.ready.is_set():
            self.context = ContextEngine(index.indexer)
            if self.pipeline is not None:
                self.pipeline.context = self.context
        return self.context

    def _state(self, uri: str) -> _DocState:
        state = self._docs.get(uri)
        if state is None:
            state = _DocState(AdaptiveDebounce(fixed_ms=self.settings.debounce_ms))
            self._docs[uri] = state
        return state

    # -- documents ---------------------------------------------------------------------------
    def _relpath(self, uri: str) -> str | None:
        root = self.server.root
        path = to_fs_path(uri)
        if root is None or path is None:
            return None
        try:
            return Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return None

    def is_secret_uri(self, uri: str) -> bool:
        """Whether `uri` is a secret file (`.env`, keys, ...): its text never enters a prompt,
        even when the editor has it open."""
        path = to_fs_path(uri)
        if path is None:
            return False
        relpath = self._relpath(uri) or Path(path).name
        extra = tuple(self.settings.index_secret_patterns)
        return is_secret(relpath, WalkOptions(extra_secret_patterns=extra))

    def _note(self, uri: str) -> None:
        relpath = self._relpath(uri)
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None or self.server.guard.changed(uri, doc.source, doc.version) is not None:
            return  # too large or binary-looking (document_guard): left alone, user told once
        if len(doc.source) > NOTE_MAX_CHARS:
            return  # the context engine would drop it: redacting it is wasted
        if relpath is not None and not self.is_secret_uri(uri):
            try:
                text = self.server.guard.prompt_text(uri, doc.source, doc.version)
                self._context_engine().note_document(relpath, text)
            except Exception:
                log.exception("context: note_document failed for %s", relpath)

    def did_open(self, uri: str) -> None:
        state = self._state(uri)
        state.changed_at = time.monotonic()
        if state.cursor is None:
            state.cursor = types.Position(line=0, character=0)
        self._note(uri)
        self._schedule_warm(uri)

    def did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        state = self._state(uri)
        now = time.monotonic()
        state.debounce.keystroke(now)
        state.changed_at = now
        state.edits += 1
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start = change.range.start
                lines = change.text.split("\n")
                if len(lines) == 1:
                    state.cursor = types.Position(start.line, start.character + len(lines[0]))
                else:
                    state.cursor = types.Position(start.line + len(lines) - 1, len(lines[-1]))
        self._note(uri)
        self._schedule_warm(uri)

    def did_close(self, uri: str) -> None:
        state = self._docs.pop(uri, None)
        if state is not None and state.warm_timer is not None:
            state.warm_timer.cancel()
        if self.pipeline is not None:
            self.pipeline.cache.drop(uri)

    def _view(self, doc: TextDocument, position: types.Position) -> DocumentView:
        pos = doc.position_from_client_units(types.Position(position.line, position.character))
        path = to_fs_path(doc.uri)
        from hearth.index.languages import language_for_path

        return DocumentView(
            self.server.guard.prompt_text(doc.uri, doc.source, doc.version),
            pos.line,
            pos.character,
            relpath=self._relpath(doc.uri),
            language=language_for_path(path) if path else None,
        )

    def _enabled_for(self, doc: TextDocument) -> bool:
        s = self.settings
        return (
            s.completion_enabled
            and (doc.language_id or "") not in s.completion_disabled_languages
            and not self.is_secret_uri(doc.uri)
            and self.server.guard.check(doc.uri, doc.source, doc.version) is None
        )

    # -- requests ----------------------------------------------------------------------------
    async def inline_completion(
        self, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        texts = await self._complete(params.text_document.uri, params.position, explicit)
        if not texts:
            return None
        pos = params.position
        rng = types.Range(start=pos, end=pos)
        items = []
        for text, sid in texts:
            items.append(
                types.InlineCompletionItem(
                    insert_text=text,
                    range=rng,
                    command=types.Command(
                        title="Hearth: suggestion accepted",
                        command=ACCEPT_COMMAND,
                        arguments=[{"uri": params.text_document.uri, "id": sid}],
                    ),
                )
            )
        return types.InlineCompletionList(items=items)

    def fallback_enabled(self) -> bool:
        mode = self.settings.completion_fallback
        if mode != "auto":
            return mode == "on"
        td = self.server.client_capabilities.text_document
        return td is None or td.inline_completion is None

    async def completion(self, params: types.CompletionParams) -> types.CompletionList | None:
        """`textDocument/completion` for clients without inline completion: one item."""
        if not self.fallback_enabled():
            return None
        explicit = (
            params.context is not None
            and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        texts = await self._complete(params.text_document.uri, params.position, explicit)
        if not texts:
            return None
        text, sid = texts[0]
        first = text.lstrip().split("\n", 1)[0]
        label = first if len(first) <= 40 else first[:39] + "…"
        rng = types.Range(start=params.position, end=params.position)
        item = types.CompletionItem(
            label=f"✦ {label}",
            kind=types.CompletionItemKind.Text,
            detail="Hearth suggestion (local model)",
            documentation=text,
            sort_text="0",
            filter_text=text,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=rng, new_text=text),
            command=types.Command(
                title="Hearth: suggestion accepted",
                command=ACCEPT_COMMAND,
                arguments=[{"uri": params.text_document.uri, "id": sid}],
            ),
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    async def _complete(
        self, uri: str, position: types.Position, explicit: bool
    ) -> list[tuple[str, str]]:
        t0 = time.perf_counter()
        record: dict[str, Any] = {"explicit": explicit}
        try:
            texts = await self._complete_inner(uri, position, explicit, record)
        except asyncio.CancelledError:
            record["source"] = "cancelled"
            self.counters["cancelled"] += 1
            raise
        finally:
            record["server_ms"] = round((time.perf_counter() - t0) * 1000, 3)
            self.recent.append(record)
        out = []
        for text in texts:
            sid = str(next(self._ids))
            out.append((text, sid))
            self._remember(sid, uri, record["server_ms"], record.get("language"), len(text))
        if texts:
            src = "cache" if record.get("source") in ("cache", "typed-ahead") else "model"
            self.stats.record(
                StatsEvent("served", src, record["server_ms"], record.get("language"))
            )
        return out

    async def _complete_inner(
        self, uri: str, position: types.Position, explicit: bool, record: dict[str, Any]
    ) -> list[str]:
        self.counters["requests"] += 1
        doc = self.server.workspace.text_documents.get(uri)
        state = self._state(uri)
        state.seq += 1
        seq = state.seq
        edits = state.edits
        state.cursor = position
        if state.warm_timer is not None:
            state.warm_timer.cancel()
            state.warm_timer = None
        if doc is None or not self._enabled_for(doc):
            record["source"] = "disabled"
            refused = None if doc is None else self.server.guard.check(uri, doc.source, doc.version)
            if refused is not None:
                record["reason"] = refused.reason
            return []
        pipeline = self.pipeline
        if pipeline is None or not self.server.model.ready:
            record["source"] = "no-model"
            self.counters["no_model"] += 1
            return []
        self._context_engine()
        view = self._view(doc, position)
        record["language"] = view.language
        decision = pipeline.plan(uri, view, explicit=explicit)
        if isinstance(decision, Cached):
            state.requested_at = time.monotonic()
            record["source"] = "typed-ahead" if decision.typed_ahead else "cache"
            self.counters["typed_ahead" if decision.typed_ahead else "cache_hits"] += 1
            if not explicit:  # the next one, unless cached
                self._speculate_later(state, uri, view, decision.items[0])
            return list(decision.items[:1] if not explicit else decision.items)
        if not isinstance(decision, Plan):
            record["source"] = "skipped"
            record["reason"] = decision.reason
            self.counters["skipped"] += 1
            # The model never saw this place (often a cursor jump): warm it after a pause.
            state.changed_at = time.monotonic()
            self._schedule_warm(uri)
            return []
        state.requested_at = time.monotonic()
        if not explicit and state.speculation is not None:
            items = await self._from_speculation(uri, state, decision, seq, edits, record)
            if items:
                self._speculate_later(state, uri, view, items[0])  # and the one after it
                return items
        if not explicit:
            delay = state.debounce.delay_s()
            record["debounce_ms"] = round(delay * 1000, 1)
            if delay > 0:
                await asyncio.sleep(delay)
            self._check_fresh(uri, state, edits, record)
            if state.seq != seq:  # a newer request for this document came meanwhile
                record["source"] = "superseded"
                self.counters["superseded"] += 1
                return []
        n = self.settings.explicit_candidates if explicit else 1
        handles = pipeline.submit(decision, candidates=n)
        gens: list[Generation] = []
        try:
            for handle in handles:
                try:
                    gens.append(await asyncio.wrap_future(handle.future))
                except concurrent.futures.CancelledError:
                    pass
                except InferenceServerError as exc:  # backend = "http": an empty answer
                    log.error("completion: %s", exc.user_message())
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise
                    # The job was superseded by a newer request, not this request cancelled.
        except asyncio.CancelledError:
            for handle in handles:
                handle.cancel()
            raise
        outcome = pipeline.finish(decision, gens)
        self.counters["generations"] += len(gens)
        self._check_fresh(uri, state, edits, record)
        if gens:
            g = gens[0]
            record.update(
                prompt_tokens=g.n_prompt,
                reused_tokens=g.n_reused,
                evaluated_tokens=g.n_evaluated,
                generated_tokens=g.n_generated,
                prefill_ms=round(g.prefill_s * 1000, 2),
                decode_ms=round(g.decode_s * 1000, 2),
                drafted_tokens=g.n_drafted,
                draft_accepted_tokens=g.n_draft_accepted,
                queue_ms=round(g.queue_s * 1000, 2),
                build_ms=round(g.build_s * 1000, 2),
                stop=g.stop_reason.value,
                # What the model wrote and the postprocess rules that changed it (benchmarks).
                raw_text=g.text,
                rules=outcome.rules[0] if outcome.rules else [],
            )
        if not gens or all(g.stop_reason is StopReason.CANCELLED for g in gens):
            record["source"] = "superseded"
            self.counters["superseded"] += 1
            return []
        record["source"] = "model"
        if outcome.items and not explicit:
            self._speculate_later(state, uri, view, outcome.items[0])
        return list(outcome.items)

    def _check_fresh(self, uri: str, state: _DocState, edits: int, record: dict[str, Any]) -> None:
        """Raise ContentModified (-32801) when the document changed since the request came.

        A suggestion computed for an older version would be inserted at the wrong place; the
        spec's answer for such a stale request is ContentModified, which editors drop quietly.
        A newer request with no edit in between (the cursor moved) is a plain supersession and
        still gets an empty answer.
        """
        if state.edits != edits or self._docs.get(uri) is not state:
            record["source"] = "stale"
            self.counters["stale"] += 1
            raise JsonRpcContentModified("the document changed while this request ran")

    # -- speculation and warm-up -------------------------------------------------------------
    def _speculate_later(
        self, state: _DocState, uri: str, view: DocumentView, accepted: str
    ) -> None:
        """Speculate once this answer is on its way and the user's usual gap between
        keystrokes has passed: planning parses the document (about a millisecond per 10 kB),
        which a typed-ahead answer should not wait for, and a keystroke or a newer request
        for the document in between makes it moot (the user is typing on)."""
        if not self.settings.speculative:
            return
        seq, edits = state.seq, state.edits
        gap = state.debounce.typing_gap_s()
        delay = 0.0 if gap is None else min(gap, SPECULATE_WAIT_MAX_S)

        def start() -> None:
            if state.seq == seq and state.edits == edits and self._docs.get(uri) is state:
                self._speculate(state, uri, view, accepted)
            elif state.seq == seq:
                self.counters["speculations_skipped"] += 1

        # A timer even at 0, not call_soon: the answer is sent by a callback the finished
        # request schedules with call_soon, which then runs first.
        asyncio.get_running_loop().call_later(delay, start)

    def _speculate(self, state: _DocState, uri: str, view: DocumentView, accepted: str) -> None:
        """Compute, in the background, the suggestion for the place after `accepted`.

        A finished one waits in the cache; a request for that place while it still runs
        (the user accepted at once) waits for it instead of starting the same work again.
        """
        pipeline = self.pipeline
        if pipeline is None:
            return
        nxt = pipeline.speculate(uri, view, accepted)
        if nxt is None:
            return
        key = cache_key(nxt.prefix, nxt.suffix)
        running = state.speculation
        if running is not None and running.key == key and not running.done.done():
            return  # already on its way (the user is typing the suggestion)
        handle = pipeline.submit(nxt, candidates=1)[0]
        self.counters["speculations"] += 1
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[str, ...]] = loop.create_future()
        state.speculation = _Speculation(key, handle.future, done)

        def finished(fut: concurrent.futures.Future[Generation]) -> None:  # worker thread
            with contextlib.suppress(RuntimeError):  # a closed loop: the server is exiting
                loop.call_soon_threadsafe(self._speculated, pipeline, nxt, fut, done)

        handle.future.add_done_callback(finished)

    def _speculated(
        self,
        pipeline: CompletionPipeline,
        plan: Plan,
        fut: concurrent.futures.Future[Generation],
        done: asyncio.Future[tuple[str, ...]],
    ) -> None:
        items: tuple[str, ...] = ()
        if not fut.cancelled() and fut.exception() is None:
            gen = fut.result()
            if gen.stop_reason is not StopReason.CANCELLED:
                items = pipeline.finish(plan, [gen]).items
        if not done.done():
            done.set_result(items)

    async def _from_speculation(
        self,
        uri: str,
        state: _DocState,
        plan: Plan,
        seq: int,
        edits: int,
        record: dict[str, Any],
    ) -> list[str]:
        """The running speculation's suggestions when it is for this very place, else []."""
        spec = state.speculation
        if spec is None or spec.key != cache_key(plan.prefix, plan.suffix):
            return []
        if not spec.job.running() and not spec.job.done():
            return []  # still queued behind other work: the request's own job goes first
        items = await asyncio.shield(spec.done)  # a cancelled request leaves it running
        self._check_fresh(uri, state, edits, record)
        if not items or state.seq != seq:
            return []
        record["source"] = "speculation"
        self.counters["speculation_hits"] += 1
        return list(items[:1])

    def _schedule_warm(self, uri: str) -> None:
        if not self.settings.warmup or self.pipeline is None or self.server.loop is None:
            return
        state = self._state(uri)
        if state.warm_timer is not None:
            state.warm_timer.cancel()
        state.warm_timer = self.server.loop.call_later(WARM_DELAY_S, self._warm, uri)

    def _warm(self, uri: str) -> None:
        state = self._docs.get(uri)
        pipeline = self.pipeline
        if state is None or pipeline is None or not self.server.model.ready:
            return
        state.warm_timer = None
        if state.requested_at >= state.changed_at or pipeline.engine.worker.pending():
            return  # a request came since the edit, or the model is busy: nothing to gain
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None or state.cursor is None or not self._enabled_for(doc):
            return
        self._context_engine()
        self.counters["warmups"] += 1
        pipeline.warm(uri, self._view(doc, state.cursor))

    # -- what the editor tells us ------------------------------------------------------------
    def _remember(
        self, sid: str, uri: str, latency_ms: float, language: str | None, length: int
    ) -> None:
        self._served[sid] = _Served(uri, time.monotonic(), latency_ms, language, length)
        while len(self._served) > 512:
            self._served.popitem(last=False)

    def suggestion_event(self, kind: str, params: Any) -> None:
        """hearth/suggestionShown|Accepted|Rejected: local stats, and the cache on rejection."""
        data = _as_dict(params)
        sid = str(data.get("id") or "")
        served = self._served.get(sid)
        self.counters[kind] += 1
        event = StatsEvent(kind, language=served.language if served else None)
        if served is not None and kind == "shown":
            if served.shown:
                return  # shown again (a redraw): counted once
            served.shown = True
            event = replace(event, length=served.length)
        if kind == "accepted":
            event = self._accepted(event, served, data.get("acceptedLength"))
        self.stats.record(event)
        if kind == "rejected" and self.pipeline is not None:
            uri = str(data.get("uri") or (served.uri if served else ""))
            self.pipeline.cache.drop(uri)

    @staticmethod
    def _accepted(event: StatsEvent, served: _Served | None, part: Any) -> StatsEvent:
        """An accept event: how many characters, and whether the suggestion was already
        counted (partial accepts of one suggestion, then the rest, count as one)."""
        partial = isinstance(part, int) and not isinstance(part, bool) and part >= 0
        if served is None:
            return replace(event, accepted_chars=part if partial else None, partial=partial)
        before = served.accepted_chars
        chars = part if partial else max(0, served.length - (before or 0))
        served.accepted_chars = (before or 0) + chars
        return replace(
            event,
            accepted_chars=chars,
            length=served.length,
            partial=partial,
            again=before is not None,
        )

    def status(self) -> dict[str, Any]:
        engine = self.server.model.engine
        return {
            "counters": dict(self.counters),
            "engine": dict(engine.counters) if engine is not None else {},
            "cache_entries": 0 if self.pipeline is None else self.pipeline.cache.size(),
            # How fast a cancel stops the model: {count, max_ms, p95_ms} (engine/worker.py).
            "cancel_stops": engine.worker.stop_latency() if engine is not None else {},
        }

    def completion_stats(self, params: Any) -> dict[str, Any]:
        """`hearth/completionStats`: counters and recent request records (tests, benchmarks)."""
        args = _as_dict(params)
        out = self.status()
        out["recent"] = list(self.recent)
        uri = args.get("uri")
        if isinstance(uri, str):
            # The server's copy of a document, as a digest: tests compare it with theirs.
            doc = self.server.workspace.text_documents.get(uri)
            if doc is not None:
                data = doc.source.encode("utf-8", "surrogatepass")
                out["document"] = {
                    "version": doc.version,
                    "length": len(doc.source),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
        if args.get("reset"):
            self.recent.clear()
        return out


def _as_dict(params: Any) -> dict[str, Any]:
    if isinstance(params, dict):
        return params
    if hasattr(params, "_asdict"):
        return dict(params._asdict())
    if isinstance(params, (list, tuple)) and params:
        return _as_dict(params[0])
    return {}
