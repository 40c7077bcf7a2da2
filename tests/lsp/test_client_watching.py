"""Who watches the workspace, through a real `hearth serve` over stdio: the editor when it
offers dynamic `workspace/didChangeWatchedFiles` registration (Hearth's own watcher then stays
off), Hearth's watchdog observer when it does not or when the editor refuses."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import captured_exception_key

from hearth.index.watcher import MAX_BATCH_PATHS
from hearth.lsp.index_feature import IndexFeature, client_watch_registration
from hearth.lsp.jsonvalue import plain

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "workspace"
# Longer than the batcher's quiet time (0.3 s) plus an update: long enough for a watcher
# that is running to have reported a change.
SILENCE_S = 1.0


class Registrations:
    """What the client was asked to register, and whether it says yes."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refuse = False


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture
def registrations() -> Registrations:
    return Registrations()


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "hearth", "serve"])
)
async def client(lsp_client: LanguageClient, registrations: Registrations) -> Any:
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(client: LanguageClient, params: types.RegistrationParams) -> None:
        for reg in params.registrations:
            registrations.received.append(
                {"method": reg.method, "options": plain(reg.register_options)}
            )
        if registrations.refuse:
            raise RuntimeError("this client watches nothing")

    yield
    await lsp_client.shutdown_session()


async def _initialize(
    client: LanguageClient,
    workspace: Path,
    tmp_path: Path,
    *,
    dynamic: bool,
    relative: bool = True,
    options: dict[str, Any] | None = None,
) -> None:
    watched = types.DidChangeWatchedFilesClientCapabilities(
        dynamic_registration=dynamic, relative_pattern_support=relative
    )
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                workspace=types.WorkspaceClientCapabilities(did_change_watched_files=watched)
            ),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options={"indexDir": str(tmp_path / "index"), **(options or {})},
        )
    )


async def _status(client: LanguageClient) -> dict[str, Any]:
    result = await client.protocol.send_request_async("hearth/status", {})
    index: dict[str, Any] = plain(result)["index"]
    return index


async def _wait(client: LanguageClient, ok: Any, what: str) -> dict[str, Any]:
    status: dict[str, Any] = {}
    for _ in range(200):
        status = await _status(client)
        if ok(status):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: {status}")


async def _wait_ready(client: LanguageClient) -> dict[str, Any]:
    return await _wait(client, lambda s: s.get("state") == "ready", "index never became ready")


async def _symbols(client: LanguageClient, query: str) -> list[str]:
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
    return [s.name for s in result or []]


async def _eventually(client: LanguageClient, query: str, present: bool) -> None:
    names: list[str] = []
    for _ in range(100):
        names = await _symbols(client, query)
        if (query in names) == present:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{query!r} {'missing' if present else 'still there'}: {names}")


def _notify(client: LanguageClient, *changes: tuple[Path, types.FileChangeType]) -> None:
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=p.as_uri(), type=t) for p, t in changes]
        )
    )


