"""Hearth's JSON-RPC/LSP protocol: pygls' `LanguageServerProtocol`, made to follow the spec.

What pygls 2.1.1 does differently, and what this subclass does instead (each is a candidate
for an upstream fix in pygls `protocol/json_rpc.py` and `protocol/language_server.py`):

- `exit` ends the process with code 0 even without `shutdown`: here 1 (0 after `shutdown`);
- requests after `shutdown` are dropped: here InvalidRequest (-32600);
- requests before `initialize` get -32603 with a traceback: here ServerNotInitialized (-32002);
- a message whose params do not match the method's type, or an unknown method without params,
  gets no answer (the error is raised before the id is known): messages are parsed as plain
  JSON first and typed per message here, so the answer is InvalidParams (-32602) or
  MethodNotFound (-32601) with the request's id;
- lsprotocol's converter coerces params of the wrong JSON type (`"uri": null` becomes "None",
  `"line": "3"` becomes 3): they are type-checked first (`hearth.lsp.param_types`);
- handler exceptions put a traceback (file paths, source lines) into `error.data`: here
  -32603 with a short message and no data; the traceback goes to the server log only;
- the stdio loop trusts `Content-Length` (see `hearth.lsp.framing`), never watches the
  client's `processId`, and pygls logs every outgoing body (workspace text) at INFO.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Generator
from concurrent.futures import Future
from typing import Any, BinaryIO

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcMethodNotFound
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage
from pygls.protocol.language_server import lsp_method

from hearth.errors import HearthError, InputFileError, PositionError, UsageError
from hearth.lsp import framing, param_types
from hearth.lsp.command_context import HearthProtocol as CommandContextProtocol
from hearth.lsp.documents import HearthWorkspace

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800

_ENVELOPE = ("id", "method", "jsonrpc", "params")
_MAX_MESSAGE = 300  # characters of an error message sent to the client
EXIT_GRACE_S = 3.0  # after `exit`, threads that will not stop get this long


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _has_id(message_type: type[Any]) -> bool:
    return any(f.name == "id" for f in attrs.fields(message_type))


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie counts as dead; unknown counts as alive)."""
    if pid <= 0 or sys.platform == "win32":  # os.kill(pid, 0) would terminate it on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


