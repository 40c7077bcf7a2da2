"""Generated edit sequences through the real server's document handling vs a reference model.

Each example opens a document in an in-process `HearthServer` (its real protocol, dispatch
and workspace; only the stdio pipe is left out), applies generated `didChange` edits with CRLF,
lone CR, astral characters (surrogate pairs in UTF-16), positions inside a surrogate pair and
positions past the end, and compares the server's text with a reference model that works on
UTF-16 code units directly. The reference states Hearth's rules: LSP line breaks only, columns
past the end clamp to the line end, lines past the end mean the end of the document, a column
inside a surrogate pair means the start of that character.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from generated import require_soak, texts

DEFAULT_SEQUENCES = 150
SOAK_SEQUENCES = 2000


def reference_apply(text: str, start: tuple[int, int], end: tuple[int, int], new: str) -> str:
    """The edit on UTF-16 code units, written independently of `hearth.lsp.positions`."""
    raw = text.encode("utf-16-le", "surrogatepass")
    units = [int.from_bytes(raw[i : i + 2], "little") for i in range(0, len(raw), 2)]
    starts, ends = [0], []
    i = 0
    while i < len(units):
        if units[i] in (0x0D, 0x0A):
            ends.append(i)
            i += 2 if units[i] == 0x0D and i + 1 < len(units) and units[i + 1] == 0x0A else 1
            starts.append(i)
        else:
            i += 1
    ends.append(len(units))

    def offset(line: int, character: int) -> int:
        if line >= len(starts):
            return len(units)
        o = starts[line] + min(character, ends[line] - starts[line])
        if o < ends[line] and 0xDC00 <= units[o] <= 0xDFFF:
            o -= 1  # inside a surrogate pair: the start of that character
        return o

    a, b = offset(*start), offset(*end)
    a, b = min(a, b), max(a, b)
    new_raw = new.encode("utf-16-le", "surrogatepass")
    out = raw[: 2 * a] + new_raw + raw[2 * b :]
    return out.decode("utf-16-le", "surrogatepass")


positions = st.tuples(st.integers(0, 8), st.integers(0, 40))
edits = st.one_of(
    st.tuples(positions, positions, texts),
    st.tuples(st.none(), st.none(), texts),  # a full-text change now and then
)
sessions = st.tuples(texts, st.lists(edits, min_size=1, max_size=8))


class InProcess:
    """A `HearthServer` fed raw JSON messages through its protocol, without stdio."""

    def __init__(self) -> None:
        from hearth.lsp.server import create_server

        self.server = create_server()
        self.protocol: Any = self.server.protocol
        self.sent: list[bytes] = []
        self.protocol.set_writer(self)
        self.loop = asyncio.new_event_loop()
        self.sequences = 0
        self.edits = 0
        self.feed(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        )
        assert b'"result"' in self.sent[-1], self.sent[-1][:300]

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        pass

    def feed(self, *messages: dict[str, Any]) -> None:
        async def run() -> None:
            for message in messages:
                self.protocol.handle_message(message)
            await asyncio.sleep(0)

        self.loop.run_until_complete(run())

    def text(self, uri: str) -> str:
        return str(self.server.workspace.get_text_document(uri).source)


@pytest.fixture(scope="module")
def inproc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    tmp = tmp_path_factory.mktemp("docsync")
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("HEARTH_")]:
            mp.delenv(key)
        mp.setenv("HEARTH_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("HEARTH_CONFIG_DIR", str(tmp / "config"))
        server = InProcess()
        yield server
        server.loop.close()


def check_session(server: InProcess, session: tuple[str, list[Any]]) -> None:
    initial, changes = session
    server.sequences += 1
    uri = f"file:///sync/doc{server.sequences}.py"
    server.feed(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": initial}
            },
        }
    )
    expected = initial
    for version, (start, end, new) in enumerate(changes, start=2):
        if start is None:
            change: dict[str, Any] = {"text": new}
            expected = new
        else:
            change = {
                "range": {
                    "start": {"line": start[0], "character": start[1]},
                    "end": {"line": end[0], "character": end[1]},
                },
                "text": new,
            }
            expected = reference_apply(expected, start, end, new)
        server.feed(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [change],
                },
            }
        )
        server.edits += 1
        got = server.text(uri)
        assert got == expected, (initial, changes[: version - 1])
    server.feed(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didClose",
            "params": {"textDocument": {"uri": uri}},
        }
    )


def run_generated(server: InProcess, count: int) -> int:
    before = server.sequences

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(sessions)
    def check(session: tuple[str, list[Any]]) -> None:
        check_session(server, session)

    check()
    return server.sequences - before


def test_reference_model_examples() -> None:
    """The reference model itself, on hand-checked cases."""
    assert reference_apply("ab\r\ncd", (0, 5), (0, 5), "X") == "abX\r\ncd"
    assert reference_apply("a😋b", (0, 2), (0, 2), "X") == "aX😋b"
    assert reference_apply("a\rb", (1, 0), (9, 9), "") == "a\r"
    assert reference_apply("x\u2028y\nz", (1, 0), (1, 1), "Q") == "x\u2028y\nQ"


def test_document_sync_matches_reference(inproc: InProcess) -> None:
    ran = run_generated(inproc, DEFAULT_SEQUENCES)
    print(f"document sync: {ran} generated sequences, {inproc.edits} edits so far")
    assert ran >= DEFAULT_SEQUENCES // 2


@pytest.mark.soak
def test_document_sync_soak(inproc: InProcess, request: pytest.FixtureRequest) -> None:
    require_soak(request.config)
    ran = run_generated(inproc, SOAK_SEQUENCES)
    print(f"document sync soak: {ran} generated sequences, {inproc.edits} edits so far")
    assert ran >= SOAK_SEQUENCES
