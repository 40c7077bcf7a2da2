"""The server's one engine: loads the configured model in the background and reports its state.

Start-up never waits for a model: the load runs on the inference worker with `$/progress`,
requests meanwhile get an empty answer at once, and a model that cannot be loaded is reported
once with `window/showMessage` while everything else keeps working.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from hearth.errors import HearthError
from hearth.settings import Settings

if TYPE_CHECKING:
    from hearth.engine.backend import Backend
    from hearth.engine.service import Engine
    from hearth.lsp.server import HearthServer

log = logging.getLogger(__name__)

# How often an unreachable inference server is tried again (seconds).
SERVER_RETRY_S = 10.0
SHUTDOWN_WAIT_S = 10.0  # `shutdown` waits this long at most for the model to be freed

# Settings whose change means loading the model again.
MODEL_KEYS = (
    "server_url",
    "server_model",
    "allow_remote",
    "server_api_key_env",
    "server_api_key_file",
    "server_timeout_ms",
    "server_retries",
    "server_tokenizer",
    "model",
    "chat_model",
    "backend",
    "model_type",
    "context_length",
    "threads",
    "batch_size",
    "gpu_layers",
    "model_probe",
    "fim_template",
    "seed",
)


@dataclass
class ModelState:
    state: str = "off"  # off | loading | ready | error
    message: str | None = None
    path: str | None = None
    backend: str | None = None
    remote: str | None = None  # a non-loopback inference server the code is sent to

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "message": self.message,
            "path": self.path,
            "backend": self.backend,
            "remote": self.remote,
        }


class ModelFeature:
    def __init__(self, server: HearthServer) -> None:
        self.server = server
        self.engine: Engine | None = None
        self.backend: Backend | None = None
        self.info = ModelState()
        self._task: asyncio.Task[None] | None = None
        self._generation = 0  # bumps on every (re)load so a stale load cannot win
        self.listeners: list[Any] = []  # callables run (on the loop) when the model is ready
        self._server_retrying = False  # an unreachable server is retried quietly

    @property
    def ready(self) -> bool:
        return self.info.state == "ready" and self.engine is not None

    def busy(self) -> bool:
        return self.engine is not None and self.engine.worker.pending() > 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, settings: Settings) -> None:
        """Resolve and load the completion model in the background (never downloads)."""
        self.close()
        self._generation += 1
        self._task = asyncio.get_running_loop().create_task(
            self._load(settings, self._generation), name="hearth-model-load"
        )
        self._task.add_done_callback(_log_task_error)

    async def _load(self, settings: Settings, generation: int) -> None:
        from hearth.engine.catalog import find_configured_model, load_options
        from hearth.engine.service import Engine, ModelSpec, Role

        if settings.backend == "http":
            await self._load_http(settings, generation)
            return
        try:
            path, how = find_configured_model(settings, "completion")
            chat_path, _ = find_configured_model(settings, "chat")
        except HearthError as exc:
            self._failed(exc.user_message())
            return
        if path is None:
            self.info = ModelState("off", how)
            self.server.show_message(
                f"Hearth: no completion model: {how}. Set `hearth.model` to a .gguf file "
                "or run `hearth model pull NAME`.",
                types.MessageType.Warning,
            )
            return
        options = load_options(settings)
        probe = settings.model_probe
        spec = ModelSpec(path, settings.backend, options, probe)
        chat = ModelSpec(chat_path, settings.backend, options, probe) if chat_path else None
        engine = Engine(spec, chat, fim_template=settings.fim_template)
        self.engine = engine
        self.info = ModelState("loading", how, str(path), None)
        token = await self._progress_begin(f"Hearth: loading {path.name}")
        try:
            backend = await asyncio.wrap_future(engine.load(Role.COMPLETION).future)
            # Template detection reads the vocabulary: do it now, not in the first request.
            detect = engine.worker.submit(lambda _c: engine.fim_template(backend), name="template")
            await asyncio.wrap_future(detect.future)
        except HearthError as exc:
            if generation == self._generation:
                self._failed(exc.user_message(), str(path))
            return
        except Exception as exc:  # a backend bug: still a message, never a dead server
            log.exception("model load failed")
            if generation == self._generation:
                self._failed(f"loading {path} failed: {exc}", str(path))
            return
        finally:
            self._progress_end(token)
        if generation != self._generation:
            return
        self.backend = backend
        self.info = ModelState("ready", how, str(path), backend.name)
        log.info("model ready: %s via %s", path, backend.name)
        for listener in list(self.listeners):
            listener()

    async def _load_http(self, settings: Settings, generation: int) -> None:
        """Connect to the shared inference server; a remote one is named in the status."""
        from hearth.engine.catalog import http_endpoint, http_spec
        from hearth.engine.http_client import ServerUnreachableError
        from hearth.engine.service import Engine, Role

        ep = http_endpoint(settings)
        where = ep.display() + ("" if ep.is_loopback() else " (REMOTE: your code is sent there)")
        engine = Engine(http_spec(settings), fim_template=settings.fim_template)
        self.engine = engine
        remote = None if ep.is_loopback() else ep.display()
        self.info = ModelState("loading", f"inference server {where}", ep.display(), "http", remote)
        try:
            backend = await asyncio.wrap_future(engine.load(Role.COMPLETION).future)
            detect = engine.worker.submit(lambda _c: engine.fim_template(backend), name="template")
            await asyncio.wrap_future(detect.future)
        except HearthError as exc:
            if generation == self._generation:
                if not self._server_retrying:
                    self._failed(exc.user_message(), ep.display())
                self.info = ModelState("error", exc.message, ep.display(), "http", remote)
                if isinstance(exc, ServerUnreachableError):  # comes back when the server does
                    self._server_retrying = True
                    asyncio.get_running_loop().call_later(
                        SERVER_RETRY_S, self._retry_server, settings, generation
                    )
            return
        self._server_retrying = False
        if generation != self._generation:
            return
        self.backend = backend
        self.info = ModelState("ready", f"inference server {where}", ep.display(), "http", remote)
        log.info("inference server ready: %s", where)
        for listener in list(self.listeners):
            listener()

    def _retry_server(self, settings: Settings, generation: int) -> None:
        if generation == self._generation and self.info.state == "error":
            log.info("trying the inference server again")
            self.start(settings)

    def _failed(self, message: str, path: str | None = None) -> None:
        log.warning("model: %s", message)
        self.info = ModelState("error", message, path, None)
        self.server.show_message(f"Hearth: the completion model is off: {message}")

    def settings_changed(self, old: Settings, new: Settings) -> None:
        if any(getattr(old, k) != getattr(new, k) for k in MODEL_KEYS):
            log.info("model settings changed: loading again")
            self.start(new)

    def close(self) -> concurrent.futures.Future[None] | None:
        """Stop loading and free the engine off the event loop; the future says when."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        engine, self.engine, self.backend = self.engine, None, None
        self.info = ModelState()
        return _close_later(engine) if engine is not None else None

    async def shutdown(self) -> None:
        """`close`, answered once the engine is freed (at most SHUTDOWN_WAIT_S): the `exit`
        that follows `shutdown` must not end the process while a generation still runs in
        native code or a model is being freed, which aborts it (SIGABRT) instead of exit 0."""
        closing = self.close()
        if closing is None:
            return
        try:
            await asyncio.wait_for(asyncio.wrap_future(closing), SHUTDOWN_WAIT_S)
        except TimeoutError:
            log.warning("the model was still closing after %.0f s", SHUTDOWN_WAIT_S)

    def status(self) -> dict[str, Any]:
        return self.info.as_json()

    # -- progress ----------------------------------------------------------------------------
    async def _progress_begin(self, title: str) -> str | None:
        server = self.server
        if not server.supports_progress():
            return None
        token = f"hearth-model-{uuid.uuid4().hex[:8]}"
        try:
            await asyncio.wait_for(server.work_done_progress.create_async(token), timeout=5)
        except Exception as exc:  # the client refused or never answered: no progress UI
            log.debug("no progress token from the client: %s", exc)
            return None
        server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, message="loading", cancellable=False)
        )
        return token

    def _progress_end(self, token: str | None) -> None:
        if token is not None:
            self.server.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))


def _close_later(engine: Engine) -> concurrent.futures.Future[None]:
    """Free an engine's models off the event loop (closing can take a moment)."""
    import threading

    done: concurrent.futures.Future[None] = concurrent.futures.Future()

    def close() -> None:
        try:
            engine.close()
        finally:
            done.set_result(None)

    threading.Thread(target=close, name="hearth-engine-close", daemon=True).start()
    return done


def _log_task_error(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("model task failed: %s", exc, exc_info=exc)
