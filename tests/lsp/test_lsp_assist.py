"""Explain and Review through a real `hearth serve` over stdio: code actions, streamed
progress with the full text so far, diagnostics with valid ranges and quick fixes that apply,
cancellation from the client, and a real model's explanation end to end."""

from __future__ import annotations

import ast
import asyncio
import itertools
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from hearth.bench import scripted, synth
from hearth.lsp.jsonvalue import plain

SHARED_STORIES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "models" / "stories260K.gguf"
)
CODE = '''import os


def run(cmd):
    """Run a shell command."""
    os.system("sh -c " + cmd)
    return True


def add(a, b):
    return a + b
'''


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.write_qwen_bpe(tmp_path_factory.mktemp("m") / "chat-qwen.gguf", n_ctx=4096)


def _model_for(request: pytest.FixtureRequest) -> Path:
    if getattr(request, "param", "synth") == "stories":
        if not SHARED_STORIES.is_file():
            pytest.skip("../shared/models/stories260K.gguf is absent: real-weight test skipped")
        return SHARED_STORIES
    if getattr(request, "param", "synth") == "scripted":
        reviewer: Path = request.getfixturevalue("scripted_model")
        return reviewer
    model: Path = request.getfixturevalue("chat_model")
    return model


@pytest.fixture(scope="module")
def scripted_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hand-weighted: its review is one known finding (see hearth.bench.scripted)."""
    return scripted.write_scripted_reviewer(tmp_path_factory.mktemp("m") / "scripted.gguf")


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"]),
    params=["synth"],
)
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    model = _model_for(request)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text(CODE)
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True)
            ),
            root_uri=ws.as_uri(),
            initialization_options={
                "model": str(model),
                "indexDir": str(tmp_path / "index"),
                "chatMaxTokens": 160 if getattr(request, "param", "") == "scripted" else 40,
                "contextLength": 2048,
            },
        )
    )
    uri = (ws / "app.py").as_uri()
    lsp_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=CODE
            )
        )
    )
    for _ in range(400):
        status = plain(await lsp_client.protocol.send_request_async("hearth/status", {}))
        state = status["model"]
        if state["state"] in ("ready", "error") or (state["state"] == "off" and state["message"]):
            break
        await asyncio.sleep(0.05)
    assert status["model"]["state"] == "ready", status
    yield
    await lsp_client.shutdown_session()


def _commands(actions: Any) -> list[tuple[str, dict[str, Any]]]:
    """(title, command) of command code actions. pytest-lsp's client structures a CodeAction
    that carries a command as a `Command` whose `command` is the repr of the whole object, so
    read that back; real clients parse the JSON themselves."""
    out = []
    for a in actions or []:
        if isinstance(a, types.Command) and a.command.startswith("{"):
            data = ast.literal_eval(a.command)
            out.append((a.title, data))
        elif isinstance(a, types.CodeAction) and a.command is not None:
            out.append(
                (a.title, {"command": a.command.command, "arguments": plain(a.command.arguments)})
            )
    return out


def _range(a: int, b: int, c: int, d: int) -> types.Range:
    return types.Range(
        start=types.Position(line=a, character=b), end=types.Position(line=c, character=d)
    )


def _arg(uri: str, r: types.Range) -> dict[str, Any]:
    return {
        "uri": uri,
        "range": {
            "start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character},
        },
    }


async def _command(
    client: LanguageClient, name: str, uri: str, r: types.Range, token: str | None
) -> Any:
    return plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command=name, arguments=[_arg(uri, r)], work_done_token=token
            )
        )
    )


async def test_code_actions_for_a_selection_and_the_enclosing_function(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = (tmp_path / "ws" / "app.py").as_uri()
    for r in (_range(3, 0, 6, 15), _range(5, 4, 5, 4)):
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=r,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        titles = {title: command for title, command in _commands(actions)}
        assert {"Hearth: Explain", "Hearth: Review"} <= set(titles)
        cmd = titles["Hearth: Review"]
        assert cmd["command"] == "hearth.review"
        arg = cmd["arguments"][0]
        assert arg["uri"] == uri and arg["range"]["start"]["line"] == 3  # `def run` for the cursor


async def test_explain_streams_full_text_so_far_and_returns_markdown(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = (tmp_path / "ws" / "app.py").as_uri()
    token = "explain-1"
    result = await _command(client, "hearth.explain", uri, _range(3, 0, 7, 0), token)
    markdown = result["markdown"]
    assert isinstance(markdown, str) and markdown
    reports = client.progress_reports[token]
    assert reports[0].kind == "begin" and reports[-1].kind == "end"
    messages = [r.message for r in reports if r.kind == "report"]
    assert messages, "no progress while generating"
    # Each report is the full text so far: every one extends the one before.
    assert all(b.startswith(a) for a, b in itertools.pairwise(messages))
    assert markdown.startswith(messages[-1].strip()[:20])


async def test_review_publishes_valid_diagnostics_and_quick_fixes_apply(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = (tmp_path / "ws" / "app.py").as_uri()
    lines = CODE.split("\n")
    result = await _command(client, "hearth.review", uri, _range(3, 0, 7, 0), "review-1")
    assert isinstance(result["message"], str) and result["message"]
    if not result["findings"]:
        assert result["message"].startswith(("no usable findings", "no findings"))
    for f in result["findings"]:  # never an invalid range: inside the reviewed lines 4-7
        assert 3 <= f["range"]["start"]["line"] <= f["range"]["end"]["line"] <= 6
        assert f["range"]["end"]["character"] <= len(lines[f["range"]["end"]["line"]])
    # publishDiagnostics was sent before the command's response, on the same stream.
    diags = client.diagnostics.get(uri, [])
    assert len(diags) == len(result["findings"])
    assert all(d.source == "hearth" for d in diags)
    for d in diags:
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=d.range,
                context=types.CodeActionContext(
                    diagnostics=[d], only=[types.CodeActionKind.QuickFix]
                ),
            )
        )
        for a in actions or []:
            assert isinstance(a, types.CodeAction) and a.edit and a.edit.changes
            [edit] = a.edit.changes[uri]
            assert edit.range == d.range  # replaces exactly the finding's lines


async def test_cancel_stops_the_generation(client: LanguageClient, tmp_path: Path) -> None:
    uri = (tmp_path / "ws" / "app.py").as_uri()
    token = "explain-cancel"
    task = asyncio.ensure_future(
        _command(client, "hearth.explain", uri, _range(3, 0, 10, 0), token)
    )
    for _ in range(200):
        if any(r.kind == "begin" for r in client.progress_reports.get(token, [])):
            break
        await asyncio.sleep(0.01)
    client.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
    )
    try:
        await asyncio.wait_for(task, timeout=30)
    except Exception as exc:  # a cancelled request answers with an error
        assert "cancel" in str(exc).lower()
    # The server is still answering afterwards.
    result = await _command(client, "hearth.explain", uri, _range(9, 0, 10, 0), None)
    assert "markdown" in result


async def test_empty_selection_outside_functions_is_a_clear_error(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = (tmp_path / "ws" / "app.py").as_uri()
    with pytest.raises(Exception, match="not inside a function"):
        await _command(client, "hearth.explain", uri, _range(1, 0, 1, 0), None)


@pytest.mark.parametrize("client", ["stories"], indirect=True)
async def test_real_model_explanation_streams_end_to_end(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = (tmp_path / "ws" / "app.py").as_uri()
    token = "stories"
    result = await _command(client, "hearth.explain", uri, _range(9, 0, 11, 0), token)
    reports = [r for r in client.progress_reports[token] if r.kind == "report"]
    assert len(reports) > 3  # it really streamed, token by token
    assert len(result["markdown"].split()) > 5  # real weights write words


@pytest.mark.parametrize("client", ["scripted"], indirect=True)
async def test_a_real_finding_becomes_a_diagnostic_whose_quick_fix_applies(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri = (tmp_path / "ws" / "app.py").as_uri()
    result = await _command(client, "hearth.review", uri, _range(0, 0, 7, 0), "review-scripted")
    (finding,) = result["findings"]
    assert finding["message"] == scripted.FINDING_MESSAGE
    (diag,) = client.diagnostics[uri]
    line = scripted.FINDING_LINE - 1
    assert diag.source == "hearth" and diag.range.start.line == diag.range.end.line == line
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diag.range,
            context=types.CodeActionContext(
                diagnostics=[diag], only=[types.CodeActionKind.QuickFix]
            ),
        )
    )
    (fix,) = [a for a in actions or [] if isinstance(a, types.CodeAction)]
    assert fix.edit and fix.edit.changes
    (edit,) = fix.edit.changes[uri]
    assert edit.range == diag.range
    # Applying the edit replaces exactly the finding's line and nothing else.
    lines = CODE.split("\n")
    start, end = edit.range.start, edit.range.end
    before = "\n".join([*lines[: start.line], lines[start.line][: start.character]])
    after = "\n".join([lines[end.line][end.character :], *lines[end.line + 1 :]])
    fixed = before + edit.new_text + after
    assert fixed.split("\n")[: start.line] == lines[: start.line]
    assert scripted.FINDING_MESSAGE in fixed.split("\n")[line]
    assert fixed.split("\n")[line + 1 :] == lines[line + 1 :]
