"""llama-cpp-python backend: loads every current GGUF.

Hearth drives the context itself (prefill in batches with a stop check between them, one
sampler per generation) instead of calling `Llama.generate`, so cancellation reaches into
prefill and the reuse of the previous call's prefix is measured rather than assumed.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import io
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from hearth.engine.backend import Backend, LoadOptions, SamplingParams
from hearth.engine.kv_reuse import TailReuse
from hearth.engine.model_file import ModelFile
from hearth.errors import BackendUnavailableError, ModelLoadError

log = logging.getLogger(__name__)

_native_log: collections.deque[str] = collections.deque(maxlen=40)
_log_callback: Any = None
_load_lock = threading.Lock()


def _import() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailableError(
            f"llama-cpp-python is not installed or failed to import ({exc})",
            "pip install llama-cpp-python, or use --backend ctransformers",
        ) from None
    _route_native_logs(llama_cpp)
    return llama_cpp


def _route_native_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's own log lines to Python logging and keep the recent ones.

    The library otherwise prints to stderr, or with verbose=False redirects the process's
    stdout while loading — which would swallow LSP messages written meanwhile.
    """
    global _log_callback
    if _log_callback is not None:
        return
    native = logging.getLogger("hearth.native.llama_cpp")

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", errors="replace").rstrip()
        if line:
            _native_log.append(line)
            native.debug("%s", line)

    _log_callback = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def _log_softmax(logits: Any) -> Any:
    import numpy as np

    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def recent_native_errors() -> str:
    """The last llama.cpp lines mentioning an error, for a load failure's message."""
    lines = [ln for ln in _native_log if "error" in ln.lower() or "failed" in ln.lower()]
    return "; ".join(lines[-3:])


def library_version() -> str:
    from importlib.metadata import version

    return version("llama-cpp-python")


# Sequence ids: the context, a moved tail waiting (see _move_tail), a context kept aside
# during speculative work (see Backend.checkpoint).
_MAIN, _PARK, _ASIDE = 0, 1, 2


def has_extra_buffers_switch(llama_cpp: Any) -> bool:
    """Whether this llama-cpp-python's model params carry `use_extra_bufts` (0.3.36 does):
    setting a field ctypes does not know would silently do nothing."""
    fields = getattr(llama_cpp.llama_model_params, "_fields_", ())
    return any(name == "use_extra_bufts" for name, *_ in fields)


@contextlib.contextmanager
def _extra_sequences(llama_cpp: Any, extra_buffers: bool = True) -> Iterator[None]:
    """Create the Llama context with room for the parked tail and the context kept aside
    (`_PARK`, `_ASIDE`) in one unified KV cache, and the model without llama.cpp's extra
    weight buffers (AMX, repacked) when `extra_buffers` is False.

    llama-cpp-python exposes neither `n_seq_max`/`kv_unified` nor `use_extra_bufts` on
    `Llama`, so its context and model classes are wrapped while the model loads (only the
    inference worker and the probe load models).
    """
    module = llama_cpp.llama.internals
    original, original_model = module.LlamaContext, module.LlamaModel

    class _Context(original):  # type: ignore[misc, valid-type]
        def __init__(self, *, model: Any, params: Any, verbose: bool = True) -> None:
            params.n_seq_max = _ASIDE + 1
            params.kv_unified = True
            super().__init__(model=model, params=params, verbose=verbose)

    class _Model(original_model):  # type: ignore[misc, valid-type]
        def __init__(self, *, path_model: str, params: Any, verbose: bool = True) -> None:
            params.use_extra_bufts = False
            super().__init__(path_model=path_model, params=params, verbose=verbose)

    plain = not extra_buffers and has_extra_buffers_switch(llama_cpp)
    if not extra_buffers and not plain:
        log.warning("this llama-cpp-python cannot turn off its extra (AMX/repacked) buffers")
    with _load_lock:
        module.LlamaContext = _Context
        if plain:
            module.LlamaModel = _Model
        try:
            yield
        finally:
            module.LlamaContext, module.LlamaModel = original, original_model


