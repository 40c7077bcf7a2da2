"""The engine facade: models per role, loaded once, driven through the single worker.

Two roles, completion (a base coder model, FIM) and chat (an instruct model for Explain and
Review). A file that serves both is loaded once. Every load and every generation runs on the
inference worker, so a completion never competes with a review for the CPU: it goes first,
and a running review pauses between two tokens and resumes afterwards, intact.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from hearth.engine.backend import BACKGROUND_PREFILL_CHUNK, Backend, LoadOptions
from hearth.engine.generate import Generation, GenerationRequest, StopReason, generate
from hearth.engine.loader import load_backend
from hearth.engine.rank import generate_ranked, ranked
from hearth.engine.templates import FimTemplate, detect_template, get_template, load_templates
from hearth.engine.worker import InferenceWorker, JobControl, JobHandle, JobPreempted, Priority

log = logging.getLogger(__name__)


class Role(str, Enum):
    COMPLETION = "completion"
    CHAT = "chat"


@dataclass(frozen=True)
class ModelSpec:
    """A model file and how to load it; equal specs share one loaded model."""

    path: Path
    backend: str = "auto"
    options: LoadOptions = field(default_factory=LoadOptions)
    probe: bool = False  # test-load in a child process first (the `model_probe` setting)


PromptBuilder = Callable[[Backend], tuple[list[int], GenerationRequest]]


class _GenerationJob:
    """A generation that survives preemption: it keeps what it generated and resumes.

    A non-`resumable` one (a speculative completion) ends cancelled instead: the request
    that preempted it filled the context with its own prompt, and resuming would evaluate
    the speculative prompt again and push the user's prompt out of the cache, for a place
    the user has left.
    """

    def __init__(
        self,
        engine: Engine,
        role: Role,
        build: PromptBuilder,
        on_text: Callable[[str], None] | None,
        resumable: bool = True,
    ) -> None:
        self.engine = engine
        self.role = role
        self.build = build
        self.on_text = on_text
        self.resumable = resumable
        self.prompt: list[int] | None = None
        self.request: GenerationRequest | None = None
        self.parts: list[Generation] = []
        self.submitted = time.perf_counter()
        self.queue_s = self.build_s = 0.0

    def __call__(self, control: JobControl) -> Generation:
        backend = self.engine.backend_for(self.role)
        if self.prompt is None or self.request is None:
            started = time.perf_counter()
            self.queue_s = started - self.submitted
            self.prompt, self.request = self.build(backend)
            self.build_s = time.perf_counter() - started
            self.engine.count("generations")
        done = [t for g in self.parts for t in g.tokens]
        request = replace(self.request, max_tokens=max(0, self.request.max_tokens - len(done)))
        # Speculative work keeps the user's context aside: the next request may need it.
        aside = not self.resumable and backend.checkpoint(self.prompt, request.max_tokens)
        gen: Generation | None = None
        try:
            if not done and ranked(request, backend):  # preempted: it starts again
                gen = generate_ranked(backend, self.prompt, request, should_stop=control.check)
            else:
                gen = generate(
                    backend,
                    self.prompt,
                    replace(request, branches=1),
                    should_stop=control.check,
                    on_text=self.on_text,
                    resume=done,
                )
        finally:
            if aside:
                stopped = gen is None or gen.stop_reason in (
                    StopReason.CANCELLED,
                    StopReason.PREEMPTED,
                )
                backend.release(rollback=stopped)
        self.parts.append(gen)
        self.engine.count("evaluated_tokens", gen.n_evaluated)
        if gen.stop_reason is StopReason.PREEMPTED:
            if not self.resumable:
                self.engine.count("dropped_background")
                gen.stop_reason = StopReason.CANCELLED
                return self._combined()
            raise JobPreempted
        return self._combined()

    def _combined(self) -> Generation:
        first, last = self.parts[0], self.parts[-1]
        return Generation(
            text="".join(g.text for g in self.parts),
            stop_reason=last.stop_reason,
            tokens=[t for g in self.parts for t in g.tokens],
            n_prompt=first.n_prompt,
            n_reused=first.n_reused,
            n_evaluated=sum(g.n_evaluated for g in self.parts),
            prefill_s=sum(g.prefill_s for g in self.parts),
            decode_s=sum(g.decode_s for g in self.parts),
            n_drafted=sum(g.n_drafted for g in self.parts),
            n_draft_accepted=sum(g.n_draft_accepted for g in self.parts),
            queue_s=self.queue_s,
            build_s=self.build_s,
        )


class Engine:
    def __init__(
        self,
        completion: ModelSpec | None,
        chat: ModelSpec | None = None,
        *,
        fim_template: str = "auto",
        templates_dir: Path | None = None,
    ) -> None:
        self.specs: dict[Role, ModelSpec | None] = {
            Role.COMPLETION: completion,
            Role.CHAT: chat or completion,
        }
        self.fim_template_name = fim_template
        self.templates = load_templates(templates_dir)
        self.worker = InferenceWorker()
        # A shared server runs requests side by side: explain/review get their own thread
        # there so a long review never holds up a completion (nothing to preempt locally).
        chat_spec = self.specs[Role.CHAT]
        self.remote_chat = chat_spec is not None and chat_spec.backend == "http"
        self.chat_worker = InferenceWorker("hearth-http-chat") if self.remote_chat else self.worker
        self._load_lock = threading.Lock()
        self._loaded: dict[ModelSpec, Backend] = {}
        self._fim: dict[ModelSpec, FimTemplate] = {}
        self._lock = threading.Lock()
        # Model calls by kind ("generations", "warmups", evaluated tokens): what tests and
        # benchmarks read to prove a request was or was not served by the model.
        self.counters: Counter[str] = Counter()

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    # -- models ---------------------------------------------------------------------------
    def backend_for(self, role: Role) -> Backend:
        """The loaded model for `role`, loading it first. Runs on the worker thread."""
        spec = self.specs[role]
        if spec is None:
            from hearth.errors import ModelNotFoundError

            raise ModelNotFoundError(
                f"no {role.value} model is configured",
                "pass --model /path/to/model.gguf or set HEARTH_MODEL",
            )
        with self._load_lock:  # two workers may ask at once; load each spec once
            with self._lock:
                backend = self._loaded.get(spec)
            if backend is None:
                backend = load_backend(spec.path, spec.backend, spec.options, probe=spec.probe)
                with self._lock:
                    self._loaded[spec] = backend
        return backend

    def load(self, role: Role = Role.COMPLETION) -> JobHandle[Backend]:
        """Load the model for `role` on the worker (ahead of chat work, after completions)."""
        return self.worker.submit(
            lambda _c: self.backend_for(role),
            priority=Priority.COMPLETION if role is Role.COMPLETION else Priority.CHAT,
            name=f"load {role.value}",
        )

    def fim_template(self, backend: Backend) -> FimTemplate:
        """The configured template, or the family detected from the model's vocabulary."""
        spec = next((s for s, b in self._loaded.items() if b is backend), None)
        if spec is not None and spec in self._fim:
            return self._fim[spec]
        if self.fim_template_name != "auto":
            tpl = get_template(self.templates, self.fim_template_name)
        elif not backend.knows_vocab:
            tpl = get_template(self.templates, "prefix-only")
            log.warning(
                "the model's vocabulary is unknown (no tokenizer): completing from the prefix "
                "only; set fim_template (or server_tokenizer) to use the code after the cursor"
            )
        else:

            def count(text: str) -> int | None:
                return 1 if backend.special_token_id(text) is not None else None

            tpl = detect_template(self.templates, count)
            if tpl.required:
                log.info("FIM template %s detected from the vocabulary", tpl.name)
            else:
                log.info(
                    "%s has no FIM tokens: completing from the prefix only (the code after "
                    "the cursor is not seen by the model)",
                    backend.model.path.name,
                )
        if spec is not None:
            self._fim[spec] = tpl
        return tpl

    def memory(self) -> dict[str, int]:
        """Bytes held per role; a shared file is counted once, under both roles' names."""
        out: dict[str, int] = {}
        with self._lock:
            for role, spec in self.specs.items():
                if spec is not None and spec in self._loaded:
                    out[role.value] = self._loaded[spec].memory_bytes()
            shared = (
                self.specs[Role.COMPLETION] == self.specs[Role.CHAT]
                and Role.COMPLETION.value in out
            )
        if shared:
            out["total"] = out[Role.COMPLETION.value]
        else:
            out["total"] = sum(out.values())
        return out

    # -- generation -----------------------------------------------------------------------
    def submit(
        self,
        role: Role,
        build: PromptBuilder,
        *,
        on_text: Callable[[str], None] | None = None,
        group: str | None = None,
        supersede: bool = False,
        background: bool = False,
    ) -> JobHandle[Generation]:
        """Queue a generation. Completions go first; chat work is preemptible and resumes.

        `background` (a speculative completion) runs last and ends, cancelled, as soon as
        any other request comes: nobody is waiting for it yet."""
        job = _GenerationJob(self, role, build, on_text, resumable=not background)
        is_chat = role is Role.CHAT
        worker = self.chat_worker if is_chat else self.worker
        priority = Priority.CHAT if is_chat else Priority.COMPLETION
        return worker.submit(
            job,
            priority=Priority.BACKGROUND if background else priority,
            group=group,
            supersede=supersede,
            preemptible=background or (is_chat and not self.remote_chat),
            name=f"{role.value} generation",
        )

    def warm(
        self,
        role: Role,
        build: Callable[[Backend], Sequence[int]],
        *,
        group: str | None = None,
        tail_budget: int = 0,
    ) -> JobHandle[int]:
        """Evaluate a prompt without generating, at background priority, so that the next
        request whose prompt starts the same way only evaluates what is new. Returns the
        number of tokens evaluated; a newer job of the same `group` cancels it."""

        def run(control: JobControl) -> int:
            backend = self.backend_for(role)
            if backend.remote:
                return 0  # a server caches prompts itself (llama.cpp: cache_prompt)
            tokens = list(build(backend))
            self.count("warmups")
            if not tokens or len(tokens) >= backend.n_ctx:
                return 0
            stats = backend.prefill(
                tokens,
                lambda: control.check() is not None,
                BACKGROUND_PREFILL_CHUNK,
                tail_budget=tail_budget,
            )
            self.count("evaluated_tokens", stats.n_evaluated)
            return stats.n_evaluated

        # Preemptible: any request stops it at the next chunk (a warm-up for one document
        # must not hold up a completion in another); what was evaluated stays valid.
        return self.worker.submit(
            run,
            priority=Priority.BACKGROUND,
            group=group,
            preemptible=True,
            name=f"{role.value} warm-up",
        )

    def close(self) -> None:
        self.worker.shutdown()
        if self.chat_worker is not self.worker:
            self.chat_worker.shutdown()
        with self._lock:
            for backend in self._loaded.values():
                backend.close()
            self._loaded.clear()
