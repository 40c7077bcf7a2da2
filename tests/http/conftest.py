"""A real OpenAI-compatible server on loopback: llama-cpp-python's own, run as a child process.

Each fixture starts `python -m llama_cpp.server` on a free port with a synthesized model and
stops it afterwards. Tests skip with the reason when the server extra is not installed or the
server does not come up.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hearth.bench import scripted, synth

SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context")
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _need_server_extra() -> None:
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(
            f"llama-cpp-python's server is not installed (missing {', '.join(missing)}): "
            "pip install -e '.[dev]' (it lists llama-cpp-python's server dependencies)"
        )


class LlamaServer:
    """`python -m llama_cpp.server` for one model on one loopback port."""

    def __init__(self, model: Path, port: int, log_path: Path, n_ctx: int = 2048) -> None:
        self.model = model
        self.port = port
        self.n_ctx = n_ctx
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> LlamaServer:
        _need_server_extra()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(self.model),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                str(self.n_ctx),
                "--n_threads",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")},
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-1500:]
                pytest.skip(f"llama_cpp.server exited at start ({self.proc.returncode}): {tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/models", timeout=1) as resp:
                    if json.load(resp).get("data"):
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.skip(f"llama_cpp.server did not answer within {START_TIMEOUT_S:.0f} s")

    def kill(self) -> None:
        """Die at once, like a crashed or OOM-killed server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def http_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("llama_cpp")
    d = tmp_path_factory.mktemp("http-models")
    return {
        # random weights: long nonsense, for streaming and cancellation
        "random": synth.write_qwen_bpe(d / "qwen-bpe.gguf", n_ctx=2048),
        # hand weights: known explanation and one known review finding
        "scripted": scripted.write_scripted_reviewer(d / "rev.gguf", n_ctx=2048),
    }


@pytest.fixture(scope="module")
def random_server(
    http_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    server = LlamaServer(
        http_models["random"], free_port(), tmp_path_factory.mktemp("srv") / "random.log"
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scripted_server(
    http_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    server = LlamaServer(
        http_models["scripted"], free_port(), tmp_path_factory.mktemp("srv") / "scripted.log"
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_server(
    http_models: dict[str, Path], tmp_path: Path
) -> Iterator[Callable[..., LlamaServer]]:
    """A factory for servers a test starts, kills and restarts itself; all stopped after."""
    started: list[LlamaServer] = []

    def make(kind: str, port: int | None = None) -> LlamaServer:
        server = LlamaServer(http_models[kind], port or free_port(), tmp_path / f"{kind}.log")
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def unused_port() -> int:
    return free_port()