class LlamaCppBackend(Backend):
    name = "llamacpp"

    def __init__(self, model: ModelFile, options: LoadOptions) -> None:
        super().__init__(model, options)
        llama_cpp = _import()
        n_ctx = options.n_ctx
        if model.context_length:
            n_ctx = min(n_ctx, model.context_length)
        _native_log.clear()
        chatter = io.StringIO()  # verbose=True prints Python-side notes; keep them for the log
        try:
            with (
                contextlib.redirect_stderr(chatter),
                _extra_sequences(llama_cpp, options.extra_buffers),
            ):
                self._llm = llama_cpp.Llama(
                    model_path=str(model.path),
                    n_ctx=n_ctx,
                    n_batch=options.n_batch,
                    n_ubatch=options.n_batch,
                    n_threads=options.threads(),
                    n_threads_batch=options.threads(),
                    n_gpu_layers=options.n_gpu_layers,
                    seed=options.seed,
                    logits_all=False,
                    verbose=True,  # native output goes through _route_native_logs instead
                )
        except (ValueError, RuntimeError, OSError) as exc:
            detail = recent_native_errors() or str(exc)
            raise ModelLoadError(
                f"llama-cpp-python could not load {model.path} "
                f"(architecture {model.architecture}): {detail}",
                "the file may be corrupt or need a newer llama-cpp-python; "
                "`hearth model info PATH` shows what the file declares",
            ) from None
        finally:
            for line in chatter.getvalue().splitlines():
                log.debug("llama-cpp-python: %s", line)
        self._eog = frozenset(self._collect_eog())
        memory = self._llm._ctx.memory
        self._can_shift = memory is not None and bool(llama_cpp.llama_memory_can_shift(memory))
        self._sampler: Any = None
        self._grammars: dict[str, Any] = {}
        self._constrained = False

    def _collect_eog(self) -> set[int]:
        """eos, eot and every control token llama.cpp treats as end-of-generation."""
        llama_cpp = _import()
        model = self._llm._model
        ids = {int(model.token_eos()), int(model.token_eot())}
        types = self.model.metadata.get("tokenizer.ggml.token_type")
        if isinstance(types, list):
            control = [i for i, t in enumerate(types) if t == 3]  # 3 = CONTROL
            ids.update(i for i in control if llama_cpp.llama_vocab_is_eog(model.vocab, i))
        return {i for i in ids if 0 <= i < self.n_vocab}

    @property
    def n_ctx(self) -> int:
        return int(self._llm.n_ctx())

    @property
    def n_vocab(self) -> int:
        return int(self._llm.n_vocab())

    @property
    def bos_id(self) -> int | None:
        bos = int(self._llm.token_bos())
        return bos if bos >= 0 else None

    @property
    def eog_ids(self) -> frozenset[int]:
        return self._eog

    @property
    def add_bos(self) -> bool:
        return bool(self._llm._model.add_bos_token()) if self.bos_id is not None else False

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        if not text:
            return [self.bos_id] if add_bos and self.bos_id is not None else []
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False))

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return bytes(self._llm.detokenize(list(tokens), special=False))

    @property
    def n_past(self) -> int:
        return int(self._llm.n_tokens)

    def _cached_tokens(self) -> Sequence[int]:
        return list(self._llm._input_ids[: self._llm.n_tokens])

    def _keep_prefix(self, n: int) -> int:
        llm = self._llm
        if n > 0 and llm._ctx.kv_cache_seq_rm(_MAIN, n, -1):
            llm.n_tokens = n
            return n
        llm.reset()
        return 0

    def _eval(self, tokens: Sequence[int]) -> None:
        self._llm.eval(list(tokens))

    @property
    def can_draft(self) -> bool:
        return True

    def accept_draft(self, token: int, guess: Sequence[int]) -> list[int]:
        import numpy as np

        llm = self._llm
        batch = [token, *guess]
        start = llm.n_tokens
        # The context's sequence only (the wrapper reads -1 as 0 too): a context kept aside
        # (`_ASIDE`) shares cells below `start` and holds its own above it.
        llm._ctx.kv_cache_seq_rm(_MAIN, start, -1)
        llm._batch.set_batch(batch=batch, n_past=start, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[start : start + len(batch)] = batch
        rows = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(batch), llm.n_vocab()))
        choices = rows.argmax(axis=1)  # greedy: the first highest logit, as llama.cpp picks
        agreed = 0
        while agreed < len(guess) and guess[agreed] == int(choices[agreed]):
            agreed += 1
        keep = start + 1 + agreed
        if keep < start + len(batch):
            llm._ctx.kv_cache_seq_rm(_MAIN, keep, -1)
        llm.n_tokens = keep
        return [*guess[:agreed], int(choices[agreed])]

    @property
    def can_score(self) -> bool:
        return True

    def top_tokens(self, k: int) -> list[tuple[int, float]]:
        import numpy as np

        llm = self._llm
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
        lp = _log_softmax(logits)
        top = np.argpartition(-lp, k)[:k]
        return sorted(((int(t), float(lp[t])) for t in top), key=lambda p: -p[1])

    def score(self, keep: int, tokens: Sequence[int]) -> list[float]:
        import numpy as np

        llm = self._llm
        self._keep_prefix(keep)
        start = llm.n_tokens
        batch = list(tokens)
        llm._batch.set_batch(batch=batch, n_past=start, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[start : start + len(batch)] = batch
        llm.n_tokens = start + len(batch)
        rows = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(batch), llm.n_vocab()))
        return [float(_log_softmax(rows[i])[batch[i + 1]]) for i in range(len(batch) - 1)]

    def reset(self) -> None:
        self._forget_branch()
        self._llm.reset()

    # -- moving a cached tail (kv_reuse.py) ---------------------------------------------------
    # llama.cpp requires each sequence's new positions to follow its last one, so the tail
    # is parked in a second sequence while the middle is evaluated on the main one (the
    # park is invisible to it), then handed back. The KV cache is unified: no copies.
    @property
    def can_shift(self) -> bool:
        return self._can_shift

    def _move_tail(self, plan: TailReuse, old_end: int) -> None:
        llama_cpp, mem = _import(), self._llm._ctx.memory
        llama_cpp.llama_memory_seq_rm(mem, _MAIN, old_end - 1, -1)
        llama_cpp.llama_memory_seq_cp(mem, _MAIN, _PARK, plan.old_tail, old_end - 1)
        llama_cpp.llama_memory_seq_rm(mem, _MAIN, plan.keep, -1)
        if plan.shift:
            llama_cpp.llama_memory_seq_add(mem, _PARK, plan.old_tail, old_end - 1, plan.shift)
        self._llm.n_tokens = plan.keep

    @property
    def can_branch(self) -> bool:
        return self._can_shift  # a unified KV cache of plain attention layers

    def _save_branch(self) -> None:
        llama_cpp, mem = _import(), self._llm._ctx.memory
        llama_cpp.llama_memory_seq_rm(mem, _ASIDE, -1, -1)
        llama_cpp.llama_memory_seq_cp(mem, _MAIN, _ASIDE, -1, -1)

    def _restore_branch(self, tokens: list[int]) -> None:
        llama_cpp, mem, llm = _import(), self._llm._ctx.memory, self._llm
        for seq in (_MAIN, _PARK):
            llama_cpp.llama_memory_seq_rm(mem, seq, -1, -1)
        llama_cpp.llama_memory_seq_cp(mem, _ASIDE, _MAIN, -1, -1)
        llama_cpp.llama_memory_seq_rm(mem, _ASIDE, -1, -1)
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)

    def _drop_branch(self) -> None:
        _import().llama_memory_seq_rm(self._llm._ctx.memory, _ASIDE, -1, -1)

    def _drop_tail(self) -> None:
        _import().llama_memory_seq_rm(self._llm._ctx.memory, _PARK, -1, -1)

    def _adopt_tail(self, plan: TailReuse, tokens: Sequence[int]) -> None:
        llama_cpp, mem, llm = _import(), self._llm._ctx.memory, self._llm
        end = plan.new_tail + len(tokens)
        llama_cpp.llama_memory_seq_cp(mem, _PARK, _MAIN, plan.new_tail, end)
        llama_cpp.llama_memory_seq_rm(mem, _PARK, -1, -1)
        llm.input_ids[plan.new_tail : end] = tokens
        llm.n_tokens = end

    def start_sampling(self, params: SamplingParams) -> None:
        llm = self._llm
        llm.set_seed(params.seed)
        llm.last_n_tokens_size = params.repeat_last_n
        self._sampler = llm._init_sampler(
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=params.min_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
            grammar=self._grammar(params.grammar),
        )
        self._constrained = params.grammar is not None

    def _grammar(self, text: str | None) -> Any:
        if text is None:
            return None
        if text not in self._grammars:
            llama_cpp = _import()
            self._grammars[text] = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def resume_sampling(self, tokens: Sequence[int]) -> None:
        # llama_sampler_sample accepts each sampled token itself; a fresh sampler after a
        # preemption must be told what was generated so the grammar continues from there.
        if self._constrained and self._sampler is not None:
            for token in tokens:
                self._sampler.accept(token)

    def json_schema_grammar(self, schema: str) -> str | None:
        _import()
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        return str(json_schema_to_gbnf(schema))

    def sample(self) -> int:
        if self._sampler is None:
            self.start_sampling(SamplingParams())
        return int(self._sampler.sample(self._llm._ctx, -1))

    def memory_bytes(self) -> int:
        llama_cpp = _import()
        try:
            state = int(llama_cpp.llama_state_get_size(self._llm._ctx.ctx))
        except Exception:
            log.debug("llama_state_get_size failed", exc_info=True)
            state = 0
        return self.model.size + state

    def version(self) -> str:
        return library_version()

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None
