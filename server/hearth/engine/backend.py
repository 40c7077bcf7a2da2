"""The one interface every inference backend implements, and the types around it.

Backends expose the smallest set of steps the generation loop needs (prefill with prefix
reuse, sample, accept) so that stop sequences, budgets, cancellation and UTF-8 handling live
once in `generate.py` instead of once per library.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from hearth.engine.http_endpoint import HttpEndpoint
from hearth.engine.kv_reuse import TailReuse, plan_tail_reuse
from hearth.engine.model_file import ModelFile
from hearth.runs import common_prefix

if TYPE_CHECKING:
    from hearth.settings import Settings

# Prefill is evaluated in chunks of at most this many tokens so that a cancel or a
# preemption is noticed quickly even for long prompts.
PREFILL_CHUNK = 128
# Background work (warm-up, speculation) evaluates in smaller chunks: a keystroke cancels it
# between two chunks, so the chunk bounds how long the user's request waits for it.
BACKGROUND_PREFILL_CHUNK = 16
NO_DRIFT = 1 << 62


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model; `None` means the backend's or the model's own default."""

    n_ctx: int = 4096
    n_threads: int | None = None
    n_batch: int = 512
    n_gpu_layers: int = 0
    seed: int = 0
    model_type: str | None = None  # ctransformers model type for legacy GGML files
    http: HttpEndpoint | None = None  # the inference server, for backend = "http"
    # llama.cpp's extra weight buffers (AMX, CPU repacking): faster where they work, but
    # its AMX kernels crash on CPUs that advertise AMX without granting it (see probe.py).
    extra_buffers: bool = True

    def threads(self) -> int:
        """Threads default to the physical-ish core count: hyperthreads slow llama.cpp down."""
        if self.n_threads:
            return self.n_threads
        return max(1, min(8, os.cpu_count() or 1))


@dataclass(frozen=True)
class SamplingParams:
    """Temperature 0 is greedy decoding: the default for completion, reproducible in tests."""

    temperature: float = 0.0
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    seed: int = 0
    # GBNF grammar constraining the output; backends without grammar support ignore it
    # (the caller then asks for the format in the prompt and validates what comes back).
    grammar: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SamplingParams:
        """The user's sampling settings, shared by completion and chat."""
        return cls(
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k,
            repeat_penalty=settings.repeat_penalty,
            seed=settings.seed,
        )


def _prefix_reuse(cached: Sequence[int], tokens: Sequence[int]) -> int:
    """Cached tokens a prefill of `tokens` keeps: the common prefix, less the last prompt
    token, which is always evaluated (sampling needs fresh logits)."""
    return max(0, min(common_prefix(cached, tokens), len(tokens) - 1))


@dataclass
class PrefillStats:
    """How much of a prompt was reused from the previous call and how much was evaluated."""

    n_prompt: int = 0
    n_reused: int = 0
    n_evaluated: int = 0
    cancelled: bool = False


@dataclass
class BackendInfo:
    name: str
    version: str
    model: ModelFile
    n_ctx: int
    extra: dict[str, object] = field(default_factory=dict)


