"""ctransformers backend: CodeLlama-family GGUF (llama arch, SentencePiece vocab) and the
legacy GGML formats (StarCoder, GPT-2, GPT-J, GPT-NeoX, MPT, Replit, Falcon, LLaMA).

The library is frozen since 2023; Hearth checks what it can load before asking it, because its
own failure is a bare "Failed to create LLM" with the reason printed to the C-level stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from hearth.engine.backend import Backend, LoadOptions, SamplingParams
from hearth.engine.model_file import FileKind, ModelFile
from hearth.errors import BackendUnavailableError, ModelLoadError, UnsupportedModelError

log = logging.getLogger(__name__)


def _import() -> Any:
    try:
        import ctransformers
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendUnavailableError(
            f"ctransformers is not installed or failed to import ({exc})",
            "pip install ctransformers, or use --backend llamacpp",
        ) from None
    return ctransformers


def library_version() -> str:
    from importlib.metadata import version

    return version("ctransformers")


def unsupported_reason(model: ModelFile) -> str | None:
    """Why ctransformers cannot load this file, or None when it can."""
    if model.kind is FileKind.GGML:
        return None
    if model.architecture != "llama":
        return f"architecture {model.architecture!r} (ctransformers loads only llama GGUF files)"
    if model.tokenizer_model not in (None, "llama"):
        return (
            f"a {model.tokenizer_model!r} (BPE) vocabulary "
            "(ctransformers loads only SentencePiece llama GGUF files)"
        )
    return None


@contextlib.contextmanager
def _capture_native_stderr() -> Iterator[list[str]]:
    """Collect what C code writes to fd 2 while loading, to put it in the error message."""
    lines: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to capture
        yield lines
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            lines.extend(ln for ln in text.splitlines() if ln.strip())
            for ln in lines:
                log.debug("ctransformers: %s", ln)


class CTransformersBackend(Backend):
    name = "ctransformers"

    def __init__(self, model: ModelFile, options: LoadOptions) -> None:
        super().__init__(model, options)
        reason = unsupported_reason(model)
        if reason:
            raise UnsupportedModelError(
                f"ctransformers cannot load {model.path}: it has {reason}",
                'use --backend llamacpp (or backend = "auto"), which loads every current GGUF',
            )
        ct = _import()
        model_type = options.model_type or (
            "llama" if model.kind is FileKind.GGUF else model.legacy_model_type
        )
        if not model_type:
            raise ModelLoadError(
                f"cannot tell which model type the legacy GGML file {model.path} holds",
                "set model_type (one of starcoder, gpt2, gptj, gpt_neox, mpt, replit, falcon, "
                "dolly, llama) in hearth.toml, or name the file after its model type",
            )
        n_ctx = options.n_ctx
        if model.context_length:
            n_ctx = min(n_ctx, model.context_length)
        config = ct.Config(
            context_length=n_ctx,
            gpu_layers=options.n_gpu_layers,
            batch_size=options.n_batch,
            threads=options.threads(),
            seed=options.seed,
        )
        with _capture_native_stderr() as native:
            try:
                self._llm = ct.LLM(str(model.path), model_type, config=config)
                error: Exception | None = None
            except (RuntimeError, ValueError, OSError) as exc:
                error = exc
        if error is not None:
            detail = "; ".join(native[-3:]) or str(error)
            raise ModelLoadError(
                f"ctransformers could not load {model.path} as {model_type!r}: {detail}",
                "check the model type and that the file is complete; "
                "`hearth model info PATH` shows what the file declares",
            ) from None
        eog = {int(self._llm.eos_token_id)}
        for role in ("eos", "eot"):
            tid = model.special_token_ids().get(role)
            if tid is not None:
                eog.add(tid)
        self._eog = frozenset(i for i in eog if 0 <= i < self.n_vocab)
        self._params = SamplingParams()

    @property
    def n_ctx(self) -> int:
        return int(self._llm.context_length)

    @property
    def n_vocab(self) -> int:
        return int(self._llm.vocab_size)

    @property
    def bos_id(self) -> int | None:
        bos = int(self._llm.bos_token_id)
        return bos if bos >= 0 else None

    @property
    def eog_ids(self) -> frozenset[int]:
        return self._eog

    @property
    def add_bos(self) -> bool:
        return self.model.kind is FileKind.GGUF or self._llm.model_type == "llama"

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        if not text:
            return [self.bos_id] if add_bos and self.bos_id is not None else []
        return list(self._llm.tokenize(text, add_bos_token=add_bos))

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return bytes(self._llm.detokenize(list(tokens), decode=False))

    @property
    def n_past(self) -> int:
        return len(self._llm._context)

    def _cached_tokens(self) -> Sequence[int]:
        return list(self._llm._context)

    def _keep_prefix(self, n: int) -> int:
        self._llm._context = self._llm._context[:n]
        return n

    def _eval(self, tokens: Sequence[int]) -> None:
        opts = self.options
        self._llm.eval(list(tokens), batch_size=opts.n_batch, threads=opts.threads())

    def reset(self) -> None:
        self._llm._context = []

    def start_sampling(self, params: SamplingParams) -> None:
        self._params = params

    def sample(self) -> int:
        p = self._params
        return int(
            self._llm.sample(
                top_k=p.top_k,
                top_p=p.top_p,
                temperature=p.temperature,
                repetition_penalty=p.repeat_penalty,
                last_n_tokens=p.repeat_last_n,
                seed=p.seed,
            )
        )

    def memory_bytes(self) -> int:
        # ctransformers exposes no state size: weights plus an f16 KV-cache estimate.
        return self.model.size + self._kv_estimate()

    def _kv_estimate(self) -> int:
        meta = self.model.metadata
        arch = self.model.architecture
        n_layer = meta.get(f"{arch}.block_count")
        n_embd = meta.get(f"{arch}.embedding_length")
        if isinstance(n_layer, int) and isinstance(n_embd, int):
            return 2 * 2 * n_layer * n_embd * self.n_ctx
        return 0

    def version(self) -> str:
        return library_version()

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None and llm._llm is not None:
            # LLM.__del__ frees without clearing the handle; clear it so GC cannot free twice.
            llm._lib.ctransformers_llm_delete(llm._llm)
            llm._llm = None
        self._llm = None
