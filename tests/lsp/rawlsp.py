"""A raw JSON-RPC client for `hearth serve`: bytes in, parsed frames out, nothing hidden.

pytest-lsp's client is well behaved by design (it never sends a bad frame, a request before
`initialize` or a wrong Content-Length), so the conformance tests speak the wire format here.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

INIT_PARAMS: dict[str, Any] = {"processId": None, "rootUri": None, "capabilities": {}}


def frame(message: Any) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def server_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update(
        HEARTH_CACHE_DIR=str(tmp / "cache"),
        HEARTH_CONFIG_DIR=str(tmp / "config"),
        HF_HUB_OFFLINE="1",
    )
    return env


class RawServer:
    """`hearth serve` (or `prefix + hearth serve`) as a child process on pipes."""

    def __init__(
        self,
        tmp: Path,
        prefix: list[str] | None = None,
        env: dict[str, str] | None = None,
        argv: list[str] | None = None,
    ):
        command = argv or [sys.executable, "-m", "hearth", "serve"]
        self.proc = subprocess.Popen(
            [*(prefix or []), *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env or server_env(tmp),
            cwd=tmp,
        )
        self.messages: queue.Queue[Any] = queue.Queue()
        self.stderr = b""
        self._next_id = 0
        self._pending: list[Any] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif line == b"\r\n" and length is not None:
                    break
            self.messages.put(json.loads(out.read(length)))

    def _read_err(self) -> None:
        err = self.proc.stderr
        assert err is not None
        for line in iter(err.readline, b""):
            self.stderr += line

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.write(frame(message))

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def request(
        self, method: str, params: Any = None, *, timeout: float = 30.0, with_params: bool = True
    ) -> dict[str, Any]:
        """Send a request and return its response (the whole message)."""
        msg_id = self.new_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if with_params:
            message["params"] = params
        self.send(message)
        return self.response(msg_id, timeout=timeout)

    def response(self, msg_id: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for i, m in enumerate(self._pending):
            if isinstance(m, dict) and m.get("id") == msg_id and "method" not in m:
                return self._pending.pop(i)  # type: ignore[no-any-return]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response to id {msg_id!r} in {timeout} s")
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if m is None:
                raise EOFError(f"the server closed stdout before answering {msg_id!r}")
            if isinstance(m, dict) and m.get("id") == msg_id and "method" not in m:
                return m  # type: ignore[no-any-return]
            self._pending.append(m)

    def drain(self, wait: float = 0.2) -> list[Any]:
        """Messages received so far (and within `wait` seconds)."""
        out, self._pending = self._pending, []
        deadline = time.monotonic() + wait
        while True:
            try:
                m = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return out
            if m is not None:
                out.append(m)

    def initialize(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self.request("initialize", params or INIT_PARAMS)
        self.notify("initialized", {})
        return result

    def wait(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def start_with_model(server: RawServer, root: Path, options: dict[str, Any]) -> None:
    """`initialize` for `root` (inline completion capability) with `options` as the
    initializationOptions, `initialized`, then wait until the model is ready."""
    params = {
        "processId": None,
        "rootUri": root.as_uri(),
        "capabilities": {"textDocument": {"inlineCompletion": {}}},
        "initializationOptions": options,
    }
    assert "result" in server.request("initialize", params)
    server.notify("initialized", {})
    for _ in range(600):
        state = server.request("hearth/status", {})["result"]["model"]
        if state["state"] == "ready":
            return
        assert state["state"] != "error", state
        time.sleep(0.05)
    raise AssertionError(f"the model never loaded: {state}")