class HearthProtocol(CommandContextProtocol):
    """pygls' protocol with spec-conformant dispatch, errors, exit and stdio framing (and,
    from its base, the Explain/Review command context)."""

    parent_poll_s = 1.0

    def __init__(self, server: LanguageServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.exit_code: int | None = None
        self._initialize_seen = False
        self._methods: dict[Any, str] = {}  # method of each request in flight, for errors
        self._stopped: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._parent: int | None = None  # the client's process, watched once initialized
        self._write_lock = threading.Lock()
        self._pending_write: Any = None  # the last asynchronous write (TCP), kept referenced

    # -- incoming messages ---------------------------------------------------------------

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Keep messages as plain JSON: they are typed one by one in `handle_message`, where
        a failure can still be answered with the request's id."""
        return data

    def handle_message(self, message: Any) -> None:
        if attrs.has(type(message)):
            super().handle_message(message)
            return
        msg_id = message.get("id") if isinstance(message, dict) else None
        try:
            self._dispatch(message)
        except Exception as exc:
            log.error("could not handle a message (%s)", type(exc).__name__, exc_info=exc)
            if _valid_id(msg_id) and isinstance(message, dict) and "method" in message:
                self.send_error(msg_id, INTERNAL_ERROR, "Hearth could not handle this request")

    def _dispatch(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.send_error(None, INVALID_REQUEST, "a message must be a JSON object")
            return
        has_id = "id" in data
        msg_id = data.get("id")
        method = data.get("method")
        if data.get("jsonrpc") != "2.0" or (has_id and not _valid_id(msg_id)):
            if has_id and method is not None:
                bad = msg_id if _valid_id(msg_id) else None
                self.send_error(bad, INVALID_REQUEST, 'not a JSON-RPC 2.0 message (id, "jsonrpc")')
            else:
                log.warning("dropped a message that is not JSON-RPC 2.0")
            return
        if method is None:
            self._on_response(data)
        elif not isinstance(method, str):
            if has_id:
                self.send_error(msg_id, INVALID_REQUEST, "method must be a string")
        elif has_id:
            self._on_request(msg_id, method, data)
        else:
            self._on_notification(method, data)

    def _on_request(self, msg_id: Any, method: str, data: dict[str, Any]) -> None:
        if method == types.INITIALIZE and self._initialize_seen:
            self.send_error(msg_id, INVALID_REQUEST, "initialize may be sent only once")
            return
        if method != types.INITIALIZE and not self._initialize_seen:
            self.send_error(msg_id, SERVER_NOT_INITIALIZED, "the server is not initialized yet")
            return
        if self._shutdown:
            self.send_error(msg_id, INVALID_REQUEST, "the server is shutting down")
            return
        if not self._known(method):
            self.send_error(msg_id, METHOD_NOT_FOUND, f"unknown method: {_short(method)}")
            return
        message_type = self.get_message_type(method)
        if message_type is not None and not _has_id(message_type):
            self.send_error(msg_id, INVALID_REQUEST, f"{_short(method)} is a notification")
            return
        message = self._typed(data, message_type or JsonRPCRequestMessage)
        if message is None:
            self.send_error(msg_id, INVALID_PARAMS, f"invalid params for {_short(method)}")
            return
        if method == types.INITIALIZE:
            self._initialize_seen = True
        self._methods[msg_id] = method
        super().handle_message(message)

    def _on_notification(self, method: str, data: dict[str, Any]) -> None:
        if method == types.EXIT:
            exit_message: Any = types.ExitNotification()
            super().handle_message(exit_message)
            return
        if not self._initialize_seen or self._shutdown:
            log.debug("dropped notification %s (not initialized or shut down)", method)
            return
        if method != types.CANCEL_REQUEST and not self._known(method):
            # `$/` notifications may be ignored; unknown others are a client's extension.
            (log.debug if method.startswith("$/") else log.info)("ignored notification %s", method)
            return
        message_type = self.get_message_type(method)
        if message_type is not None and _has_id(message_type):
            log.warning("dropped %s: it is a request but came without an id", method)
            return
        message = self._typed(data, message_type or JsonRPCNotification)
        if message is None:
            log.warning("dropped %s: its params do not match the method", method)
            return
        super().handle_message(message)

    def _on_response(self, data: dict[str, Any]) -> None:
        msg_id: Any = data.get("id")
        if not _valid_id(msg_id) or ("result" not in data and "error" not in data):
            log.warning("dropped a message with neither method nor result")
            return
        try:
            message = super().structure_message(data)
        except Exception:
            future = self._request_futures.pop(msg_id, None)
            if future is not None and not future.done():
                future.set_exception(JsonRpcException("the client's response did not parse"))
            return
        super().handle_message(message)

    def _known(self, method: str) -> bool:
        try:
            self._get_handler(method)
        except JsonRpcMethodNotFound:
            return False
        return True

    def _typed(self, data: dict[str, Any], message_type: type[Any]) -> Any | None:
        """`data` as `message_type`, or None when its params do not fit."""
        params = data.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            return None
        payload = {k: data[k] for k in _ENVELOPE if k in data}
        if not _has_id(message_type):
            payload.pop("id", None)
        payload.setdefault("params", None)
        # The converter coerces wrong JSON types (null to "None", "3" to 3): check them first.
        # `initialize` stays lenient, so a client with a sloppy capability still connects.
        if data.get("method") != types.INITIALIZE:
            why = param_types.mismatch(param_types.params_type(message_type), payload["params"])
            if why is not None:
                log.debug("params of %s do not fit: %s", data.get("method"), why)
                return None
        try:
            return self._converter.structure(payload, message_type)
        except Exception as exc:
            log.debug("params of %s do not fit (%s)", data.get("method"), type(exc).__name__)
            return None

    # -- outgoing answers ----------------------------------------------------------------

    def send_error(self, msg_id: Any, code: int, message: str) -> None:
        self._send_response(msg_id, error=types.ResponseError(code=code, message=message))

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        self._request_futures.pop(msg_id, None)
        method = self._methods.pop(msg_id, "a request")
        if future.cancelled():
            self.send_error(msg_id, REQUEST_CANCELLED, "request cancelled")
            return
        exc = future.exception()
        if exc is None:
            self._send_response(msg_id, result=future.result())
        else:
            self._send_response(msg_id, error=error_for(exc, method))

    def _check_handler_result(self, future: Future[Any]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.error("a notification handler failed (%s)", type(exc).__name__, exc_info=exc)

    def _send_response(
        self, msg_id: Any, result: Any | None = None, error: types.ResponseError | None = None
    ) -> None:
        if error is not None:
            if error.code == INTERNAL_ERROR or isinstance(error.data, dict):
                error = types.ResponseError(code=error.code, message=error.message)
            self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": error})
            return
        super()._send_response(msg_id, result=result)

    def _send_data(self, data: Any) -> None:
        """pygls' `_send_data` without logging bodies (they carry workspace text), with one
        lock so threads cannot interleave frames, and an error answer when a result cannot
        be encoded (instead of no answer)."""
        if not data or self.writer is None:
            return
        try:
            body = json.dumps(data, default=self._serialize_message).encode("utf-8")
        except Exception as exc:
            log.error("could not encode an outgoing message (%s)", type(exc).__name__)
            msg_id = getattr(data, "id", None)
            if _valid_id(msg_id) and hasattr(data, "result"):
                self.send_error(msg_id, INTERNAL_ERROR, "Hearth could not encode its result")
            return
        frame = framing.encode(body) if self._include_headers else body
        try:
            with self._write_lock:
                res = self.writer.write(frame)
            if inspect.isawaitable(res):
                self._pending_write = asyncio.ensure_future(res)
        except (BrokenPipeError, ConnectionError, ValueError, OSError) as exc:
            log.error("the client's pipe is gone (%s): stopping", type(exc).__name__)
            self.finish(0 if self._shutdown else 1)

    def _serialize_message(self, data: Any) -> Any:
        if isinstance(data, types.ResponseError):
            out: dict[str, Any] = {"code": data.code, "message": data.message}
            if data.data is not None:
                out["data"] = data.data
            return out
        return super()._serialize_message(data)

    # -- lifecycle -----------------------------------------------------------------------

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        result = yield from super().lsp_initialize(params)
        pid = params.process_id
        if isinstance(pid, int) and pid != os.getpid():
            if pid_alive(pid):
                self._parent = pid
            else:  # another PID namespace (a sandboxed editor): nothing to watch
                log.warning("the client's process %d is not visible here: not watching it", pid)
        ws = self.workspace
        self._workspace = HearthWorkspace(
            ws.root_uri,
            self._server._text_document_sync_kind,
            list(ws.folders.values()),
            ws.position_encoding,
        )
        return result

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Stop serving: exit code 0 after `shutdown`, 1 without (as the spec says)."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.finish(0 if self._shutdown else 1)

    def finish(self, code: int) -> None:
        """End the session with exit `code` (the first reason to stop wins)."""
        if self.exit_code is None:
            self.exit_code = code
        if self._stopped is None or self._loop is None:
            raise SystemExit(self.exit_code)  # not under `serve`: pygls' own loop ends on it
        if threading.current_thread() is threading.main_thread():
            self._stopped.set()
        else:  # e.g. a broken pipe seen by a worker thread
            self._loop.call_soon_threadsafe(self._stopped.set)

    async def serve(self, read: Callable[[], bytes]) -> int:
        """Read frames with `read` (blocking; b"" at end of input) until exit, the end of
        input or the death of the client's process; return the exit code."""
        loop = self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        reader = framing.FrameReader()

        async def feed(chunk: bytes) -> None:
            if self._stopped is not None and self._stopped.is_set():
                return
            if not chunk:
                log.info("the client closed stdin: exiting")
                self.finish(0 if self._shutdown else 1)
                return
            for event in reader.feed(chunk):
                self._on_frame(event)

        def pump() -> None:
            while True:
                try:
                    chunk = read()
                except (OSError, ValueError):
                    chunk = b""
                try:
                    asyncio.run_coroutine_threadsafe(feed(chunk), loop).result()
                except BaseException:  # the loop is gone (cancelled or closed): stop reading
                    return
                if not chunk:
                    return

        threading.Thread(target=pump, name="hearth-stdin", daemon=True).start()
        watcher = asyncio.ensure_future(self._watch_parent())
        await self._stopped.wait()
        code = self.exit_code if self.exit_code is not None else 1
        # From here on nothing may keep the process alive: not a task that ignores its
        # cancellation, not the default executor that asyncio.run joins, not a stuck thread.
        timer = threading.Timer(EXIT_GRACE_S * 2, os._exit, args=(code,))
        timer.daemon = True
        timer.start()
        watcher.cancel()
        if not self._shutdown:
            await self._run_shutdown_handler()
        return code

    def _on_frame(self, event: framing.Event) -> None:
        if isinstance(event, framing.Message):
            if event.recovered:
                log.warning("a frame declared the wrong Content-Length; its message was kept")
            self.handle_message(event.payload)
        elif isinstance(event, framing.BadFrame):
            log.warning("dropped a bad frame of %d bytes: %s", event.size, event.reason)
            self.send_error(None, PARSE_ERROR, f"a frame could not be parsed: {event.reason}")
        elif isinstance(event, framing.Refused):
            log.error("refused a frame of %d bytes (limit %d)", event.length, framing.MAX_FRAME)
            self.send_error(
                None, INVALID_REQUEST, f"message of {event.length} bytes is over the 64 MiB limit"
            )
        else:
            log.warning("skipped %d bytes that were not a message header", event.size)

    async def _watch_parent(self) -> None:
        while True:
            await asyncio.sleep(self.parent_poll_s)
            pid = self._parent
            if pid is not None and not pid_alive(pid):
                log.info("the client process %d is gone: exiting", pid)
                self.finish(0 if self._shutdown else 1)
                return

    async def _run_shutdown_handler(self) -> None:
        """Exit without `shutdown`: give the server's shutdown handler a moment to clean up."""
        handler = self.fm.features.get(types.SHUTDOWN)
        if handler is None:
            return
        try:
            if asyncio.iscoroutinefunction(handler):
                await asyncio.wait_for(handler(None), EXIT_GRACE_S / 2)
            else:
                done: Future[None] = Future()

                def run() -> None:
                    try:
                        handler(None)
                    finally:
                        done.set_result(None)

                threading.Thread(target=run, name="hearth-cleanup", daemon=True).start()
                await asyncio.wait_for(asyncio.wrap_future(done), EXIT_GRACE_S / 2)
        except Exception as exc:
            log.warning("cleanup at exit failed (%s)", type(exc).__name__)


def error_for(exc: BaseException, method: str) -> types.ResponseError:
    """The JSON-RPC error for a handler's exception: a short message, never a traceback."""
    if isinstance(exc, JsonRpcException) and not isinstance(exc, JsonRpcInternalError):
        data = exc.data if isinstance(exc.data, (str, int, float, bool, type(None))) else None
        return types.ResponseError(code=exc.code, message=_short(exc.message), data=data)
    if isinstance(exc, HearthError):
        log.warning("%s failed: %s", method, exc.message)
        # Bad arguments (a command's, a position outside the document, a document Hearth
        # leaves alone: too large or binary) are the caller's.
        bad_input = isinstance(exc, (UsageError, PositionError, InputFileError))
        code = INVALID_PARAMS if bad_input else INTERNAL_ERROR
        return types.ResponseError(code=code, message=_short(exc.user_message()))
    log.error("internal error in %s (%s)", method, type(exc).__name__, exc_info=exc)
    return types.ResponseError(
        code=INTERNAL_ERROR,
        message=f"Hearth hit an internal error ({type(exc).__name__}) in {_short(method)}; "
        "the server log has the details",
    )


def serve_stdio(
    server: LanguageServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> int:
    """Serve `server` (whose protocol is a `HearthProtocol`) over stdio; return the exit code.

    Messages go to a private copy of file descriptor 1, and descriptor 1 itself is pointed at
    stderr, so a native library printing to stdout cannot corrupt the message stream.
    """
    protocol = server.protocol
    assert isinstance(protocol, HearthProtocol)
    if stdout is None:
        out: BinaryIO = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
        with contextlib.suppress(OSError):
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
    else:
        out = stdout
    from pygls.io_ import StdoutWriter

    protocol.set_writer(StdoutWriter(out))
    try:
        code = asyncio.run(protocol.serve(_chunk_reader(stdin or sys.stdin.buffer)))
    except KeyboardInterrupt:
        code = 1
    finally:
        pool = server._thread_pool
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            out.flush()
    # Threads that ignore the end of the session (a stuck native call) must not keep the
    # process alive after the client asked it to exit.
    timer = threading.Timer(EXIT_GRACE_S, os._exit, args=(code,))
    timer.daemon = True
    timer.start()
    return code


def _chunk_reader(source: BinaryIO) -> Callable[[], bytes]:
    """A blocking read of whatever is available (up to 64 KiB), b"" at the end of input."""
    try:
        fd = source.fileno()
    except (OSError, AttributeError, ValueError):
        return lambda: source.read1(1 << 16) if hasattr(source, "read1") else source.read(1)

    def read() -> bytes:
        return os.read(fd, 1 << 16)

    return read
