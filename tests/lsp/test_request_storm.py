"""A storm of generated and mutated requests, pipelined into a real `hearth serve` over stdio.

Valid params are built from lsprotocol's types (and unstructured by its converter), then
mutated along the same types: wrong JSON types, missing or null fields, negative and huge
positions, unknown URIs, extra fields, params that are not an object. Unknown methods,
notifications (document sync, `$/cancelRequest` of requests still in flight, unknown ones)
and hearth's own requests are mixed in, and each batch is written in one go without waiting
for answers: that is what shakes out missing and duplicated responses. Every request id must
be answered exactly once, params that do not fit the method's type get InvalidParams
(-32602), no request meets an unexpected exception (-32603 "internal error"), and the server
answers a final request.

Default runs send about 1,000 requests; `pytest -m soak` (or HEARTH_SOAK=1) sends 10,000+.
"""

from __future__ import annotations

import enum
import functools
import os
import queue
import sys
import time
import typing
from collections import Counter, abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from lsprotocol.converters import get_converter

sys.path.insert(0, str(Path(__file__).parent))
from generated import soak_selected
from rawlsp import RawServer, frame, start_with_model

DEFAULT_REQUESTS = 1_000
SOAK_REQUESTS = 10_000
BATCH = 100  # operations written in one go; about 80 of them are requests
ANSWER_TIMEOUT_S = 60.0

INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
INVALID_REQUEST = -32600
REQUEST_CANCELLED = -32800
CONTENT_MODIFIED = -32801
INTERNAL_ERROR = -32603
ASSIST_ERROR = -32001

CONVERTER = get_converter()

OPEN_DOCS = ["a.py", "b.py", "c.txt"]
DOC_TEXT = {
    "a.py": "import os\n\n\ndef add(a, b):\n    return a + b\n\n\nclass Box:\n    def get(self):\n"
    "        return self.value\n",
    "b.py": "# é 😋 中\r\nx = 1\r\ndef f(\r\n",
    "c.txt": "plain text\n\nwith lines\n",
}


# -- what the generator knows about lsprotocol's types ------------------------------------


@dataclass(frozen=True)
class Slot:
    """One field present in a params object: where it is, what JSON type it must have."""

    path: tuple[str | int, ...]
    kind: str  # str | int | bool | enum | object | list | any
    required: bool


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the type without `None`, whether `None` was allowed)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), True
    return tp, False


