"""A small HTTP/JSON and SSE client on the standard library, for OpenAI-compatible servers.

Only connection failures are retried (with backoff): a request the server has seen is never
sent twice. A stream is cancelled by closing its connection, which llama.cpp's server and
llama-cpp-python's notice and stop generating; a watcher thread does the closing so a cancel
also reaches a request still waiting for its first byte.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from hearth.engine.http_endpoint import HttpEndpoint, check_endpoint, read_api_key
from hearth.errors import HearthError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
BACKOFF_S = 0.25
BACKOFF_MAX_S = 2.0
CANCEL_POLL_S = 0.02


class InferenceServerError(HearthError):
    """The inference server cannot be reached or answered with an error."""


class ServerUnreachableError(InferenceServerError):
    """No connection could be made, even after the retries."""


class HttpStatusError(InferenceServerError):
    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class StreamBrokenError(InferenceServerError):
    """The connection failed after the request was sent (e.g. the server died)."""


class HttpClient:
    """Thread-safe: every request opens its own connection (loopback makes that cheap)."""

    def __init__(self, endpoint: HttpEndpoint) -> None:
        check_endpoint(endpoint)
        self.endpoint = endpoint
        parts = urlsplit(endpoint.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")
        if self._base.endswith("/v1"):  # accept ".../v1" as users copy it from docs
            self._base = self._base[:-3]
        self._key = read_api_key(endpoint)
        self.requests = 0  # how many requests were sent (benchmarks, tests)

    # -- plumbing ---------------------------------------------------------------------------
    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if stream:
            headers["Accept"] = "text/event-stream"
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _connect(self) -> http.client.HTTPConnection:
        """Open a connection, retrying refused/unreachable ones with backoff."""
        tries = 1 + max(0, self.endpoint.retries)
        last: OSError | None = None
        for attempt in range(tries):
            conn: http.client.HTTPConnection
            if self._https:
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=CONNECT_TIMEOUT_S
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=CONNECT_TIMEOUT_S)
            try:
                conn.connect()
            except OSError as exc:
                last = exc
                conn.close()
                if attempt + 1 < tries:
                    delay = min(BACKOFF_MAX_S, BACKOFF_S * 2**attempt)
                    log.info(
                        "inference server %s: %s; retrying in %.2f s",
                        self.endpoint.display(),
                        _reason(exc),
                        delay,
                    )
                    time.sleep(delay)
                continue
            if conn.sock is not None:
                conn.sock.settimeout(self.endpoint.timeout_s)
            return conn
        raise ServerUnreachableError(
            f"cannot reach the inference server at {self.endpoint.display()} "
            f"({tries} tries): {_reason(last)}",
            "start the server (e.g. `python -m llama_cpp.server --model FILE "
            "--host 127.0.0.1 --port 8080`), or fix server_url",
        )

    def _send(
        self, method: str, path: str, body: Any | None, *, stream: bool = False
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = self._connect()
        return conn, self._request(conn, method, path, body, stream=stream)

    def _request(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        body: Any | None,
        *,
        stream: bool = False,
    ) -> http.client.HTTPResponse:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        self.requests += 1
        try:
            conn.request(method, self._base + path, body=data, headers=self._headers(stream))
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise StreamBrokenError(
                f"the inference server at {self.endpoint.display()} dropped the request "
                f"{method} {path}: {_reason(exc)}",
                "check that the server is running and not out of memory",
            ) from None
        if resp.status >= 400:
            detail = resp.read(2000).decode("utf-8", errors="replace")
            conn.close()
            raise HttpStatusError(
                resp.status,
                f"the inference server answered {method} {path} with HTTP {resp.status}: "
                f"{_error_text(detail)}",
                _status_hint(resp.status),
            )
        return resp

    # -- requests ---------------------------------------------------------------------------
    def get_json(self, path: str) -> Any:
        return self._json("GET", path, None)

    def post_json(self, path: str, body: Any) -> Any:
        return self._json("POST", path, body)

    def _json(self, method: str, path: str, body: Any | None) -> Any:
        conn, resp = self._send(method, path, body)
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise StreamBrokenError(
                f"the inference server broke off its answer to {method} {path}: {_reason(exc)}"
            ) from None
        finally:
            conn.close()
        try:
            return json.loads(raw)
        except ValueError:
            raise InferenceServerError(
                f"the inference server's answer to {method} {path} is not JSON"
            ) from None

    def stream(
        self, path: str, body: Any, should_stop: Callable[[], bool] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The `data:` events of an SSE response, as JSON objects, until `[DONE]`.

        When `should_stop()` turns true the connection is closed (the server stops
        generating) and the iteration ends quietly. Closing the iterator does the same.
        """
        conn = self._connect()
        stopped = threading.Event()
        finished = threading.Event()

        def watch() -> None:
            while not finished.wait(CANCEL_POLL_S):
                if should_stop is not None and should_stop():
                    stopped.set()
                    _shutdown(conn)
                    return

        watcher = threading.Thread(target=watch, name="hearth-http-cancel", daemon=True)
        watcher.start()
        try:
            try:  # the watcher runs already: a cancel also ends the wait for the headers
                resp = self._request(conn, "POST", path, body, stream=True)
            except StreamBrokenError:
                if stopped.is_set():
                    return
                raise
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    if stopped.is_set():
                        return
                    raise StreamBrokenError(
                        f"the inference server at {self.endpoint.display()} broke off the "
                        f"stream: {_reason(exc)}",
                        "check that the server is running and not out of memory",
                    ) from None
                if not line:
                    if stopped.is_set():
                        return
                    raise StreamBrokenError(
                        f"the inference server at {self.endpoint.display()} closed the stream "
                        "before it ended",
                        "check that the server is running and not out of memory",
                    )
                text = line.decode("utf-8", errors="replace").strip()
                if not text.startswith("data:"):
                    continue  # comments, event names, keep-alives, blank separators
                payload = text[5:].strip()
                if payload == "[DONE]":
                    return
                try:
                    event = json.loads(payload)
                except ValueError:
                    log.debug("skipping a malformed SSE event (%d bytes)", len(payload))
                    continue
                if isinstance(event, dict):
                    if "error" in event and not event.get("choices"):
                        raise InferenceServerError(
                            f"the inference server reported: {_error_text(json.dumps(event))}"
                        )
                    yield event
                if stopped.is_set():
                    return
        finally:
            finished.set()
            conn.close()


def _shutdown(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


def _error_text(detail: str) -> str:
    try:
        data = json.loads(detail)
    except ValueError:
        return detail.strip()[:300] or "(no detail)"
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            return str(err.get("message", err))[:300]
        return str(err)[:300]
    return str(data)[:300]


def _status_hint(status: int) -> str | None:
    if status in (401, 403):
        return "set the API key: the variable named by server_api_key_env, or server_api_key_file"
    if status == 404:
        return "the server does not offer this endpoint; check server_url and server_model"
    if status == 503:
        return "the server is still loading its model; try again shortly"
    return None
