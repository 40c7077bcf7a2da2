"""Huge and odd documents through a real `hearth serve` over stdio.

Each kind (50 MB, 1,000,000 lines, one 100,000-character line, NUL bytes, lone surrogates, a
frame of invalid UTF-8, a binary-looking document) is opened and edited in one server while a
small document is asked for completions: the server never crashes, its peak RSS (VmHWM from
/proc, reset before each kind) stays within a few times the document's size, the small
document is answered within 1 s, requests on the odd document answer at once (an empty
completion or an error that says what to do, never -32603), and the server's copy of the
document stays exactly the client's.

Documents over `document_max_bytes` and binary-looking ones are left alone by the features
(lsp/document_guard.py); the others go through the whole completion pipeline.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from rawlsp import RawServer

from hearth.lsp import positions as P
from hearth.lsp.document_guard import DocumentGuard, over_limit, refusal, usable

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "workspace"
SMALL = "py/app.py"
MB = 1_000_000
SMALL_ANSWER_S = 1.0  # the other document's requests, while the odd one is open and edited
ODD_ANSWER_S = 2.0  # requests on the odd document itself: a quick answer, not a stall
# Peak RSS over the level before the document was opened: the framing layer holds the body
# as bytes and as text while JSON is parsed, and an edit builds the new text beside the old.
RSS_PER_BYTE = 6
RSS_SLACK_MB = 64
figures: list[dict[str, Any]] = []


# -- documents ----------------------------------------------------------------------------
def _fifty_mb() -> str:
    block = "".join(
        f"def handler_{i}(request, *args):\n    value = request.get('k{i}', {i})\n"
        f"    return value * 2  # padding to look like code\n\n"
        for i in range(100)
    )
    return block * (50 * MB // len(block))


def _million_lines() -> str:
    return "".join(f"v{i} = {i % 997}\n" for i in range(1_000_000))


def _long_line() -> str:
    words = random.Random(3).choices(["alpha", "beta", "gamma", "delta", "x1", "=", "+"], k=30_000)
    line = ("DATA = '" + " ".join(words))[:99_998] + "'"
    assert len(line) >= 100_000 - 1
    return "import os\n\n" + line + "\n\ndef after(x):\n    return x\n"


def _nul_bytes() -> str:
    code = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(400))
    return code + "MARK = '" + "\x00" * 20_000 + "'\n" + code


def _surrogates() -> str:
    return "".join(f"def g{i}():\n    return '\udcff{i}\ud800 \udc80'\n\n" for i in range(500))


def _binary_looking() -> str:
    rnd = random.Random(5)
    return bytes(rnd.randrange(256) for _ in range(200_000)).decode("latin-1")


@dataclass(frozen=True)
class Kind:
    name: str
    make: Callable[[], str]
    refused: str | None  # "too-large" / "binary" when the features leave it alone
    lf_only: bool = True  # lines end at "\n" only: the test can place an edit mid-document


KINDS = [
    Kind("50mb", _fifty_mb, "too-large"),
    Kind("1m-lines", _million_lines, "too-large"),
    Kind("100k-char-line", _long_line, None),
    Kind("nul-bytes", _nul_bytes, None),
    Kind("lone-surrogates", _surrogates, None),
    Kind("binary-looking", _binary_looking, "binary", lf_only=False),
]


# -- the server ---------------------------------------------------------------------------
def _proc_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: 5 > /proc/PID/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Session:
    def __init__(self, server: RawServer, root: Path) -> None:
        self.server = server
        self.root = root
        self.small = (root / SMALL).as_uri()

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def timed(self, method: str, params: Any, timeout: float = 60.0) -> tuple[float, Any]:
        t0 = time.monotonic()
        reply = self.server.request(method, params, timeout=timeout)
        return time.monotonic() - t0, reply

    def open(self, uri: str, text: str, version: int = 1) -> int:
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {
                        "uri": uri,
                        "languageId": "python",
                        "version": version,
                        "text": text,
                    }
                },
            }
        ).encode("utf-8")
        self.server.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return len(body)

    def change(self, uri: str, version: int, line: int, text: str) -> None:
        pos = {"line": line, "character": 0}
        self.server.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": pos, "end": pos}, "text": text}],
            },
        )

    def small_request(self) -> float:
        """An inline completion on the small document (the model runs): its answer time."""
        took, reply = self.timed(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": self.small},
                "position": {"line": 3, "character": 0},
                "context": {"triggerKind": 1},
            },
        )
        assert "error" not in reply, reply
        return took

    def status(self) -> float:
        took, reply = self.timed("hearth/status", {})
        assert "result" in reply, reply
        return took

    def document_digest(self, uri: str) -> dict[str, Any] | None:
        _, reply = self.timed("hearth/completionStats", {"uri": uri})
        doc: dict[str, Any] | None = reply["result"].get("document")
        return doc


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, llama_spm_model: Path) -> Iterator[Session]:
    tmp = tmp_path_factory.mktemp("huge")
    root = tmp / "ws"
    shutil.copytree(FIXTURE, root)
    server = RawServer(tmp)
    try:
        server.initialize(
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": {"textDocument": {"inlineCompletion": {}}},
                "initializationOptions": {
                    "indexDir": str(tmp / "index"),
                    "model": str(llama_spm_model),
                    "maxTokens": 8,
                    "explicitCandidates": 1,
                    "chatMaxTokens": 16,
                    "threads": 1,  # no spinning llama threads on a shared machine
                },
            }
        )
        s = Session(server, root)
        deadline = time.monotonic() + 60
        while True:
            _, reply = s.timed("hearth/status", {})
            st_ = reply["result"]
            if st_["index"].get("state") == "ready" and st_["model"]["state"] == "ready":
                break
            assert st_["model"]["state"] != "error", st_["model"]
            assert time.monotonic() < deadline, st_
            time.sleep(0.05)
        server.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": s.small,
                    "languageId": "python",
                    "version": 1,
                    "text": (root / SMALL).read_text(),
                }
            },
        )
        s.small_request()  # the model is warm before anything is measured
        yield s
    finally:
        server.close()
        if figures:
            print("\nhuge/odd documents (peak RSS over the level before opening):")
            for f in figures:
                print(
                    "  {kind:<16} {mb:>8.3f} MB  peak +{rss:>6.1f} MB ({ratio:.1f}x)  "
                    "slowest other-doc answer {small:.3f} s  slowest own answer {own:.3f} s  "
                    "explain/review {assist:.2f} s ({answers})".format(**f)
                )


def _own_requests(s: Session, uri: str) -> dict[str, Any]:
    """Every request a user can make on the document; each must answer at once."""
    pos = {"line": 2, "character": 0}
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}}
    requests = {
        "inline": ("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": pos, "context": {"triggerKind": 1}
        }),
        "completion": ("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos}),
        "codeAction": ("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": rng, "context": {"diagnostics": []}
        }),
        "showContext": ("workspace/executeCommand", {
            "command": "hearth.showContext", "arguments": [{"uri": uri, "position": pos}]
        }),
        "explain": ("workspace/executeCommand", {
            "command": "hearth.explain", "arguments": [{"uri": uri, "range": rng}]
        }),
        "review": ("workspace/executeCommand", {
            "command": "hearth.review", "arguments": [{"uri": uri, "range": rng}]
        }),
    }  # fmt: skip
    out: dict[str, Any] = {}
    for name, (method, params) in requests.items():
        took, reply = s.timed(method, params)
        out[name] = (took, reply)
    return out


def _edit_reference(text: str, kind: Kind, s: Session, uri: str) -> str:
    """Edits at the start, in the middle (LF-only documents) and past the end; each followed
    by a request on the small document. Returns the text the client now holds."""
    version = 1
    edits: list[tuple[int, str]] = [(0, "# first\n")]
    if kind.lf_only:
        edits.append((text.count("\n") // 2, "# middle\n"))
    edits.append((10**7, "\n# last"))
    for line, new in edits:
        version += 1
        s.change(uri, version, line, new)
        if line == 0:
            text = new + text
        elif line >= 10**6 and line > text.count("\n"):
            text = text + new
        else:
            parts = text.split("\n", line)
            text = "\n".join(parts[:line]) + "\n" + new + parts[line]
    return text


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_huge_or_odd_document(session: Session, kind: Kind, tmp_path: Path) -> None:
    s = session
    text = kind.make()
    uri = (s.root / "py" / f"odd_{kind.name.replace('-', '_')}.py").as_uri()
    size = len(text.encode("utf-8", "surrogatepass"))
    peak_ok = _reset_peak(s.pid)
    base_kb = _proc_kb(s.pid, "VmRSS")
    small: list[float] = []

    s.open(uri, text)
    small.append(s.status())
    small.append(s.small_request())
    expected = _edit_reference(text, kind, s, uri)
    small.append(s.small_request())
    small.append(s.status())

    digest = s.document_digest(uri)
    assert digest is not None, f"{kind.name}: the server does not hold the document"
    want = hashlib.sha256(expected.encode("utf-8", "surrogatepass")).hexdigest()
    assert digest["sha256"] == want, f"{kind.name}: the server's copy differs from the client's"

    own = _own_requests(s, uri)
    # Explain and Review of a document Hearth works on run the model (streamed, cancellable,
    # on the inference thread): their time is the model's. Everything else answers at once.
    quick = {n: v for n, v in own.items() if kind.refused or n not in ("explain", "review")}
    slowest_own = max(t for t, _ in quick.values())
    for name, (took, reply) in own.items():
        err = reply.get("error")
        assert err is None or err["code"] != -32603, f"{kind.name} {name}: {err}"
        if name in quick:
            assert took < ODD_ANSWER_S, f"{kind.name} {name} took {took:.2f} s"
    if kind.refused is not None:
        assert own["inline"][1]["result"] is None
        hint = "documentMaxBytes" if kind.refused == "too-large" else "binary"
        for name in ("showContext", "explain", "review"):
            err = own[name][1].get("error")
            assert err is not None and err["code"] == -32602, (name, own[name])
            assert hint in err["message"], err["message"]
        titles = [a.get("title") for a in own["codeAction"][1]["result"] or []]
        assert not any("Explain" in str(t) or "Review" in str(t) for t in titles), titles
    else:
        assert "result" in own["showContext"][1], own["showContext"]
        assert "error" not in own["inline"][1], own["inline"]

    s.server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    small.append(s.status())
    assert s.server.proc.poll() is None, "the server died"
    notices = [
        m
        for m in s.server.drain(0.1)
        if isinstance(m, dict) and m.get("method") == "window/showMessage"
    ]
    if kind.refused is not None:  # told once, with what to do
        name = uri.rsplit("/", 1)[1]
        assert len([n for n in notices if name in n["params"]["message"]]) == 1, notices

    peak_kb = _proc_kb(s.pid, "VmHWM")
    rss_mb = (peak_kb - base_kb) / 1024
    figures.append(
        {
            "kind": kind.name,
            "mb": size / MB,
            "rss": rss_mb,
            "ratio": (peak_kb - base_kb) * 1024 / max(size, 1),
            "small": max(small),
            "own": slowest_own,
            "assist": max(own["explain"][0], own["review"][0]),
            "answers": ", ".join(
                f"{n} " + (str(own[n][1]["error"]["code"]) if "error" in own[n][1] else "result")
                for n in ("explain", "review")
            ),
        }
    )
    if peak_ok:
        bound = (RSS_PER_BYTE * size) / 2**20 + RSS_SLACK_MB
        assert rss_mb < bound, f"{kind.name}: peak RSS +{rss_mb:.0f} MB (bound {bound:.0f} MB)"
    assert max(small) < SMALL_ANSWER_S, f"{kind.name}: the small document waited {small}"


def test_invalid_utf8_frame_is_dropped_and_the_server_answers(session: Session) -> None:
    """A didOpen whose body is not UTF-8 (no valid JSON text can carry raw invalid bytes):
    the frame is dropped, the server stays up, and requests on that URI answer at once."""
    s = session
    uri = (s.root / "py" / "odd_invalid_utf8.py").as_uri()
    head = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "@"}
            },
        }
    ).encode()
    body = head.replace(b'"text": "@"', b'"text": "x = \'\xff\xfe\xc3\x28 \xed\xa0\x80\'\\n"')
    s.server.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert s.status() < SMALL_ANSWER_S
    assert s.small_request() < SMALL_ANSWER_S
    own = _own_requests(s, uri)
    for name, (took, reply) in own.items():
        err = reply.get("error")
        assert err is None or err["code"] != -32603, (name, err)
        assert took < ODD_ANSWER_S, (name, took)
    assert "open documents only" in own["showContext"][1]["error"]["message"]
    assert own["inline"][1]["result"] is None
    assert s.server.proc.poll() is None


# -- the pieces, without a server -----------------------------------------------------------
def test_guard_rules() -> None:
    assert over_limit("a" * 2000, 1999) and not over_limit("a" * 2000, 2000)
    assert over_limit("é" * 1000, 1999) and not over_limit("é" * 1000, 2000)
    big = refusal("x" * 5000, "big.py", 4096)
    assert big is not None and big.reason == "too-large" and "documentMaxBytes" in big.hint
    binary = refusal("\x00abc", "b.py", 4096)
    assert binary is not None and binary.reason == "binary"
    assert refusal("print('ok')\n" * 10, "ok.py", 4096) is None
    odd = "a\x00b\udc80c😋\ud800"
    clean = usable(odd)
    assert clean == "a b\ufffdc😋\ufffd"
    assert len(clean) == len(odd)
    assert len(clean.encode("utf-8")) == len(odd.encode("utf-8", "surrogatepass"))
    plain = "nothing to change"
    assert usable(plain) is plain


def test_prompt_text_is_masked_once_per_version() -> None:
    guard = DocumentGuard(lambda: 1 << 20, lambda _message: None)
    text = 'API_KEY = "sk-live-0123456789abcdefghijkl"\x00\n'
    masked = guard.prompt_text("file:///a.py", text, 1)
    assert "0123456789" not in masked and "\x00" not in masked and len(masked) == len(text)
    assert guard.prompt_text("file:///a.py", text, 1) is masked  # the same version: kept
    newer = text + "x = 1\n"
    assert guard.prompt_text("file:///a.py", newer, 2).endswith("x = 1\n")
    guard.closed("file:///a.py")
    assert guard.prompt_text("file:///a.py", text, 1) is not masked


def _reference_offset(text: str, line: int, column: int) -> int:
    for n, (start, end, _next) in enumerate(P.line_spans(text)):
        if n == line:
            return start + P.column_to_index(text[start:end], column)
    return len(text)


def _reference_position(text: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(text)))
    n, start, end = 0, 0, 0
    for n, (start, end, nxt) in enumerate(P.line_spans(text)):  # noqa: B007
        if offset < nxt:
            break
    return n, P.index_to_column(text[start:end], offset - start)


pieces = st.lists(st.sampled_from(["a", "é", "😋", "\n", "\r", "\r\n", "\x00", " "]), max_size=40)


@settings(max_examples=300, deadline=None, database=None)
@given(pieces.map("".join), st.integers(0, 45), st.integers(0, 5), st.integers(1, 7))
def test_block_counting_positions_match_the_line_walk(
    text: str, line: int, column: int, block: int
) -> None:
    """`offset_at`/`position_at` count lines block by block (CRLF never split between two
    blocks); tiny blocks put every boundary case in reach of short texts."""
    saved = P.BLOCK
    P.BLOCK = block
    try:
        assert P.offset_at(text, line, column) == _reference_offset(text, line, column)
        for offset in (line, column, len(text) - column, len(text) + 1):
            assert P.position_at(text, offset) == _reference_position(text, offset)
    finally:
        P.BLOCK = saved


def test_position_arithmetic_on_a_million_lines_is_fast() -> None:
    text = "x = 1\n" * 1_000_000
    t0 = time.perf_counter()
    assert P.offset_at(text, 999_999, 2) == 6 * 999_999 + 2
    assert P.position_at(text, len(text) - 3) == (999_999, 3)
    took = time.perf_counter() - t0
    assert took < 0.5, f"{took:.2f} s"
