"""The strict JSON type check of params (hearth.lsp.param_types): what lsprotocol's converter
would coerce is named as a mismatch; what fits the type passes."""

from __future__ import annotations

from typing import Any

import pytest
from lsprotocol import types
from pygls.protocol import JsonRPCRequestMessage

from hearth.lsp.param_types import mismatch, params_type

DOC = {"uri": "file:///a.py"}
POS = {"line": 1, "character": 2}
RANGE = {"start": POS, "end": POS}
COMPLETION = params_type(types.CompletionRequest)
CODE_ACTION = params_type(types.CodeActionRequest)
DID_CHANGE = params_type(types.DidChangeTextDocumentNotification)


@pytest.mark.parametrize(
    ("tp", "params"),
    [
        (COMPLETION, {"textDocument": DOC, "position": POS}),
        (COMPLETION, {"textDocument": DOC, "position": POS, "context": None, "extra": [1]}),
        (COMPLETION, {"textDocument": DOC, "position": POS, "workDoneToken": "t"}),
        (COMPLETION, {"textDocument": DOC, "position": {"line": 2**31 - 1, "character": 0}}),
        (CODE_ACTION, {"textDocument": DOC, "range": RANGE, "context": {"diagnostics": []}}),
        (
            CODE_ACTION,
            {
                "textDocument": DOC,
                "range": RANGE,
                "context": {
                    "diagnostics": [{"range": RANGE, "message": "m", "data": {"any": [None]}}],
                    "only": ["quickfix", "a.custom.kind"],
                },
            },
        ),
        (
            DID_CHANGE,
            {
                "textDocument": {"uri": "file:///a.py", "version": 3},
                "contentChanges": [{"text": "all"}, {"range": RANGE, "text": "x"}],
            },
        ),
        (params_type(JsonRPCRequestMessage), {"anything": [1, "goes"]}),
    ],
)
def test_params_that_fit_pass(tp: Any, params: Any) -> None:
    assert mismatch(tp, params) is None


@pytest.mark.parametrize(
    ("tp", "params", "where"),
    [
        (COMPLETION, {"textDocument": {"uri": None}, "position": POS}, "textDocument.uri"),
        (COMPLETION, {"textDocument": {"uri": 5}, "position": POS}, "textDocument.uri"),
        (COMPLETION, {"textDocument": DOC, "position": {"line": "3", "character": 0}}, "line"),
        (COMPLETION, {"textDocument": DOC, "position": {"line": True, "character": 0}}, "line"),
        (COMPLETION, {"textDocument": DOC, "position": {"line": 1.5, "character": 0}}, "line"),
        (COMPLETION, {"textDocument": DOC, "position": []}, "position"),
        (COMPLETION, {"textDocument": DOC, "position": POS, "context": {"triggerKind": True}}, ""),
        (COMPLETION, {"textDocument": DOC, "position": POS, "workDoneToken": {}}, "workDone"),
        (
            CODE_ACTION,
            {"textDocument": DOC, "range": RANGE, "context": {"diagnostics": [], "only": {}}},
            "only",
        ),
        (
            CODE_ACTION,
            {"textDocument": DOC, "range": RANGE, "context": {"diagnostics": "abc"}},
            "diagnostics",
        ),
        (
            DID_CHANGE,
            {
                "textDocument": {"uri": "file:///a.py", "version": 3},
                "contentChanges": [{"text": 5}],
            },
            "contentChanges[0]",
        ),
        (COMPLETION, "a string", "params"),
    ],
)
def test_params_of_the_wrong_json_type_are_named(tp: Any, params: Any, where: str) -> None:
    why = mismatch(tp, params)
    assert why is not None and where in why, why


def test_deep_json_is_not_walked_forever() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = [deep]
    assert mismatch(params_type(JsonRPCRequestMessage), deep) is None
    tp = params_type(types.ExecuteCommandRequest)
    assert mismatch(tp, {"command": "c", "arguments": deep}) is None
