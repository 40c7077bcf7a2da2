"""The `http` backend: an OpenAI-compatible inference server (llama.cpp, vLLM, Ollama).

A server generates whole texts, not one token per call, so this backend does not take part
in prefill/sample/accept: `remote` is true and `generate()` drives `stream_completion()`
instead, keeping stops, budgets and cancellation in one place.

Prompts above the engine are built as token ids. Here an id stands for a piece of text (the
first id of a tokenized run carries the run's text, the others are fillers), so a prompt
turns back into exactly the text that was tokenized, special tokens spelled out, while its
length is the server's real token count: from the server's `/tokenize`, else a local GGUF
vocab (`server_tokenizer`), else an estimate of one token per CHARS_PER_TOKEN characters.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hearth.engine.backend import Backend, LoadOptions, SamplingParams
from hearth.engine.http_client import HttpClient, HttpStatusError, InferenceServerError
from hearth.engine.http_endpoint import HttpEndpoint
from hearth.engine.model_file import FileKind, ModelFile
from hearth.errors import ConfigError

log = logging.getLogger(__name__)

# Without a tokenizer, a prompt's length is estimated at one token per this many characters:
# code averages 3-4 characters per token in BPE vocabularies, so 3 keeps budgets on the safe
# side of the server's context.
CHARS_PER_TOKEN = 3.0
FILLER = 1  # the id of "no more text" in a tokenized run
_FIRST_ID = 2
_COUNT_CACHE = 4096
_MAX_TEXTS = 2048


class HttpBackend(Backend):
    name = "http"
    remote = True

    def __init__(self, model: ModelFile, options: LoadOptions) -> None:
        super().__init__(model, options)
        if options.http is None:
            raise ConfigError('backend = "http" needs a server_url')
        self.endpoint: HttpEndpoint = options.http
        self.client = HttpClient(self.endpoint)
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {"": FILLER}
        self._texts: dict[int, str] = {FILLER: ""}
        self._next_id = _FIRST_ID
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._local: Any = None
        self.tokenizer = "estimate"
        self._tokenize_body: Callable[[str], tuple[str, dict[str, Any]]] | None = None
        self.flavor = "openai"
        self.slot: int | None = None
        self.server_n_ctx: int | None = None
        self.models: list[str] = []
        self._probe()

    # -- discovery --------------------------------------------------------------------------
    def _probe(self) -> None:
        data = self.client.get_json("/v1/models")
        entries = data.get("data", []) if isinstance(data, dict) else []
        self.models = [str(e.get("id")) for e in entries if isinstance(e, dict) and e.get("id")]
        if self.endpoint.model is None and not self.models:
            raise InferenceServerError(
                f"the inference server at {self.endpoint.display()} lists no model",
                "load a model in the server, or set server_model",
            )
        self.served_model = self.endpoint.model or self.models[0]
        if self.model.architecture == "remote":  # no local GGUF: name the stub after it
            self.model = model_stub(HttpEndpoint(model=self.served_model), None)
        if self.endpoint.model and self.models and self.endpoint.model not in self.models:
            log.warning(
                "server_model %r is not among the server's models (%s)",
                self.endpoint.model,
                ", ".join(self.models),
            )
        for e in entries:
            if isinstance(e, dict) and e.get("id") == self.served_model:
                n = e.get("max_model_len") or (e.get("meta") or {}).get("n_ctx_train")
                if isinstance(n, int) and n > 0:
                    self.server_n_ctx = n
        self._probe_llamacpp()
        self._probe_tokenizer()
        log.info(
            "inference server %s (%s): model %s, context %d tokens, tokens counted by %s%s",
            self.endpoint.display(),
            self.flavor,
            self.served_model,
            self.n_ctx,
            self.tokenizer,
            f", prompt cache in slot {self.slot}" if self.slot is not None else "",
        )
        if not self.endpoint.is_loopback():
            log.warning("serving through a remote inference server: %s", self.endpoint.display())

    def _probe_llamacpp(self) -> None:
        """llama.cpp's own server: prompt caching in a fixed slot per editor."""
        try:
            props = self.client.get_json("/props")
        except InferenceServerError:
            return
        if not isinstance(props, dict) or "default_generation_settings" not in props:
            return
        self.flavor = "llama.cpp"
        settings = props.get("default_generation_settings") or {}
        n = settings.get("n_ctx") if isinstance(settings, dict) else None
        if isinstance(n, int) and n > 0:
            self.server_n_ctx = n
        slots = props.get("total_slots")
        if isinstance(slots, int) and slots > 0:
            # One slot per editor process keeps each editor's prompt prefix cached there.
            self.slot = os.getpid() % slots
        log.info(
            "llama.cpp server: completions use cache_prompt in slot %s of %s",
            self.slot,
            slots,
        )

    def _probe_tokenizer(self) -> None:
        candidates: list[Callable[[str], tuple[str, dict[str, Any]]]] = [
            lambda t: ("/tokenize", {"content": t, "add_special": False}),  # llama.cpp
            lambda t: (
                "/tokenize",
                {"model": self.served_model, "prompt": t, "add_special": False},
            ),  # vLLM
            lambda t: ("/extras/tokenize", {"input": t, "model": self.served_model}),  # l-c-p
        ]
        for make in candidates:
            path, body = make("def f():")
            try:
                answer = self.client.post_json(path, body)
            except HttpStatusError:
                continue
            if isinstance(answer, dict) and isinstance(answer.get("tokens"), list):
                self._tokenize_body = make
                self.tokenizer = f"the server ({path})"
                return
        if self.endpoint.tokenizer:
            self._local = _load_local_tokenizer(Path(self.endpoint.tokenizer))
            self.tokenizer = f"the local vocab of {Path(self.endpoint.tokenizer).name}"
            return
        log.warning(
            "the inference server has no /tokenize and no server_tokenizer is set: prompt "
            "lengths are estimated at %.0f characters per token",
            CHARS_PER_TOKEN,
        )

    # -- tokens -----------------------------------------------------------------------------
    @property
    def knows_vocab(self) -> bool:
        return self.tokenizer != "estimate"

    def _server_tokens(self, text: str) -> list[int]:
        assert self._tokenize_body is not None
        path, body = self._tokenize_body(text)
        answer = self.client.post_json(path, body)
        tokens = answer.get("tokens", []) if isinstance(answer, dict) else []
        return [t if isinstance(t, int) else int(t.get("id", 0)) for t in tokens]

    def count_tokens(self, text: str, *, special: bool = False) -> int:
        """How many tokens the server's model makes of `text`."""
        if not text:
            return 0
        key = ("S" if special else "T") + text
        with self._lock:
            if key in self._counts:
                self._counts.move_to_end(key)
                return self._counts[key]
        if self._tokenize_body is not None:
            n = len(self._server_tokens(text))
        elif self._local is not None:
            n = len(self._local.tokenize(text.encode("utf-8"), add_bos=False, special=special))
        else:
            n = max(1, math.ceil(len(text) / CHARS_PER_TOKEN))
        with self._lock:
            self._counts[key] = n
            if len(self._counts) > _COUNT_CACHE:
                self._counts.popitem(last=False)
        return n

    def _intern(self, text: str) -> int:
        with self._lock:
            tid = self._ids.get(text)
            if tid is None:
                tid = self._next_id  # never reused, so a stale id cannot alias new text
                self._next_id += 1
                self._ids[text] = tid
                self._texts[tid] = text
            return tid

    def _forget_texts(self) -> None:
        """Bound the id table: a prompt is rendered once, right before it is sent, and the
        completion worker builds the next one afterwards, so old ids are never needed."""
        with self._lock:
            if len(self._texts) > _MAX_TEXTS:
                self._ids = {"": FILLER}
                self._texts = {FILLER: ""}

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        if not text:
            return []
        n = self.count_tokens(text)
        return [self._intern(text)] + [FILLER] * (n - 1)

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return self.text_of(tokens).encode("utf-8")

    def text_of(self, tokens: Sequence[int]) -> str:
        with self._lock:
            return "".join(self._texts.get(t, "") for t in tokens)

    def special_token_id(self, text: str) -> int | None:
        """An id for `text` when the server's vocab has it as one token; with no tokenizer
        every asked-for special is trusted (the template must then be set explicitly)."""
        if self.knows_vocab and not (len(text) > 1 and self.count_tokens(text, special=True) == 1):
            return None
        return self._intern(text)

    @property
    def n_ctx(self) -> int:
        if self.server_n_ctx:
            return min(self.options.n_ctx, self.server_n_ctx)
        return self.options.n_ctx

    @property
    def n_vocab(self) -> int:
        return self._next_id

    @property
    def bos_id(self) -> int | None:
        return None  # the server adds BOS to a text prompt itself

    @property
    def add_bos(self) -> bool:
        return False

    @property
    def eog_ids(self) -> frozenset[int]:
        return frozenset()

    # -- generation -------------------------------------------------------------------------
    def stream_completion(
        self,
        prompt: Sequence[int],
        messages: Sequence[tuple[str, str]],
        max_tokens: int,
        stop: Sequence[str],
        sampling: SamplingParams,
        should_stop: Callable[[], bool],
    ) -> Iterator[str]:
        """Text pieces as the server streams them; chat when `messages` is given."""
        body: dict[str, Any] = {
            "model": self.served_model,
            "max_tokens": max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k,
            "min_p": sampling.min_p,
            "repeat_penalty": sampling.repeat_penalty,
            "seed": sampling.seed,
            "stream": True,
        }
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API takes at most 4; Hearth stops too
        if sampling.grammar is not None:
            body["grammar"] = sampling.grammar
        if messages:
            body["messages"] = [{"role": r, "content": c} for r, c in messages]
            path = "/v1/chat/completions"
        else:
            body["prompt"] = self.text_of(prompt)
            path = "/v1/completions"
            if self.flavor == "llama.cpp":
                body["cache_prompt"] = True
                if self.slot is not None:
                    body["id_slot"] = self.slot
        if not messages:
            self._forget_texts()
        for event in self.client.stream(path, body, should_stop):
            for choice in event.get("choices") or []:
                if not isinstance(choice, dict):
                    continue
                if messages:
                    piece = (choice.get("delta") or {}).get("content") or ""
                else:
                    piece = choice.get("text") or ""
                if piece:
                    yield str(piece)

    def json_schema_grammar(self, schema: str) -> str | None:
        """llama.cpp-based servers take a GBNF grammar; others are asked in the prompt."""
        if self.flavor != "llama.cpp" and "/extras/" not in self.tokenizer:
            return None
        try:
            from llama_cpp.llama_grammar import json_schema_to_gbnf
        except ImportError:
            return None
        return str(json_schema_to_gbnf(schema))

    # -- the in-process steps do not apply ----------------------------------------------------
    @property
    def n_past(self) -> int:
        return 0

    def _cached_tokens(self) -> Sequence[int]:
        return []

    def _keep_prefix(self, n: int) -> int:
        return 0

    def _eval(self, tokens: Sequence[int]) -> None:
        raise NotImplementedError("the http backend generates on the server")

    def reset(self) -> None:
        pass

    def start_sampling(self, params: SamplingParams) -> None:
        raise NotImplementedError("the http backend generates on the server")

    def sample(self) -> int:
        raise NotImplementedError("the http backend generates on the server")

    def memory_bytes(self) -> int:
        return 0  # the model lives in the server

    def version(self) -> str:
        return f"{self.flavor} server at {self.endpoint.display()}"


def _load_local_tokenizer(path: Path) -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise ConfigError(
            "server_tokenizer needs llama-cpp-python to read the GGUF vocab",
            "pip install llama-cpp-python, or unset server_tokenizer",
        ) from None
    if not path.is_file():
        raise ConfigError(f"server_tokenizer {path} does not exist")
    return llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)


def model_stub(endpoint: HttpEndpoint, tokenizer: Path | None) -> ModelFile:
    """The ModelFile that stands for the server's model (the tokenizer GGUF when given)."""
    if tokenizer is not None and tokenizer.is_file():
        from hearth.engine.model_file import read_model_file

        return read_model_file(tokenizer)
    name = endpoint.model or "server-model"
    return ModelFile(
        path=Path(name),
        kind=FileKind.GGUF,
        size=0,
        metadata={"general.name": name, "general.architecture": "remote"},
    )
