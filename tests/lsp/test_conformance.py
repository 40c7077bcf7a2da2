"""JSON-RPC/LSP conformance of a real `hearth serve`, spoken as raw bytes over stdio.

One test per rule of the spec that pygls 2.1.1 breaks and `hearth.lsp.protocol` restores:
exit codes, requests after `shutdown` and before `initialize`, invalid params, unknown
methods, handler errors without tracebacks, framing recovery and the 64 MiB limit, and
exiting when the client's process dies or closes stdin.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rawlsp import INIT_PARAMS, RawServer, frame

DOC = "file:///nowhere/example.py"
POS = {"line": 0, "character": 0}
RANGE = {"start": POS, "end": POS}


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RawServer]:
    server = RawServer(tmp_path)
    yield server
    server.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    """One initialized server for the rules that do not end the process."""
    server = RawServer(tmp_path_factory.mktemp("shared"))
    server.initialize()
    yield server
    server.close()


def probe(server: RawServer, timeout: float = 1.0) -> dict[str, Any]:
    """A valid request that must be answered (within `timeout`, 1 s after a bad frame)."""
    msg_id = f"probe-{server.new_id()}"
    server.send({"jsonrpc": "2.0", "id": msg_id, "method": "hearth/status", "params": {}})
    return server.response(msg_id, timeout=timeout)


def assert_clean_error(response: dict[str, Any], code: int) -> None:
    assert "result" not in response, response
    assert response["error"]["code"] == code, response
    assert "data" not in response["error"] or response["error"]["data"] is None, response
    assert "Traceback" not in response["error"]["message"]


def test_request_before_initialize_gets_server_not_initialized(fresh: RawServer) -> None:
    response = fresh.request("workspace/symbol", {"query": "x"})
    assert_clean_error(response, -32002)
    assert_clean_error(fresh.request("hearth/status", {}), -32002)
    fresh.notify("textDocument/didOpen", {"textDocument": {}})  # dropped, not answered
    assert fresh.initialize()["result"]["capabilities"]
    assert_clean_error(fresh.request("initialize", INIT_PARAMS), -32600)  # only once


def test_exit_without_shutdown_exits_with_1(fresh: RawServer) -> None:
    fresh.initialize()
    fresh.notify("exit")
    assert fresh.wait() == 1


def test_exit_after_shutdown_exits_with_0_and_later_requests_get_invalid_request(
    fresh: RawServer,
) -> None:
    fresh.initialize()
    assert fresh.request("shutdown") == {"jsonrpc": "2.0", "id": 2, "result": None}
    assert_clean_error(fresh.request("workspace/symbol", {"query": "x"}), -32600)
    assert_clean_error(fresh.request("shutdown"), -32600)
    fresh.notify("textDocument/didOpen", {"textDocument": {}})  # ignored after shutdown
    fresh.notify("exit")
    assert fresh.wait() == 0
    answered = Counter(m.get("id") for m in fresh.drain() if "method" not in m)
    assert all(n == 1 for n in answered.values()), answered


def test_unknown_methods_get_method_not_found(shared: RawServer) -> None:
    assert_clean_error(shared.request("hearth/noSuchThing", {"a": 1}), -32601)
    assert_clean_error(shared.request("hearth/noSuchThing", with_params=False), -32601)
    assert_clean_error(shared.request("$/noSuchRequest", with_params=False), -32601)
    assert_clean_error(shared.request("textDocument/didOpen", {}), -32600)  # a notification
    shared.notify("hearth/noSuchNotification", {"a": 1})  # ignored
    shared.notify("$/noSuchNotification")  # ignored
    assert "result" in probe(shared)
    stray = [m for m in shared.drain() if "error" in m]
    assert stray == [], stray


@pytest.mark.parametrize(
    "params",
    [
        {"textDocument": {"uri": DOC}, "position": {"line": -1, "character": 0}},
        {"textDocument": {"uri": DOC}, "position": {"line": 0, "character": "x"}},
        {"textDocument": {"uri": DOC}},
        {"position": POS},
        "a string",
        None,
    ],
    ids=["negative-line", "string-character", "no-position", "no-document", "string", "none"],
)
def test_invalid_params_get_invalid_params(shared: RawServer, params: Any) -> None:
    assert_clean_error(shared.request("textDocument/completion", params), -32602)
    assert "result" in probe(shared)


FAULTY_SERVER = textwrap.dedent(
    """
    import sys
    import hearth.lsp.server as wiring

    SECRET = "SECRET-TOKEN-123 in /home/someone/project/secret.py: api_key = 'hunter2'"
    KEEP = {"initialize", "initialized", "shutdown", "exit"}
    build = wiring.create_server

    def faulty():
        server = build()
        fm = server.protocol.fm

        def boom(*args, **kwargs):
            raise RuntimeError(SECRET)

        async def aboom(*args, **kwargs):
            raise KeyError(SECRET)

        def boom_command(*args):
            raise ValueError(SECRET)

        for i, name in enumerate(sorted(fm.features)):
            if name not in KEEP:
                fm.features[name] = aboom if i % 2 else boom
        for name in list(fm.commands):
            fm.commands[name] = boom_command
        return server

    wiring.create_server = faulty
    from hearth.cli import main
    sys.exit(main(["serve"]))
    """
)

FAULT_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("workspace/symbol", {"query": "x"}),
    ("hearth/status", {}),
    ("hearth/completionStats", {}),
    ("textDocument/completion", {"textDocument": {"uri": DOC}, "position": POS}),
    (
        "textDocument/inlineCompletion",
        {"textDocument": {"uri": DOC}, "position": POS, "context": {"triggerKind": 1}},
    ),
    (
        "textDocument/codeAction",
        {"textDocument": {"uri": DOC}, "range": RANGE, "context": {"diagnostics": []}},
    ),
    ("workspace/executeCommand", {"command": "hearth.explain", "arguments": [{"uri": DOC}]}),
    ("workspace/executeCommand", {"command": "hearth.review", "arguments": [{"uri": DOC}]}),
]


def test_handler_exceptions_get_short_internal_error_without_traceback(tmp_path: Path) -> None:
    server = RawServer(tmp_path, argv=[sys.executable, "-c", FAULTY_SERVER])
    try:
        server.initialize()
        server.notify("textDocument/didOpen", {"textDocument": {}})  # bad params: dropped
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": DOC, "languageId": "python", "version": 1, "text": "x"}},
        )  # its handler raises: logged, nothing sent
        checked = 0
        for method, params in FAULT_REQUESTS:
            response = server.request(method, params)
            if response.get("error", {}).get("code") == -32601:
                continue  # not served (yet) by this build
            assert_clean_error(response, -32603)
            message = response["error"]["message"]
            assert "SECRET" not in message and "/home/" not in message and "hunter2" not in message
            assert len(message) < 200
            checked += 1
        assert checked >= 4, "too few handlers to inject faults into"
        notices = [m for m in server.drain() if m.get("method") == "window/showMessage"]
        assert not [n for n in notices if "SECRET" in str(n)], notices
        assert server.request("shutdown")["result"] is None
        server.notify("exit")
        assert server.wait() == 0
    finally:
        server.close()


BAD_FRAMES: dict[str, bytes] = {
    "length-too-short": b'Content-Length: 10\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"x"}',
    "length-too-long": b'Content-Length: 900\r\n\r\n{"jsonrpc":"2.0","method":"x"}',
    "not-json": b"Content-Length: 7\r\n\r\nnot js!",
    "invalid-utf8": b'Content-Length: 6\r\n\r\n"\xff\xfe"\r\n',
    "garbage-between": b"hello, world\r\n\r\n\x00\x01\x02",
    "no-blank-line": b'Content-Length: 20\r\n{"jsonrpc":"2.0"}',
    "bad-header-name": b'Content-Lenght: 17\r\n\r\n{"jsonrpc":"2.0"}',
    "header-only": b"Content-Length: 55\r\n\r\n",
    "zero-length": b"Content-Length: 0\r\n\r\n",
    "two-lengths": b'Content-Length: 3\r\nContent-Length: 17\r\n\r\n{"jsonrpc":"2.0"}',
    "nested-deep": frame(None).replace(b"null", b"[" * 100_000),
    "batch": frame([{"jsonrpc": "2.0", "id": 99, "method": "hearth/status"}]),
    "json-not-object": frame("just a string"),
}


@pytest.mark.parametrize("bad", list(BAD_FRAMES), ids=list(BAD_FRAMES))
def test_bad_frame_is_skipped_and_the_next_request_answered_within_1s(
    shared: RawServer, bad: str
) -> None:
    shared.write(BAD_FRAMES[bad])
    start = time.monotonic()
    assert "result" in probe(shared, timeout=1.0)
    assert time.monotonic() - start < 1.0
    # A second valid request right after: the stream is fully back in step.
    assert "result" in probe(shared, timeout=1.0)


def test_frames_over_64_mib_are_refused(shared: RawServer) -> None:
    shared.write(b"Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024 + 1))
    shared.write(b'{"jsonrpc":"2.0","method":"x","params":"' + b"a" * 100_000)
    assert "result" in probe(shared, timeout=1.0)
    refusals = [m for m in shared.drain() if m.get("id") is None and m.get("error", {}).get("code")]
    assert any("64 MiB" in m["error"]["message"] for m in refusals), refusals


def test_exit_when_the_parent_process_dies(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    server = RawServer(tmp_path)
    try:
        server.initialize({**INIT_PARAMS, "processId": parent.pid})
        assert "result" in probe(server)
        parent.kill()
        parent.wait()
        assert server.wait(timeout=10) == 1
    finally:
        parent.kill()
        parent.wait()
        server.close()


def test_exit_when_stdin_closes(fresh: RawServer) -> None:
    fresh.initialize()
    assert fresh.proc.stdin is not None
    fresh.proc.stdin.close()
    assert fresh.wait(timeout=10) == 1
