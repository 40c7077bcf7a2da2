"""The `http` backend against a real llama-cpp-python server on loopback."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hearth.bench import scripted
from hearth.completion.fim import fim_prompt_tokens
from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.generate import Generation, GenerationRequest, StopReason
from hearth.engine.http_client import ServerUnreachableError
from hearth.engine.http_endpoint import HttpEndpoint
from hearth.engine.service import Engine, ModelSpec, Role

PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"


def http_engine(url: str, *, retries: int = 2, n_ctx: int = 2048) -> Engine:
    ep = HttpEndpoint(url=url, retries=retries, timeout_s=30)
    return Engine(ModelSpec(Path(""), "http", LoadOptions(n_ctx=n_ctx, http=ep)))


def fim_build(
    engine: Engine, max_tokens: int = 16
) -> Callable[[Backend], tuple[list[int], GenerationRequest]]:
    def build(backend: Backend) -> tuple[list[int], GenerationRequest]:
        tpl = engine.fim_template(backend)
        tokens = fim_prompt_tokens(backend, tpl, PREFIX, SUFFIX)
        return tokens, GenerationRequest(max_tokens=max_tokens)

    return build


def complete(engine: Engine, max_tokens: int = 16, **kw: Any) -> Generation:
    return engine.submit(Role.COMPLETION, fim_build(engine, max_tokens), **kw).result(60)


# -- completion --------------------------------------------------------------------------------
def test_completion_matches_in_process(random_server: Any, http_models: Any) -> None:
    """Same model, same FIM prompt, greedy: the server writes what llama-cpp-python writes."""
    remote = http_engine(random_server.url)
    local = Engine(ModelSpec(http_models["random"], "llamacpp", LoadOptions(n_ctx=2048)))
    try:
        over_http = complete(remote)
        in_process = complete(local)
        backend = remote.load(Role.COMPLETION).result()
        assert backend.name == "http"
        assert remote.fim_template(backend).name == "qwen"  # detected through /tokenize
        assert over_http.n_prompt == in_process.n_prompt  # budgets count the same tokens
        assert over_http.text == in_process.text
        assert over_http.n_generated > 0
    finally:
        remote.close()
        local.close()


def test_streaming_delivers_text_in_pieces(random_server: Any) -> None:
    engine = http_engine(random_server.url)
    pieces: list[str] = []
    try:
        gen = complete(engine, 24, on_text=pieces.append)
    finally:
        engine.close()
    assert len(pieces) > 1
    assert "".join(pieces) == gen.text


def test_cancel_mid_stream_closes_the_request(random_server: Any) -> None:
    engine = http_engine(random_server.url)
    try:
        first = threading.Event()
        handle = engine.submit(
            Role.COMPLETION, fim_build(engine, 1500), on_text=lambda _t: first.set()
        )
        assert first.wait(30)
        t0 = time.perf_counter()
        handle._job.control.cancel()  # what a newer keystroke or $/cancelRequest does
        gen = handle.result(30)
        assert gen.stop_reason is StopReason.CANCELLED
        assert gen.n_generated < 1500
        assert time.perf_counter() - t0 < 5
        # The server stopped that generation and serves the next request at once.
        assert complete(engine, 8).n_generated > 0
    finally:
        engine.close()


# -- explain and review over chat -----------------------------------------------------------
def _hearth(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    (cwd / "hearth.toml").write_text(
        f'[hearth]\nbackend = "http"\nserver_url = "{url}"\ncontext_length = 2048\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    return subprocess.run(
        [sys.executable, "-m", "hearth", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_review_over_chat_finds_the_known_finding(scripted_server: Any, tmp_path: Path) -> None:
    (tmp_path / "sample.py").write_text("def add(a, b):\n    value = None\n    return a + b\n")
    proc = _hearth(["review", "sample.py", "--format", "json"], scripted_server.url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    (report,) = json.loads(proc.stdout)
    (finding,) = report["findings"]  # the server honoured the JSON-schema grammar
    assert finding["line"] == scripted.FINDING_LINE
    assert finding["message"] == scripted.FINDING_MESSAGE


def test_explain_over_chat_writes_the_known_sentence(scripted_server: Any, tmp_path: Path) -> None:
    (tmp_path / "sample.py").write_text("def add(a, b):\n    return a + b\n")
    proc = _hearth(["explain", "sample.py"], scripted_server.url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert scripted.EXPLANATION in proc.stdout


# -- failures ---------------------------------------------------------------------------------
def test_server_down_at_start_then_recovers(
    make_server: Any, unused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hearth")
    engine = http_engine(f"http://127.0.0.1:{unused_port}", retries=2)
    try:
        with pytest.raises(ServerUnreachableError) as info:
            complete(engine)
        assert "cannot reach the inference server" in info.value.message
        assert "3 tries" in info.value.message and "connection refused" in info.value.message
        assert info.value.hint and "llama_cpp.server" in info.value.hint
        assert sum("retrying" in r.getMessage() for r in caplog.records) == 2
        make_server("random", unused_port).start()
        assert complete(engine).n_generated > 0  # the same engine recovers by itself
    finally:
        engine.close()


def test_server_killed_mid_request(make_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    server = make_server("random").start()
    engine = http_engine(server.url)
    try:
        complete(engine, 4)  # connected and warm
        first = threading.Event()
        handle = engine.submit(
            Role.COMPLETION, fim_build(engine, 1500), on_text=lambda _t: first.set()
        )
        assert first.wait(30)
        server.kill()
        with caplog.at_level(logging.ERROR, logger="hearth"):
            gen = handle.result(30)
        assert gen.text == ""  # the editor gets an empty answer
        assert gen.stop_reason is StopReason.ERROR
        assert any(
            "broke off" in r.getMessage() or "closed the stream" in r.getMessage()
            for r in caplog.records
        )
        server.start()
        assert complete(engine, 8).n_generated > 0  # the next request works
    finally:
        engine.close()


# -- hearth doctor ----------------------------------------------------------------------------
def _doctor(url: str, cwd: Path) -> dict[str, dict[str, str]]:
    proc = _hearth(["doctor", "--json", "--no-speed-test"], url, cwd)
    checks = json.loads(proc.stdout)["checks"]
    return {c["name"]: c for c in checks}


def test_doctor_checks_the_endpoint(scripted_server: Any, tmp_path: Path) -> None:
    checks = _doctor(scripted_server.url, tmp_path)
    assert checks["server privacy"]["status"] == "ok"
    assert checks["inference server"]["status"] == "ok"
    assert str(scripted_server.model) in checks["inference server"]["detail"]
    assert checks["server context"]["detail"].startswith("2048 tokens")
    assert "/tokenize" in checks["server tokens"]["detail"]


def test_doctor_reports_a_server_that_is_down(unused_port: int, tmp_path: Path) -> None:
    checks = _doctor(f"http://127.0.0.1:{unused_port}", tmp_path)
    assert checks["inference server"]["status"] == "fail"
    assert "cannot reach" in checks["inference server"]["detail"]
