"""Assemble the prompt for a completion at a cursor: labelled parts fitted to a token budget.

This is the seam between the completion pipeline (LSP and CLI) and the context sources; the
callers only see `ContextEngine.build`, so sources can be added without touching them.

One build: the suffix window (small, its own share), then cross-file candidates from each
source (definitions through the index, similar windows of recent files and of the index,
recent edits), time-boxed by the deadline and deduplicated against the local window; a
greedy fit per source share with hysteresis against the previous build; then the prefix
window gets all that is left, with scope headers when the window starts inside a block.

Time: the sources get part of the time box (the prefix and the layout are not optional and
come after them); the whole-index similar query runs last, asks the full-text index only for
the rarest identifiers near the cursor (a bounded number of postings), and is interrupted at
the deadline. Candidates are ranked and fitted on estimated token counts, so only what is
chosen meets the tokenizer, and a chosen snippet that could not be tokenized before the
deadline is dropped. Documents are tokenized when noted (opened or edited), in
content-defined pieces that every later window shares; counts, similar-query results and token
pieces are cached across builds.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hearth.context.budget import MIN_CROSS_TOKENS, Shares, greedy, stable_choice
from hearth.context.layout import Rendered, render, repo_tokens
from hearth.context.layout import laid_out as lay_out
from hearth.context.local import (
    SUFFIX_MAX_LINES,
    Cursor,
    enclosing_scopes,
    prefix_window,
    scope_text,
    suffix_window,
)
from hearth.context.recent import MIN_SIMILARITY, RecentDocuments
from hearth.context.snippet import (
    CROSS_FILE_SOURCES,
    DEFINITION,
    PREFIX,
    RECENT_EDIT,
    SCOPE,
    SIMILAR,
    SUFFIX,
    Snippet,
    duplicated_share,
    family,
    family_of_path,
    ident_set,
    norm_lines,
)
from hearth.context.tokens import TokenCache, Tokenizer
from hearth.engine.backend import Backend
from hearth.engine.templates import FimTemplate
from hearth.errors import ContextOverflowError

if TYPE_CHECKING:
    from hearth.context.definitions import DefinitionSource
    from hearth.index.indexer import Indexer

log = logging.getLogger(__name__)

DEFAULT_TIME_BOX_MS = 15.0  # what the LSP should pass as its deadline for a completion
SIMILAR_QUERY_LINES = 12
DUPLICATE_SHARE = 0.6  # a snippet with this share of its lines in the local window is dropped
INDEX_SIMILAR_LIMIT = 6
INDEX_SIMILAR_WEIGHT = 0.8
ESTIMATED_PREFIX_LINES = 80
MAX_SCOPE_SHARE = 0.15
COST_ENTRIES = 20_000
SIMILAR_CACHE_ENTRIES = 64
SOURCES_SHARE_OF_BOX = 0.55  # of what is left of the time box when the sources start
SIMILAR_TERMS = 24  # identifiers of the query considered (the most recent)
MATCH_TERMS = 8  # at most this many of them, the rarest, are sent to the full-text index
MATCH_POSTINGS = 400  # and only while their chunk counts add up to no more than this
TERM_COUNT_ENTRIES = 50_000
FIT_RESERVE_SHARE = 0.3  # of what is left of the box at fitting time: kept for the prefix
FIT_RESERVE_S = 0.005
INDEX_QUERY_MAX_S = 0.5  # a whole-index query running longer is abandoned
WARM_MAX_CHARS = 256_000  # longer documents are tokenized window by window, not when noted
INDEX_SIMILAR = "similar (index)"  # how a skipped index query is reported
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    score: float | None = None  # the source's own ranking score (cross-file parts)


@dataclass
class CompletionContext:
    tokens: list[int]  # the whole prompt, ready for the engine
    prefix: str  # the local text before the cursor that the prompt ends (or FIM-ends) with
    suffix: str  # the local text after the cursor in the prompt
    parts: list[ContextPart] = field(default_factory=list)
    build_ms: float = 0.0
    prompt_text: str = ""  # the prompt as text, special tokens written out
    budget: int = 0  # the budget the prompt was fitted to
    skipped: list[str] = field(default_factory=list)  # sources skipped: out of time or failed


@dataclass
class _DocState:
    prefix_start: int | None = None
    snippets: list[Snippet] = field(default_factory=list)
    line: int | None = None  # the cursor line of the build that chose them


def _comment_for(language: str | None) -> str | None:
    if language is None:
        return None
    from hearth.index.languages import entry

    try:
        return entry(language).comment
    except KeyError:
        return None


class ContextEngine:
    """Builds completion prompts; knows the index and what the user opened and edited."""

    def __init__(
        self,
        indexer: Indexer | None = None,
        *,
        shares: Shares | None = None,
        sources: frozenset[str] | None = None,
        index_similar: bool = True,
    ) -> None:
        """`sources` limits the cross-file sources used (all by default); `index_similar`
        adds similar chunks from the whole index to those of recently opened files."""
        self.indexer = indexer
        self.shares = shares or Shares()
        self.sources = frozenset(CROSS_FILE_SOURCES) if sources is None else sources
        self.index_similar = index_similar
        self.recent = RecentDocuments()
        self._definitions: DefinitionSource | None = None
        if indexer is not None:
            from hearth.context.definitions import DefinitionSource

            self._definitions = DefinitionSource(indexer)
        self._caches: dict[int, tuple[Tokenizer, TokenCache]] = {}
        self._states: dict[str, _DocState] = {}
        self._lock = threading.Lock()
        # Per-engine caches that outlive one build (typing re-asks the same questions).
        self._similar: OrderedDict[tuple[str, str | None], list[Snippet]] = OrderedDict()
        self._term_counts: dict[str, int] = {}  # used on the query thread only
        self._similar_lock = threading.Lock()
        self._similar_pending: dict[tuple[str, str | None], Future[list[Snippet]]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._last_cache: TokenCache | None = None

    def note_document(self, relpath: str, text: str) -> None:
        """The user opened or edited `relpath` (feeds the similar-snippet and recent sources);
        once a build has met the model's tokenizer, the text is tokenized now (only pieces not
        seen before), so the next build at any cursor in it finds its windows cached."""
        self.recent.note(relpath, text)
        with self._lock:
            if self._last_cache is not None and len(text) <= WARM_MAX_CHARS:
                self._last_cache.run(text)

    def prepare(self, tokenizer: Tokenizer, text: str) -> None:
        """Tokenize a document ahead of builds (what `note_document` does once the engine
        knows the tokenizer): its pieces are then cached for every window over it."""
        with self._lock:
            cache = self._cache(tokenizer)
            self._last_cache = cache
            if len(text) <= WARM_MAX_CHARS:
                cache.run(text)

    def forget_document(self, relpath: str) -> None:
        """The document closed: drop its hysteresis state (its snippets stay as recent)."""
        with self._lock:
            self._states.pop(relpath, None)

    def _cache(self, tok: Tokenizer) -> TokenCache:
        hit = self._caches.get(id(tok))
        if hit is not None and hit[0] is tok:
            return hit[1]
        cache = TokenCache(tok)
        if len(self._caches) >= 2:
            self._caches.pop(next(iter(self._caches)))
        self._caches[id(tok)] = (tok, cache)
        return cache

    def build(
        self,
        backend: Backend | Tokenizer,
        template: FimTemplate,
        doc: DocumentView,
        *,
        budget_tokens: int,
        max_tokens: int,
        deadline: float | None = None,
        remember: bool = True,
    ) -> CompletionContext:
        """The prompt for `doc` at its cursor within `budget_tokens` (and the model's context
        minus `max_tokens`). `deadline` (time.monotonic()) bounds optional sources: one that
        runs out of time is skipped. `remember=False` leaves the hysteresis state alone (for
        showing the context without changing what the next completion gets)."""
        with self._lock:
            return self._build(
                backend, template, doc, budget_tokens, max_tokens, deadline, remember
            )

    def _build(
        self,
        tok: Tokenizer,
        template: FimTemplate,
        doc: DocumentView,
        budget_tokens: int,
        max_tokens: int,
        deadline: float | None,
        remember: bool,
    ) -> CompletionContext:
        t0 = time.perf_counter()
        n_ctx = tok.n_ctx
        if max_tokens >= n_ctx:
            raise ContextOverflowError(
                f"max_tokens ({max_tokens}) leaves no room for the prompt in a context of "
                f"{n_ctx} tokens",
                "lower max_tokens or raise context_length",
            )
        budget = max(1, min(budget_tokens, n_ctx - max_tokens - 1))
        cache = self._cache(tok)
        self._last_cache = cache
        cur = Cursor.of(doc.text, doc.line, doc.character)
        language = doc.language
        if language is None and doc.relpath:
            from hearth.index.languages import language_for_path

            language = language_for_path(doc.relpath)
        comment = _comment_for(language)
        plain = comment is None  # no grammar: plain windows only
        key = doc.relpath or "\x00untitled"
        state = self._states.get(key) or _DocState()
        repo = self.indexer.root.name if self.indexer is not None else None
        skipped: list[str] = []

        empty = render(
            cache,
            template,
            snippets=[],
            scope="",
            prefix="",
            suffix="",
            path=doc.relpath,
            repo=repo,
            comment=comment or "#",
        )
        overhead = len(empty.tokens)
        if overhead >= budget:
            raise ContextOverflowError(
                f"the prompt needs {overhead + 1} tokens; the budget is {budget}",
                "raise context_length or the context budget",
            )
        avail = budget - overhead

        # The suffix: small, and never more than a third of what is left.
        suffix = ""
        if template.uses_suffix:
            allow = min(int(budget * self.shares.suffix), avail // 3)
            suffix = suffix_window(cur, allow, cache)
        avail -= len(cache.run(suffix))

        # Room for cross-file material; a short file leaves its unused prefix room to it.
        cross_allow = 0
        if not plain and (self.sources and (self.indexer is not None or self.recent.paths())):
            cross_allow = min(int(budget * self.shares.cross_file), int(avail * 0.6))
            whole = cur.prefix_from(0)
            if len(whole) < avail * 4:
                cross_allow = max(cross_allow, avail - len(cache.run(whole)) - 8)
            if repo_tokens(tok, template) and doc.relpath is not None:
                # The repository header and the current file's path line come with snippets.
                header = f"{repo or 'workspace'}\n" + f"{doc.relpath}\n"
                cross_allow -= 2 + len(cache.run(header))
            if cross_allow < MIN_CROSS_TOKENS:
                cross_allow = 0

        chosen: list[Snippet] = []
        use_repo = repo_tokens(tok, template) and doc.relpath is not None
        costs = cache.costs.setdefault((use_repo, comment or "#"), {})
        if len(costs) > COST_ENTRIES:
            costs.clear()

        def laid_out(s: Snippet) -> str:
            return lay_out(s, template, use_repo, comment or "#")

        def real_cost(s: Snippet) -> int:
            c = costs.get(s.key)
            if c is None:
                c = len(cache.run(laid_out(s), continued=not use_repo)) + (1 if use_repo else 0)
                costs[s.key] = c
            return c

        def cost(s: Snippet) -> int:
            """Exact once the snippet was tokenized, estimated before: only what is chosen
            is tokenized."""
            c = costs.get(s.key)
            if c is None:
                c = cache.estimate(laid_out(s)) + (1 if use_repo else 0)
            return c

        est_start = state.prefix_start
        if est_start is None or est_start > cur.line:
            est_start = max(0, cur.line - ESTIMATED_PREFIX_LINES)
        visible = (est_start, cur.line + SUFFIX_MAX_LINES)
        if cross_allow:
            source_deadline = None
            if deadline is not None:
                # The prefix and the layout come after the sources and are not optional:
                # keep part of the time box for them.
                now = time.monotonic()
                source_deadline = now + max(0.0, deadline - now) * SOURCES_SHARE_OF_BOX
            candidates = self._candidates(
                doc, cur, language, comment or "#", visible, source_deadline, skipped
            )
            seen = norm_lines("\n".join(cur.lines[visible[0] : visible[1] + 1]))
            pool = {
                s.key: s
                for s in candidates
                if duplicated_share(s.text, seen) < DUPLICATE_SHARE
                and not (
                    s.path == doc.relpath
                    and s.start_line <= visible[1]
                    and visible[0] <= s.end_line
                )
            }
            fresh_scale = cross_allow / max(1.0, budget * self.shares.cross_file)
            per_source = {
                src: int(budget * self.shares.of(src) * max(1.0, fresh_scale))
                for src in CROSS_FILE_SOURCES
                if src in self.sources
            }
            fresh = greedy(list(pool.values()), cost, per_source, cross_allow)

            def still_valid(s: Snippet) -> bool:
                if s.source not in self.sources:
                    return False
                if s.key in pool:
                    return True
                if s.path == doc.relpath:
                    return False
                return duplicated_share(s.text, seen) < DUPLICATE_SHARE

            # Typing on along the same line keeps the cross-file part as it is: it comes
            # first in the prompt, so changing it means evaluating the whole prompt again
            # (seconds on a CPU); a new line or a jump lets a better choice in.
            chosen = stable_choice(
                fresh,
                state.snippets,
                pool,
                cost,
                cross_allow,
                still_valid=still_valid,
                sticky=state.line == cur.line,
            )
            if deadline is not None:
                chosen = self._in_time(chosen, costs, cache, laid_out, use_repo, deadline, skipped)
            # Exact counts for what was chosen; drop from the end what the estimates hid.
            while chosen and sum(real_cost(s) for s in chosen) > cross_allow:
                chosen.pop()
        spent = sum(real_cost(s) for s in chosen)

        # The prefix takes the rest, with scope headers when the window starts in a block.
        prefix_allow = avail - spent
        start, prefix = prefix_window(cur, prefix_allow, cache, state.prefix_start)
        scope = ""
        if not plain and start > 0:
            scopes = enclosing_scopes(cur, start)
            while scopes:
                scope = scope_text(scopes, comment or "#")
                if cache.count(scope) <= prefix_allow * MAX_SCOPE_SHARE:
                    break
                scopes = scopes[1:]
                scope = ""
            if scope:
                start, prefix = prefix_window(
                    cur, prefix_allow - len(cache.run(scope)), cache, start
                )

        def render_now() -> Rendered:
            return render(
                cache,
                template,
                snippets=chosen,
                scope=scope,
                prefix=prefix,
                suffix=suffix,
                path=doc.relpath,
                repo=repo,
                comment=comment or "#",
            )

        rendered = render_now()
        # Piecewise counts can be off by a token here and there: trim until it fits.
        while len(rendered.tokens) > budget:
            over = len(rendered.tokens) - budget
            if chosen:
                chosen = chosen[:-1]
            elif scope:
                scope = ""
            elif prefix:
                start, prefix = prefix_window(
                    cur, max(0, len(cache.run(prefix)) - over - 1), cache, None
                )
            elif suffix:
                suffix = suffix[: len(suffix) // 2]
            else:
                raise ContextOverflowError(
                    f"the prompt needs {len(rendered.tokens)} tokens; the budget is {budget}",
                    "raise context_length or the context budget",
                )
            rendered = render_now()
        if remember:
            self._states[key] = _DocState(start, list(chosen), cur.line)
        n = len(chosen)
        parts = [
            ContextPart(
                s.source, s.path, s.start_line, s.end_line, body, rendered.part_tokens[i], s.score
            )
            for i, (s, body) in enumerate(zip(chosen, rendered.headers, strict=True))
        ]
        if scope:
            parts.append(
                ContextPart(SCOPE, doc.relpath, start, start, scope, rendered.part_tokens[n])
            )
        parts.append(
            ContextPart(PREFIX, doc.relpath, start, cur.line, prefix, rendered.part_tokens[n + 1])
        )
        parts.append(
            ContextPart(
                SUFFIX,
                doc.relpath,
                cur.line,
                cur.line + suffix.count("\n"),
                suffix,
                rendered.part_tokens[n + 2],
            )
        )
        return CompletionContext(
            rendered.tokens,
            prefix,
            suffix,
            parts,
            build_ms=(time.perf_counter() - t0) * 1000,
            prompt_text=rendered.text,
            budget=budget,
            skipped=skipped,
        )

    @staticmethod
    def _in_time(
        chosen: list[Snippet],
        costs: dict[str, int],
        cache: TokenCache,
        laid_out: Callable[[Snippet], str],
        use_repo: bool,
        deadline: float,
        skipped: list[str],
    ) -> list[Snippet]:
        """The chosen snippets whose tokenization fits before the deadline (less a reserve
        for the prefix and the layout), by the tokenizer's learned speed: a snippet that
        would make the build late is left out of this request."""
        now = time.monotonic()
        left = deadline - now
        room = left - max(FIT_RESERVE_S, left * FIT_RESERVE_SHARE)
        kept: list[Snippet] = []
        late: set[str] = set()
        for s in chosen:
            if s.key not in costs:
                need = cache.seconds_for(laid_out(s), continued=not use_repo)
                if need > room:
                    late.add(s.source)
                    continue
                room -= need
            kept.append(s)
        skipped.extend(f"{src} (out of time)" for src in sorted(late))
        return kept

    def _candidates(
        self,
        doc: DocumentView,
        cur: Cursor,
        language: str | None,
        comment: str,
        visible: tuple[int, int],
        deadline: float | None,
        skipped: list[str],
    ) -> list[Snippet]:
        """Candidates of every enabled source; a source out of time (or failing) is skipped."""
        out: list[Snippet] = []

        def late() -> bool:
            return deadline is not None and time.monotonic() > deadline

        query_text = "\n".join(cur.lines[max(0, cur.line - SIMILAR_QUERY_LINES) : cur.line])
        query = ident_set(query_text + "\n" + cur.head)
        # The whole-index query starts first, on its own thread, and runs beside the other
        # sources; it is collected last, only while the sources' time lasts.
        pending: Future[list[Snippet]] | None = None
        if SIMILAR in self.sources and self.index_similar and self.indexer is not None:
            pending = self._index_similar_async(query_text, doc.relpath)
        for source in (DEFINITION, SIMILAR, RECENT_EDIT):
            if source not in self.sources:
                continue
            if late():
                skipped.append(source)
                continue
            try:
                if source == DEFINITION and self._definitions is not None:
                    out.extend(
                        self._definitions.candidates(
                            doc.relpath,
                            doc.text,
                            cur.lines,
                            cur.line,
                            cur.col,
                            visible,
                            comment,
                            deadline,
                            language,
                        )
                    )
                    if self._definitions.truncated:
                        skipped.append(f"{DEFINITION} (cut short)")
                elif source == SIMILAR:
                    out.extend(
                        s
                        for s in self.recent.similar(query, doc.relpath)
                        if family_of_path(s.path) == family(language)
                    )
                elif source == RECENT_EDIT:
                    exclude = (doc.relpath or "", visible[0], visible[1])
                    out.extend(self.recent.edits(query, exclude))
            except Exception:  # a broken source costs its own snippets, never the completion
                log.warning("context source %s failed", source, exc_info=True)
                skipped.append(source)
        # Similar chunks of the whole index last: a full-text query over a big index costs
        # the most and adds the least next to the definitions and the open files.
        if pending is not None:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                found = pending.result(timeout=wait)
            except FutureTimeout:  # it goes on in the background: the next build gets it
                skipped.append(INDEX_SIMILAR)
            except Exception:
                log.warning("context source %s failed", INDEX_SIMILAR, exc_info=True)
                skipped.append(INDEX_SIMILAR)
            else:
                kin = family(language)
                out.extend(s for s in found if family_of_path(s.path) == kin)
        return out

    def _index_similar_async(self, query_text: str, relpath: str | None) -> Future[list[Snippet]]:
        """The whole-index similar chunks for a query, from the cache or from the background
        query thread. Cached by query: the query is the lines above the cursor line, which
        typing on that line leaves alone, so a query that missed one build's deadline serves
        the next keystrokes."""
        key = (query_text, relpath)
        with self._similar_lock:
            hit = self._similar.get(key)
            if hit is not None:
                self._similar.move_to_end(key)
                done: Future[list[Snippet]] = Future()
                done.set_result(list(hit))
                return done
            running = self._similar_pending.get(key)
            if running is not None:
                return running
            # Queries nobody waits for any more are dropped before they start.
            for old_key, old in list(self._similar_pending.items()):
                if old.cancel():
                    del self._similar_pending[old_key]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="hearth-similar")
            fut = self._pool.submit(self._index_similar, query_text, relpath)
            self._similar_pending[key] = fut
            return fut

    def _index_similar(self, query_text: str, relpath: str | None) -> list[Snippet]:
        """Runs on the query thread (its own connection), bounded by `INDEX_QUERY_MAX_S`."""
        assert self.indexer is not None
        key = (query_text, relpath)
        conn = self.indexer.store.conn
        stop = time.monotonic() + INDEX_QUERY_MAX_S
        conn.set_progress_handler(lambda: int(time.monotonic() > stop), 2000)
        try:
            found = self._query_index_similar(query_text, relpath)
        except sqlite3.OperationalError:  # interrupted: too slow to be worth waiting for
            found = []
        finally:
            conn.set_progress_handler(None, 0)
            with self._similar_lock:
                self._similar_pending.pop(key, None)
        with self._similar_lock:
            self._similar[key] = found
            if len(self._similar) > SIMILAR_CACHE_ENTRIES:
                self._similar.popitem(last=False)
        return list(found)

    def _match_terms(self, query_text: str) -> list[str]:
        """The rarest identifiers of the query (by how many chunks hold them), as many as
        keep the full-text query's postings bounded: common words cost the most to rank and
        say the least about which code is similar."""
        assert self.indexer is not None
        idents = [i for i in dict.fromkeys(_IDENT.findall(query_text)) if len(i) > 1]
        idents = idents[-SIMILAR_TERMS:]
        unknown = [i for i in idents if i not in self._term_counts]
        if unknown:
            if len(self._term_counts) > TERM_COUNT_ENTRIES:
                self._term_counts.clear()
            self._term_counts.update(self.indexer.store.chunk_term_counts(unknown))
        ranked = sorted((self._term_counts.get(i, 0), i) for i in idents)
        out: list[str] = []
        postings = 0
        for n, term in ranked:
            if n == 0:
                continue
            if len(out) >= MATCH_TERMS or postings + n > MATCH_POSTINGS:
                break
            out.append(term)
            postings += n
        return out

    def _query_index_similar(self, query_text: str, relpath: str | None) -> list[Snippet]:
        assert self.indexer is not None
        terms = self._match_terms(query_text)
        if not terms:
            return []
        hits = self.indexer.store.similar_chunks(
            query_text,
            limit=INDEX_SIMILAR_LIMIT,
            exclude_path=relpath,
            max_terms=SIMILAR_TERMS,
            match_terms=terms,
        )
        # Relevance, not room, decides: a chunk that shares little with the cursor's code is
        # noise that a small model copies (the same floor as similar windows of open files).
        return [
            Snippet(
                SIMILAR,
                h.path,
                h.chunk.start_line,
                h.chunk.end_line,
                h.chunk.text if h.chunk.text.endswith("\n") else h.chunk.text + "\n",
                h.score * INDEX_SIMILAR_WEIGHT,
            )
            for h in hits
            if h.score * INDEX_SIMILAR_WEIGHT >= MIN_SIMILARITY
        ]