def _kind(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is str:
        return "str"
    if tp is bool:
        return "bool"
    if tp is int:
        return "int"
    if isinstance(tp, type) and issubclass(tp, enum.Enum) and issubclass(tp, int):
        return "enum"
    if isinstance(tp, type) and attrs.has(tp):
        return "object"
    if origin in (list, abc.Sequence):
        return "list"
    return "any"


@functools.cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def slots(cls: type[Any], value: Any, path: tuple[str | int, ...] = ()) -> Iterator[Slot]:
    """The typed fields of `value` (the JSON of an instance of `cls`), depth first."""
    if not isinstance(value, dict):
        return
    hints = _hints(cls)
    for f in attrs.fields(cls):
        key = _camel(f.name)
        if key not in value:
            continue
        tp, nullable = _unwrap(hints[f.name])
        required = f.default is attrs.NOTHING and not nullable
        kind = _kind(tp)
        here = (*path, key)
        yield Slot(here, kind, required)
        if kind == "object":
            yield from slots(tp, value[key], here)
        elif kind == "list" and isinstance(value[key], list):
            (item,) = typing.get_args(tp) or (Any,)
            item, _ = _unwrap(item)
            if isinstance(item, type) and attrs.has(item):
                for i, element in enumerate(value[key]):
                    yield Slot((*here, i), "object", True)
                    yield from slots(item, element, (*here, i))


WRONG: dict[str, list[Any]] = {
    "str": [0, -1, 1.5, True, [], {}, ["a"]],
    "int": ["x", "0", 1.5, True, False, [], {}, [0]],
    "bool": ["true", 0, 1, [], {}],
    "enum": [999, -5, "1", 1.5, True, [], {}],
    "object": ["x", 0, [], True],
    "list": ["x", 0, {}, True],
}


def _get(value: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


# -- operations ---------------------------------------------------------------------------


@dataclass
class Op:
    """One message of a batch. `expect` names what the answer must be (requests only)."""

    method: str
    params: Any = None
    has_params: bool = True
    request: bool = True
    expect: str = "ok"  # ok | invalid | unknown | invalid-request | notification | any
    label: str = "valid"
    cancel_back: int | None = None  # $/cancelRequest of the request this many ops earlier


@dataclass
class Setup:
    root: Path
    uris: list[str] = field(default_factory=list)
    odd_uris: list[str] = field(default_factory=list)


positions = st.one_of(
    st.builds(types.Position, line=st.integers(0, 30), character=st.integers(0, 120)),
    st.builds(types.Position, line=st.just(2**31 - 1), character=st.integers(0, 2**31 - 1)),
)
ranges = st.builds(types.Range, start=positions, end=positions)
texts = st.text(alphabet=st.sampled_from(list("ab_ (\n\t\r:é😋")), max_size=12)


URI = "hearth-test:the-uri"  # replaced by the drawn URI once the params are JSON
doc_id = st.just(types.TextDocumentIdentifier(uri=URI))
diagnostics = st.builds(
    types.Diagnostic,
    range=ranges,
    message=texts,
    severity=st.none() | st.sampled_from(types.DiagnosticSeverity),
    source=st.none() | st.just("hearth"),
)
command_arguments = st.sampled_from(
    [
        [
            {
                "uri": URI,
                "range": {"start": {"line": 3, "character": 0}, "end": {"line": 5, "character": 0}},
            }
        ],
        [
            {
                "uri": URI,
                "range": {"start": {"line": 0, "character": 9}, "end": {"line": 0, "character": 9}},
            }
        ],
        [{"uri": URI, "position": {"line": 4, "character": 4}}],
        [{"uri": URI, "position": {"line": 2**31 - 1, "character": 2**31 - 1}}],
        [],
        [5],
        [{"uri": URI}],
        None,
    ]
)
PARAMS: dict[str, st.SearchStrategy[Any]] = {
    types.TEXT_DOCUMENT_INLINE_COMPLETION: st.builds(
        types.InlineCompletionParams,
        text_document=doc_id,
        position=positions,
        context=st.builds(
            types.InlineCompletionContext,
            trigger_kind=st.sampled_from(types.InlineCompletionTriggerKind),
            selected_completion_info=st.none()
            | st.builds(types.SelectedCompletionInfo, range=ranges, text=texts),
        ),
    ),
    types.TEXT_DOCUMENT_COMPLETION: st.builds(
        types.CompletionParams,
        text_document=doc_id,
        position=positions,
        context=st.none()
        | st.builds(
            types.CompletionContext,
            trigger_kind=st.sampled_from(types.CompletionTriggerKind),
            trigger_character=st.none() | st.sampled_from([".", "(", " "]),
        ),
    ),
    types.TEXT_DOCUMENT_CODE_ACTION: st.builds(
        types.CodeActionParams,
        text_document=doc_id,
        range=ranges,
        context=st.builds(
            types.CodeActionContext,
            diagnostics=st.lists(diagnostics, max_size=2),
            only=st.none()
            | st.lists(
                st.sampled_from([types.CodeActionKind.QuickFix, types.CodeActionKind.Refactor]),
                max_size=2,
            ),
        ),
    ),
    types.WORKSPACE_SYMBOL: st.builds(types.WorkspaceSymbolParams, query=texts),
    types.WORKSPACE_EXECUTE_COMMAND: st.builds(
        types.ExecuteCommandParams,
        command=st.sampled_from(
            ["hearth.explain", "hearth.review", "hearth.showContext", "hearth.nope"]
        ),
        arguments=command_arguments,
    ),
    types.TEXT_DOCUMENT_DID_CHANGE: st.builds(
        types.DidChangeTextDocumentParams,
        text_document=st.builds(
            types.VersionedTextDocumentIdentifier, uri=st.just(URI), version=st.integers(0, 9999)
        ),
        content_changes=st.lists(
            st.one_of(
                st.builds(types.TextDocumentContentChangePartial, range=ranges, text=texts),
                st.builds(types.TextDocumentContentChangeWholeDocument, text=texts),
            ),
            min_size=1,
            max_size=2,
        ),
    ),
    types.TEXT_DOCUMENT_DID_OPEN: st.builds(
        types.DidOpenTextDocumentParams,
        text_document=st.builds(
            types.TextDocumentItem,
            uri=st.just(URI),
            language_id=st.just("python"),
            version=st.integers(0, 10),
            text=texts,
        ),
    ),
    types.TEXT_DOCUMENT_DID_CLOSE: st.builds(
        types.DidCloseTextDocumentParams, text_document=doc_id
    ),
}


def _with_uri(value: Any, uri: str) -> Any:
    if value == URI:
        return uri
    if isinstance(value, dict):
        return {k: _with_uri(v, uri) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_uri(v, uri) for v in value]
    return value


def _typed_params(draw: st.DrawFn, method: str, uri: str) -> Any:
    """Valid params for `method`: an lsprotocol object, as its converter writes it."""
    return _with_uri(CONVERTER.unstructure(draw(PARAMS[method])), uri)


TYPED_REQUESTS = [
    types.TEXT_DOCUMENT_INLINE_COMPLETION,
    types.TEXT_DOCUMENT_COMPLETION,
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.WORKSPACE_SYMBOL,
    types.WORKSPACE_EXECUTE_COMMAND,
]
PARAMS_TYPE = {
    types.TEXT_DOCUMENT_INLINE_COMPLETION: types.InlineCompletionParams,
    types.TEXT_DOCUMENT_COMPLETION: types.CompletionParams,
    types.TEXT_DOCUMENT_CODE_ACTION: types.CodeActionParams,
    types.WORKSPACE_SYMBOL: types.WorkspaceSymbolParams,
    types.WORKSPACE_EXECUTE_COMMAND: types.ExecuteCommandParams,
    types.TEXT_DOCUMENT_DID_CHANGE: types.DidChangeTextDocumentParams,
    types.TEXT_DOCUMENT_DID_OPEN: types.DidOpenTextDocumentParams,
    types.TEXT_DOCUMENT_DID_CLOSE: types.DidCloseTextDocumentParams,
}
HEARTH_REQUESTS = [
    "hearth/status",
    "hearth/completionStats",
    "hearth/suggestionShown",
    "hearth/suggestionAccepted",
    "hearth/suggestionRejected",
]
UNKNOWN_METHODS = [
    "textDocument/hover",  # a real LSP method Hearth does not serve
    "textDocument/definition",
    "hearth/noSuchThing",
    "$/noSuchRequest",
    "no/such/method",
    "",
]
ABSENT = object()  # params left out of the message
MUTATIONS = ["valid", "extra", "delete", "null", "wrong-type", "position", "uri", "container"]


def _mutate(
    draw: st.DrawFn, cls: type[Any], params: Any, odd_uris: list[str]
) -> tuple[Any, str, bool]:
    """(mutated params, label, still valid)."""
    how = draw(st.sampled_from(MUTATIONS))
    found = list(slots(cls, params))
    if how == "extra":
        objects = [()] + [s.path for s in found if s.kind == "object"]
        target = _get(params, draw(st.sampled_from(objects)))
        target[draw(st.sampled_from(["zzExtra", "_meta", "hearth"]))] = draw(
            st.sampled_from([1, "x", None, [1, {}], {"a": {"b": None}}])
        )
        return params, how, True
    if how in ("delete", "null") and found:
        slot = draw(st.sampled_from(found))
        parent = _get(params, slot.path[:-1])
        if how == "delete":
            if isinstance(parent, list):
                parent.pop(slot.path[-1])  # type: ignore[call-overload]
                return params, f"{how}-item", True
            del parent[slot.path[-1]]
        else:
            parent[slot.path[-1]] = None
        return params, f"{how}-{'required' if slot.required else 'optional'}", not slot.required
    if how == "wrong-type":
        typed = [s for s in found if s.kind in WRONG]
        if typed:
            slot = draw(st.sampled_from(typed))
            _get(params, slot.path[:-1])[slot.path[-1]] = draw(st.sampled_from(WRONG[slot.kind]))
            return params, f"wrong-{slot.kind}", False
    if how == "position":
        where = [s.path for s in found if s.path[-1] in ("line", "character")]
        if where:
            path = draw(st.sampled_from(where))
            value = draw(st.sampled_from([-1, -(2**40), 2**31, 2**53, 2**64]))
            _get(params, path[:-1])[path[-1]] = value
            return params, "position-out-of-range", False
    if how == "uri":
        where = [s.path for s in found if s.path[-1] == "uri"]
        if where:
            path = draw(st.sampled_from(where))
            _get(params, path[:-1])[path[-1]] = draw(st.sampled_from(odd_uris))
            return params, "unknown-uri", True
    if how == "container":
        return draw(st.sampled_from(["a string", 5, [], [1, 2], True, None, ABSENT])), how, False
    return params, "valid", True


@st.composite
def operations(draw: st.DrawFn, setup: Setup) -> Op:
    kind = draw(st.sampled_from(["typed"] * 10 + ["hearth"] * 2 + ["unknown"] + ["notify"] * 4))
    uri = draw(st.sampled_from(setup.uris))
    if kind == "typed":
        method = draw(st.sampled_from(TYPED_REQUESTS))
        cls = PARAMS_TYPE[method]
        params = _typed_params(draw, method, uri)
        params, label, valid = _mutate(draw, cls, params, setup.odd_uris)
        expect = "ok" if valid else "invalid"
        return Op(method, params, has_params=params is not ABSENT, expect=expect, label=label)
    if kind == "hearth":
        method = draw(st.sampled_from(HEARTH_REQUESTS))
        params = draw(st.sampled_from([{}, {"uri": uri}, {"uri": uri, "id": "1"}, None, [], "x"]))
        return Op(method, params, has_params=params is not None, expect="any", label="hearth")
    if kind == "unknown":
        method = draw(st.sampled_from(UNKNOWN_METHODS))
        if draw(st.booleans()):
            return Op(method, has_params=False, expect="unknown", label="unknown-method")
        return Op(method, {"a": 1}, expect="unknown", label="unknown-method")
    # Notifications: document sync (valid and mutated), cancels, unknown ones, and a
    # notification method sent as a request (InvalidRequest).
    sub = draw(st.sampled_from(["sync", "sync", "sync", "cancel", "cancel", "odd", "as-request"]))
    if sub == "sync":
        method = draw(
            st.sampled_from(
                [types.TEXT_DOCUMENT_DID_CHANGE] * 6
                + [types.TEXT_DOCUMENT_DID_OPEN, types.TEXT_DOCUMENT_DID_CLOSE]
            )
        )
        cls = PARAMS_TYPE[method]
        params = _typed_params(draw, method, uri)
        if method == types.TEXT_DOCUMENT_DID_OPEN:
            params["textDocument"]["text"] = DOC_TEXT.get(Path(uri).name, "")
        params, label, _ = _mutate(draw, cls, params, setup.odd_uris)
        return Op(
            method,
            params,
            has_params=params is not ABSENT,
            request=False,
            expect="notification",
            label=f"sync-{label}",
        )
    if sub == "cancel":
        back = draw(st.integers(1, 20))
        return Op(
            "$/cancelRequest",
            request=False,
            expect="notification",
            label="cancel",
            cancel_back=back,
        )
    if sub == "odd":
        method = draw(st.sampled_from(["hearth/noSuch", "$/noSuch", "$/setTrace", "$/progress"]))
        params = draw(st.sampled_from([{"value": "off"}, {}, None, "x"]))
        return Op(
            method,
            params,
            has_params=params is not None,
            request=False,
            expect="notification",
            label="odd-notification",
        )
    return Op(
        draw(st.sampled_from([types.INITIALIZED, types.TEXT_DOCUMENT_DID_CLOSE, "exit"])),
        {},
        expect="invalid-request",
        label="notification-as-request",
    )


# -- the server side ------------------------------------------------------------------------


def soak(config: pytest.Config) -> bool:
    return soak_selected(config) or os.environ.get("HEARTH_SOAK") == "1"


@dataclass
class Storm:
    server: RawServer
    setup: Setup
    next_id: int = 0
    answers: Counter[Any] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    notifications: int = 0
    stray: list[Any] = field(default_factory=list)
    errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def new_id(self) -> int | str:
        self.next_id += 1
        return self.next_id if self.next_id % 3 else f"s-{self.next_id}"

    def run_batch(self, ops: list[Op]) -> None:
        sent: list[tuple[int | str, Op]] = []
        cancelled: set[Any] = set()
        data = bytearray()
        for op in ops:
            message: dict[str, Any] = {"jsonrpc": "2.0", "method": op.method}
            if op.cancel_back is not None:
                if len(sent) < op.cancel_back:
                    continue
                target = sent[-op.cancel_back][0]
                cancelled.add(target)
                message["params"] = {"id": target}
            elif op.has_params:
                message["params"] = op.params
            if op.request:
                msg_id = self.new_id()
                message["id"] = msg_id
                sent.append((msg_id, op))
                self.requests += 1
                self.labels[op.label] += 1
            else:
                self.notifications += 1
            data += frame(message)
        self.server.write(bytes(data))
        waiting = {msg_id: op for msg_id, op in sent}
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while waiting:
            try:
                m = self.server.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                missing = {k: (v.method, v.label) for k, v in list(waiting.items())[:10]}
                self.problems.append(f"{len(waiting)} requests unanswered, e.g. {missing}")
                return
            assert m is not None, self.server.stderr.decode(errors="replace")[-3000:]
            self._take(m, waiting, cancelled)

    def _take(self, m: Any, waiting: dict[Any, Op], cancelled: set[Any]) -> None:
        if "method" in m:  # a notification or a request from the server
            if "id" in m:
                self.server.send({"jsonrpc": "2.0", "id": m["id"], "result": None})
            return
        msg_id = m.get("id")
        self.answers[msg_id] += 1
        if self.answers[msg_id] > 1:
            self.problems.append(f"duplicate answer to {msg_id!r}: {m}")
            return
        op = waiting.pop(msg_id, None)
        if op is None:
            self.stray.append(m)
            return
        kind = "result" if "error" not in m else str(m["error"].get("code"))
        self.kinds[kind] += 1
        if "error" in m:
            self.errors[(kind, op.method, str(m["error"].get("message"))[:60])] += 1
        why = self._wrong(op, m, msg_id in cancelled)
        if why:
            self.problems.append(f"{op.method} [{op.label}] {why}: sent {op.params!r} got {m}")

    @staticmethod
    def _wrong(op: Op, m: dict[str, Any], cancelled: bool) -> str | None:
        error = m.get("error")
        if error is not None:
            if "Traceback" in str(error) or not isinstance(error.get("message"), str):
                return "error carries a traceback or no message"
            if isinstance(error.get("data"), (dict, list)):
                return "error carries structured data"
            if "internal error" in error["message"]:
                return "an unexpected exception in a handler"
        if "result" in m and "error" in m:
            return "both result and error"
        code = error.get("code") if error is not None else None
        if cancelled and code == REQUEST_CANCELLED:
            return None
        if op.expect == "invalid":
            return None if code == INVALID_PARAMS else "expected InvalidParams (-32602)"
        if op.expect == "unknown":
            return None if code == METHOD_NOT_FOUND else "expected MethodNotFound (-32601)"
        if op.expect == "invalid-request":
            return None if code == INVALID_REQUEST else "expected InvalidRequest (-32600)"
        if op.expect == "ok" and code is not None:
            if op.method == types.WORKSPACE_EXECUTE_COMMAND:
                # A command's arguments are `any` to the type: the command judges them.
                ok = code in (INVALID_PARAMS, ASSIST_ERROR, CONTENT_MODIFIED)
            else:
                ok = code == CONTENT_MODIFIED
            return None if ok else f"error {code} for params that fit the method's type"
        if op.expect == "any" and code not in (None, INVALID_PARAMS):
            return f"error {code} from a method Hearth serves"
        return None


def _initialize(server: RawServer, root: Path, model: Path) -> None:
    options = {
        "model": str(model),
        "indexDir": str(root.parent / "index"),
        "completionStats": False,
        "speculative": False,
        "warmup": False,
        "debounceMs": 0,
        "maxTokens": 6,
        "chatMaxTokens": 16,
        "explicitCandidates": 1,
    }
    start_with_model(server, root, options)


@pytest.fixture(scope="module")
def storm(tmp_path_factory: pytest.TempPathFactory, qwen_bpe_model: Path) -> Iterator[Storm]:
    tmp = tmp_path_factory.mktemp("storm")
    root = tmp / "ws"
    root.mkdir()
    for name, text in DOC_TEXT.items():
        (root / name).write_text(text, encoding="utf-8", newline="")
    server = RawServer(tmp)
    setup = Setup(root)
    setup.uris = [(root / n).as_uri() for n in OPEN_DOCS] + [(root / "missing.py").as_uri()]
    setup.odd_uris = [
        (root / "nowhere" / "x.py").as_uri(),
        "untitled:Untitled-1",
        "file:///",
        "",
        "file:///%ZZ/x.py",
        "http://example.invalid/a.py",
        "not a uri",
        root.as_uri() + "/sub/../missing%20file.py",
    ]
    try:
        _initialize(server, root, qwen_bpe_model)
        for name in OPEN_DOCS:
            server.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": (root / name).as_uri(),
                        "languageId": "python",
                        "version": 1,
                        "text": DOC_TEXT[name],
                    }
                },
            )
        server.drain(0.1)
        yield Storm(server, setup)
    finally:
        server.close()


