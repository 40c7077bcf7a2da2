"""Byte-level mutations of message frames sent to a real `hearth serve`: no crash, no hang, and
a valid request right after any bad frame is answered within 1 s. Also the framing reader on
its own, fed the same mutations in random chunk sizes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearth.lsp import framing

sys.path.insert(0, str(Path(__file__).parent))
from generated import require_soak
from rawlsp import RawServer, frame

DEFAULT_MUTATIONS = 150
SOAK_MUTATIONS = 2000
DOC = "file:///fuzz/doc.py"

BASE_FRAMES = [
    frame({"jsonrpc": "2.0", "id": 7, "method": "hearth/status", "params": {}}),
    frame({"jsonrpc": "2.0", "id": 8, "method": "workspace/symbol", "params": {"query": "é😋"}}),
    frame(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": DOC,
                    "languageId": "python",
                    "version": 1,
                    "text": "x=1\r\n",
                }
            },
        }
    ),
    frame(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": DOC, "version": 2},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 1},
                            "end": {"line": 0, "character": 9},
                        },
                        "text": "😋",
                    }
                ],
            },
        }
    ),
    frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 7}}),
]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 400), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 400), st.integers(1, 40)),
    st.tuples(st.just("insert"), st.integers(0, 400), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("truncate"), st.integers(0, 400), st.just(0)),
    st.tuples(st.just("length"), st.integers(0, 1 << 27), st.just(0)),
    st.tuples(st.just("duplicate"), st.integers(0, 400), st.integers(1, 60)),
)
cases = st.tuples(st.integers(0, len(BASE_FRAMES) - 1), st.lists(mutation, min_size=1, max_size=3))


def mutate(data: bytes, ops: list[tuple[str, int, Any]]) -> bytes:
    out = bytearray(data)
    for op, at, arg in ops:
        i = at % (len(out) + 1)
        if op == "flip" and out:
            out[i % len(out)] = arg
        elif op == "delete":
            del out[i : i + arg]
        elif op == "insert":
            out[i:i] = arg
        elif op == "truncate":
            del out[i:]
        elif op == "length":
            _head, sep, body = bytes(out).partition(b"\r\n\r\n")
            out = bytearray(b"Content-Length: %d\r\n\r\n" % at + body if sep else out)
        elif op == "duplicate":
            out[i:i] = out[i : i + arg]
    return bytes(out)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    raw = RawServer(tmp_path_factory.mktemp("fuzz"))
    raw.initialize()
    yield raw
    raw.close()


class Stats:
    sent = 0
    slowest = 0.0


def check_case(server: RawServer, case: tuple[int, list[Any]]) -> None:
    base, ops = case
    bad = mutate(BASE_FRAMES[base], ops)
    Stats.sent += 1
    msg_id = f"probe-{Stats.sent}"
    start = time.monotonic()
    server.write(bad)
    server.send({"jsonrpc": "2.0", "id": msg_id, "method": "hearth/status", "params": {}})
    response = server.response(msg_id, timeout=1.0)
    Stats.slowest = max(Stats.slowest, time.monotonic() - start)
    assert "result" in response, (bad, response)
    server._pending.clear()  # answers to mutated requests are not this test's business
    assert server.proc.poll() is None, server.stderr.decode(errors="replace")[-2000:]


def run_generated(server: RawServer, count: int) -> int:
    before = Stats.sent

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(cases)
    def check(case: tuple[int, list[Any]]) -> None:
        check_case(server, case)

    check()
    return Stats.sent - before


def test_mutated_frames_never_stop_the_server(server: RawServer) -> None:
    ran = run_generated(server, DEFAULT_MUTATIONS)
    print(f"framing: {ran} mutated frames, slowest follow-up answer {Stats.slowest * 1000:.0f} ms")
    assert ran >= DEFAULT_MUTATIONS // 2


@pytest.mark.soak
def test_mutated_frames_soak(server: RawServer, request: pytest.FixtureRequest) -> None:
    require_soak(request.config)
    ran = run_generated(server, SOAK_MUTATIONS)
    print(f"framing soak: {ran} mutated frames, slowest answer {Stats.slowest * 1000:.0f} ms")
    assert ran >= SOAK_MUTATIONS


@settings(max_examples=300, deadline=None, database=None)
@given(cases, st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_frame_reader_resyncs_whatever_the_chunking(
    case: tuple[int, list[Any]], cuts: list[int]
) -> None:
    base, ops = case
    good = frame({"jsonrpc": "2.0", "id": "after", "method": "m"})
    stream = mutate(BASE_FRAMES[base], ops) + good
    reader = framing.FrameReader(max_body=1 << 20)
    events: list[framing.Event] = []
    pos = 0
    for cut in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        events += reader.feed(stream[pos : pos + cut])
        pos += cut
        if pos >= len(stream):
            break
    messages = [e.payload for e in events if isinstance(e, framing.Message)]
    assert messages and messages[-1] == {"jsonrpc": "2.0", "id": "after", "method": "m"}, events
    assert reader.buffered == 0