async def test_the_client_watches_when_it_offers_to(
    client: LanguageClient, registrations: Registrations, workspace: Path, tmp_path: Path
) -> None:
    await _initialize(client, workspace, tmp_path, dynamic=True, relative=True)
    status = await _wait_ready(client)
    assert status["watch"]["mode"] == "client"
    # The client really received the registration: languages' files and project files.
    await _wait(client, lambda s: registrations.received, "no registration reached the client")
    (reg,) = registrations.received
    assert reg["method"] == "workspace/didChangeWatchedFiles"
    watchers = reg["options"]["watchers"]
    patterns = [w["globPattern"] for w in watchers]
    assert all(p["baseUri"] == workspace.as_uri() for p in patterns)  # relative patterns
    sources, project = patterns[0]["pattern"], patterns[1]["pattern"]
    for ext in ("py", "js", "ts", "go", "rs"):
        assert f",{ext}," in sources or f"{{{ext}," in sources or f",{ext}}}" in sources
    for name in (".gitignore", ".hearthignore", "go.mod", "tsconfig.json", "package.json"):
        assert name in project
    assert watchers[0]["kind"] == 7  # create | change | delete

    # Hearth's own watcher is off: a change nobody reports stays unseen...
    unseen = workspace / "py" / "unreported.py"
    unseen.write_text("def nobody_reported_this():\n    pass\n")
    await asyncio.sleep(SILENCE_S)
    assert "nobody_reported_this" not in await _symbols(client, "nobody_reported_this")
    # ... and what the client reports is applied.
    _notify(client, (unseen, types.FileChangeType.Created))
    await _eventually(client, "nobody_reported_this", present=True)

    # A folder deleted as a whole: editors report the folder alone.
    folder = workspace / "py" / "pkg_gone"
    folder.mkdir()
    (folder / "a.py").write_text("def inside_a_folder():\n    pass\n")
    (folder / "b.py").write_text("def also_inside():\n    pass\n")
    _notify(client, (folder, types.FileChangeType.Created))
    await _eventually(client, "inside_a_folder", present=True)
    await _eventually(client, "also_inside", present=True)
    shutil.rmtree(folder)
    _notify(client, (folder, types.FileChangeType.Deleted))
    await _eventually(client, "inside_a_folder", present=False)
    await _eventually(client, "also_inside", present=False)
    status = await _status(client)
    assert status["watch"]["events"] == 3 and status["watch"]["rescans"] == 0

    # A storm (a checkout reported as one huge notification) past the batch cap: one
    # rescan, which also finds a change the storm did not mention.
    hidden = workspace / "py" / "hidden_in_the_storm.py"
    hidden.write_text("def found_by_the_rescan():\n    pass\n")
    gone = [workspace / "gone" / f"f{i}.py" for i in range(MAX_BATCH_PATHS + 1000)]
    _notify(client, *((p, types.FileChangeType.Deleted) for p in gone))
    await _eventually(client, "found_by_the_rescan", present=True)
    status = await _wait(client, lambda s: s["watch"]["rescans"] == 1, "no rescan")
    assert "more than" in status["watch"]["last_rescan"]
    assert status["watch"]["events"] == 3 + len(gone)


def test_plain_glob_patterns_without_relative_pattern_support(tmp_path: Path) -> None:
    params = client_watch_registration(tmp_path, relative=False)
    options = params.registrations[0].register_options
    assert isinstance(options, types.DidChangeWatchedFilesRegistrationOptions)
    patterns = [w.glob_pattern for w in options.watchers]
    assert patterns[0].startswith("**/*.{") and "py" in patterns[0]
    assert patterns[1].startswith("**/{") and "go.mod" in patterns[1]
    assert patterns[2] == "**/*"


@pytest.mark.parametrize(
    ("setting", "dynamic", "mode"),
    [
        ("auto", True, "client"),
        ("auto", False, "server"),
        ("client", False, "client"),
        ("server", True, "server"),
        ("off", True, "off"),
    ],
)
def test_the_setting_picks_who_watches(setting: str, dynamic: bool, mode: str) -> None:
    watched = types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=dynamic)
    caps = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(did_change_watched_files=watched)
    )
    feature = IndexFeature(SimpleNamespace(client_capabilities=caps))  # type: ignore[arg-type]
    assert feature._choose_watch_mode(setting) == mode
    feature.stop()


async def test_the_server_watches_when_the_client_does_not(
    client: LanguageClient, registrations: Registrations, workspace: Path, tmp_path: Path
) -> None:
    await _initialize(client, workspace, tmp_path, dynamic=False)
    status = await _wait_ready(client)
    assert status["watch"]["mode"] == "server"
    new = workspace / "py" / "seen_by_watchdog.py"
    new.write_text("def found_without_a_notification():\n    pass\n")
    await _eventually(client, "found_without_a_notification", present=True)
    assert registrations.received == []


async def test_a_refused_registration_falls_back_to_the_server(
    client: LanguageClient,
    registrations: Registrations,
    workspace: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    registrations.refuse = True
    await _initialize(client, workspace, tmp_path, dynamic=True)
    status = await _wait(
        client, lambda s: s.get("watch", {}).get("mode") == "server", "no fallback"
    )
    assert "refused" in (status["watch"]["note"] or "")
    # The refusal is this test's doing: pytest-lsp would report the handler's error.
    request.node.stash[captured_exception_key] = None
    await _wait_ready(client)
    new = workspace / "py" / "after_refusal.py"
    new.write_text("def watched_after_all():\n    pass\n")
    await _eventually(client, "watched_after_all", present=True)