def run_storm(storm: Storm, target: int) -> None:
    before = storm.requests
    storm.kinds, storm.labels, storm.errors = Counter(), Counter(), Counter()
    storm.notifications = 0
    examples = target // 70 + 1  # a margin over the ~80 requests per batch

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],  # a shrink would replay batches against a changed server
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(operations(storm.setup), min_size=BATCH, max_size=BATCH))
    def batch(ops: list[Op]) -> None:
        storm.run_batch(ops)
        problems, storm.problems = storm.problems, []
        assert not problems, "\n".join(problems[:10])

    start = time.monotonic()
    batch()
    sent = storm.requests - before
    # Late duplicates would arrive after their batch: wait a moment for any.
    late = storm.server.drain(0.5)
    for m in late:
        if "method" not in m:
            storm.answers[m.get("id")] += 1
    twice = {k: n for k, n in storm.answers.items() if n != 1}
    final = storm.server.request("hearth/status", {}, timeout=10)
    elapsed = time.monotonic() - start
    print(
        f"\nrequest storm: {sent} requests and {storm.notifications} notifications in "
        f"{elapsed:.1f} s; answers by kind {dict(sorted(storm.kinds.items()))}; "
        f"missing 0, duplicated {len(twice)}, stray {len(storm.stray)}"
    )
    print(f"request storm labels: {dict(sorted(storm.labels.items()))}")
    assert twice == {}, twice
    assert storm.stray == [], storm.stray[:5]
    assert "result" in final and storm.server.proc.poll() is None
    for (code, method, message), n in storm.errors.most_common(12):
        print(f"  {n:5d} x {code} {method}: {message!r}")
    assert sent >= target, sent


def test_request_storm(storm: Storm) -> None:
    run_storm(storm, DEFAULT_REQUESTS)


@pytest.mark.soak
def test_request_storm_soak(storm: Storm, request: pytest.FixtureRequest) -> None:
    if not soak(request.config):
        pytest.skip("full-count request storm: select it with `pytest -m soak` or HEARTH_SOAK=1")
    run_storm(storm, SOAK_REQUESTS)


def test_server_exits_cleanly_after_the_storm(storm: Storm) -> None:
    assert storm.server.request("shutdown", timeout=10)["result"] is None
    storm.server.notify("exit")
    code = storm.server.wait(timeout=15)
    time.sleep(0.2)  # the stderr reader thread catches up
    assert code == 0, storm.server.stderr[-3000:].decode("utf-8", "replace")