class Backend(ABC):
    """A loaded model. Not thread-safe: the inference worker is its only caller."""

    name: ClassVar[str]
    # A remote backend generates whole texts on a server: `generate()` then drives its
    # `stream_completion()` instead of prefill/sample/accept.
    remote: ClassVar[bool] = False

    def __init__(self, model: ModelFile, options: LoadOptions) -> None:
        self.model = model
        self.options = options
        self._vocab_index: dict[str, int] | None = None
        # The last prompt fully evaluated (the cache starts with it) and how many tokens
        # of edits its tail has been moved across since it was last evaluated exactly.
        self._last_prompt: list[int] = []
        self._drift = 0
        self._drift_from = NO_DRIFT  # position of the first entry computed before an edit
        # A context set aside by `checkpoint` (tokens, last prompt, drift, drift_from), and
        # whether the work that must not disturb it is still running.
        self._branch: tuple[list[int], list[int], int, int] | None = None
        self._branch_busy = False

    # -- tokens ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def n_ctx(self) -> int: ...

    @property
    @abstractmethod
    def n_vocab(self) -> int: ...

    @abstractmethod
    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        """Plain-text tokenization: never turns text into control tokens."""

    @abstractmethod
    def detokenize(self, tokens: Sequence[int]) -> bytes:
        """Bytes, not str: one token can hold part of a UTF-8 character."""

    @property
    @abstractmethod
    def bos_id(self) -> int | None: ...

    @property
    @abstractmethod
    def add_bos(self) -> bool:
        """Whether prompts for this model start with the BOS token."""

    @property
    @abstractmethod
    def eog_ids(self) -> frozenset[int]:
        """End-of-generation ids known to the model (eos, eot)."""

    @property
    def knows_vocab(self) -> bool:
        """Whether `special_token_id` reflects the model's real vocab (FIM auto-detection)."""
        return True

    def special_token_id(self, text: str) -> int | None:
        """The id of the vocab entry spelled exactly `text`, or None."""
        if self._vocab_index is None:
            self._vocab_index = self._build_vocab_index()
        return self._vocab_index.get(text)

    def _build_vocab_index(self) -> dict[str, int]:
        tokens = self.model.tokens
        if tokens:
            index: dict[str, int] = {}
            for i, tok in enumerate(tokens):
                index.setdefault(tok, i)
            return index
        return self._scan_vocab()

    def _scan_vocab(self) -> dict[str, int]:
        """Fallback for files without a vocab in their metadata (legacy GGML)."""
        index: dict[str, int] = {}
        for i in range(self.n_vocab):
            piece = self.detokenize([i]).decode("utf-8", errors="replace")
            index.setdefault(piece, i)
        return index

    # -- evaluation -----------------------------------------------------------------------
    def prefill(
        self,
        tokens: Sequence[int],
        should_stop: Callable[[], bool] | None = None,
        chunk: int | None = None,
        *,
        tail_budget: int = 0,
    ) -> PrefillStats:
        """Make the context hold `tokens`, reusing the longest common prefix already there.

        Evaluates in chunks of at most `chunk` (default PREFILL_CHUNK) tokens and checks
        `should_stop` between them, so a cancel reaches into a long prefill; on a stop it
        returns with `cancelled=True` and the context holds a valid prefix.

        With `tail_budget` > 0 and a backend that can move cached entries, an edit in the
        middle of the previous prompt keeps its tail too (see kv_reuse.py): the FIM suffix
        is not evaluated again until `tail_budget` tokens of edits have gone by.
        """
        tokens = list(tokens)
        chunk_size = max(1, min(chunk or PREFILL_CHUNK, self.options.n_batch))
        if self._branch is not None:
            if self._branch_busy:
                tail_budget = 0  # moving entries would move the set-aside ones too
            else:
                self._settle_branch(tokens, tail_budget)
        if tail_budget > 0 and self.can_shift:
            plan = plan_tail_reuse(
                self._last_prompt, self._cached_tokens(), tokens, tail_budget - self._drift
            )
            if plan is not None:
                return self._prefill_moving_tail(tokens, plan, should_stop, chunk_size)
        reuse = self._keep_prefix(_prefix_reuse(self._cached_tokens(), tokens))
        if reuse <= self._drift_from:  # every moved entry is evaluated again
            self._drift, self._drift_from = 0, NO_DRIFT
        self._last_prompt = []
        stats = PrefillStats(n_prompt=len(tokens), n_reused=reuse)
        pos = reuse
        while pos < len(tokens):
            if should_stop is not None and should_stop():
                stats.cancelled = True
                return stats
            part = tokens[pos : pos + chunk_size]
            self._eval(part)
            pos += len(part)
            stats.n_evaluated += len(part)
        self._last_prompt = tokens
        return stats

    def _prefill_moving_tail(
        self,
        tokens: list[int],
        plan: TailReuse,
        should_stop: Callable[[], bool] | None,
        chunk_size: int,
    ) -> PrefillStats:
        old_end = len(self._last_prompt)
        self._last_prompt = []
        stats = PrefillStats(n_prompt=len(tokens), n_reused=plan.reused)
        self._move_tail(plan, old_end)
        pos = plan.keep
        try:
            while pos < plan.new_tail:
                if should_stop is not None and should_stop():
                    break
                part = tokens[pos : min(pos + chunk_size, plan.new_tail)]
                self._eval(part)
                pos += len(part)
                stats.n_evaluated += len(part)
        finally:
            if pos < plan.new_tail:  # stopped or failed: the context keeps a valid prefix
                self._drop_tail()
                self._keep_prefix(pos)
        if pos < plan.new_tail:
            stats.n_reused = plan.keep
            stats.cancelled = True
            return stats
        self._adopt_tail(plan, tokens[plan.new_tail : plan.end - 1])
        self._eval(tokens[plan.end - 1 :])  # fresh logits for sampling
        stats.n_evaluated += 1
        self._last_prompt = tokens
        self._drift += plan.drift
        if self._drift_from >= plan.keep:
            self._drift_from = plan.new_tail
        return stats

    @property
    def can_shift(self) -> bool:
        """Whether cached entries can be moved to other positions (see kv_reuse.py)."""
        return False

    # -- a second branch of the context (speculative work) ---------------------------------
    # A speculative completion evaluates a prompt that the user's next request may not
    # share (the user typed something else than the suggestion). The context it replaces is
    # kept aside, sharing the cache entries of the common prefix; the next prefill goes on
    # from whichever of the two serves its prompt with less to evaluate.
    def checkpoint(self, upcoming: Sequence[int], max_new: int) -> bool:
        """Keep the current context aside before evaluating `upcoming` and `max_new` more
        tokens; False (nothing kept) when the backend cannot or the cache lacks room."""
        if self._branch is not None and not self._branch_busy:
            self._settle_branch(list(upcoming), 0)
        if self._branch is not None or not self.can_branch:
            return False
        cached = list(self._cached_tokens())
        needed = len(cached) + len(upcoming) - common_prefix(cached, upcoming) + max_new + 1
        if not cached or needed > self.n_ctx:
            return False
        self._save_branch()
        self._branch = (cached, self._last_prompt, self._drift, self._drift_from)
        self._branch_busy = True
        return True

    def release(self, *, rollback: bool) -> None:
        """The speculative work ended: go back to the context kept aside now (`rollback`,
        e.g. it was cancelled for another request), or keep both until the next prefill."""
        if self._branch is None:
            return
        self._branch_busy = False
        if rollback:
            self._use_branch()

    def _settle_branch(self, tokens: list[int], tail_budget: int) -> None:
        assert self._branch is not None
        saved, last, drift, _ = self._branch
        current = self._to_evaluate(
            self._last_prompt, self._cached_tokens(), tokens, tail_budget - self._drift
        )
        aside = self._to_evaluate(last, saved, tokens, tail_budget - drift)
        if aside < current:
            self._use_branch()
        else:
            self._forget_branch()

    def _forget_branch(self) -> None:
        """Drop the context kept aside, if any (the current one stays)."""
        if self._branch is not None:
            self._drop_branch()
        self._branch, self._branch_busy = None, False

    def _use_branch(self) -> None:
        assert self._branch is not None
        saved, self._last_prompt, self._drift, self._drift_from = self._branch
        self._branch = None
        self._branch_busy = False
        self._restore_branch(saved)

    def _to_evaluate(
        self, last: Sequence[int], cached: Sequence[int], tokens: Sequence[int], budget: int
    ) -> int:
        if budget > 0 and self.can_shift:
            plan = plan_tail_reuse(last, cached, tokens, budget)
            if plan is not None:
                return plan.new_tail - plan.keep + 1
        return len(tokens) - _prefix_reuse(cached, tokens)

    @property
    def can_branch(self) -> bool:
        """Whether `checkpoint` can keep a context aside."""
        return False

    def _save_branch(self) -> None:
        """Keep the context's entries aside (shared with the context, not copied)."""
        raise NotImplementedError

    def _restore_branch(self, tokens: list[int]) -> None:
        """Make the entries kept aside, for `tokens`, the context again."""
        raise NotImplementedError

    def _drop_branch(self) -> None:
        """Forget the entries kept aside."""
        raise NotImplementedError

    def _move_tail(self, plan: TailReuse, old_end: int) -> None:
        """Keep the prefix, set the old tail (without its last token) aside at its new
        positions, and leave the context holding only the prefix."""
        raise NotImplementedError

    def _drop_tail(self) -> None:
        """Forget a tail set aside by `_move_tail`."""
        raise NotImplementedError

    def _adopt_tail(self, plan: TailReuse, tokens: Sequence[int]) -> None:
        """Append the tail set aside, `tokens`, to the context right after the middle."""
        raise NotImplementedError

    def accept(self, token: int) -> None:
        """Append `token` to the context (evaluates it)."""
        self._eval([token])

    @property
    def can_draft(self) -> bool:
        """Whether `accept_draft` checks guessed tokens in one batch (see draft.py)."""
        return False

    def accept_draft(self, token: int, guess: Sequence[int]) -> list[int]:
        """Append `token` and the longest start of `guess` that greedy decoding agrees with;
        return that start plus the greedy choice after it (not yet in the context)."""
        raise NotImplementedError

    @property
    def can_score(self) -> bool:
        """Whether `top_tokens` and `score` work (ranking candidates, see rank.py)."""
        return False

    def top_tokens(self, k: int) -> list[tuple[int, float]]:
        """The `k` likeliest next tokens after the context, with log-probabilities."""
        raise NotImplementedError

    def score(self, keep: int, tokens: Sequence[int]) -> list[float]:
        """Keep the context's first `keep` tokens, evaluate `tokens` after them in one batch
        and return the log-probability of each token after the first, given those before."""
        raise NotImplementedError

    @abstractmethod
    def _cached_tokens(self) -> Sequence[int]:
        """The tokens the context holds now."""

    @abstractmethod
    def _keep_prefix(self, n: int) -> int:
        """Drop the context after its first `n` tokens; return how many were kept."""

    @abstractmethod
    def _eval(self, tokens: Sequence[int]) -> None:
        """Evaluate `tokens` after the current context and append them to it."""

    @abstractmethod
    def reset(self) -> None:
        """Forget the context, so the next prefill evaluates everything."""

    @abstractmethod
    def start_sampling(self, params: SamplingParams) -> None:
        """Set up sampling for the tokens that follow the current context."""

    @abstractmethod
    def sample(self) -> int:
        """Pick the next token from the logits of the last evaluated position."""

    def resume_sampling(self, tokens: Sequence[int]) -> None:  # noqa: B027 - optional hook
        """Replay tokens generated before a preemption into stateful samplers (grammars)."""

    def stream_completion(
        self,
        prompt: Sequence[int],
        messages: Sequence[tuple[str, str]],
        max_tokens: int,
        stop: Sequence[str],
        sampling: SamplingParams,
        should_stop: Callable[[], bool],
    ) -> Iterator[str]:
        """Remote backends: stream the text generated for `prompt` (or for the chat
        `messages` when given); stop, closing the request, once `should_stop()` is true."""
        raise NotImplementedError(f"{self.name} generates in process")

    def json_schema_grammar(self, schema: str) -> str | None:
        """A grammar for `SamplingParams.grammar` that constrains output to a JSON schema,
        or None when this backend cannot constrain output."""
        return None

    @property
    @abstractmethod
    def n_past(self) -> int:
        """Tokens currently held in the context."""

    # -- resources ------------------------------------------------------------------------
    @abstractmethod
    def memory_bytes(self) -> int:
        """Estimated memory held by this model: weights plus context state."""

    @abstractmethod
    def version(self) -> str: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free native resources early (otherwise the garbage collector does)."""
