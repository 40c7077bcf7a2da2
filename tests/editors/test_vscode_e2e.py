"""End to end in a real VS Code: code-server from npm with the freshly built .vsix, driven in
Debian's Chromium by playwright-core (editors/vscode/test/e2e/run.mjs).

One session: type in a Python file and see ghost text, accept it with Tab and check the saved
file, Explain Selection fills the side panel, Review Selection shows a diagnostic. Each step
leaves a screenshot in tests/artifacts/vscode/ (NN-step.png), with results.json, the saved
file and the extension host's logs, for a person to look at.

First run installs what it needs under ~/.cache/hearth-e2e/vscode (editors/vscode/scripts/
e2e-setup.sh: Chromium and libkrb5-dev from Debian, Node 24 and code-server from npm; about
5 minutes on 2 cores); later runs take about a minute. Skips, with the reason, only where that
cannot be had (no npm, not root for apt-get, Chromium cannot start).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hearth.bench import scripted

REPO = Path(__file__).resolve().parents[2]
EXT = REPO / "editors" / "vscode"
ARTIFACTS = REPO / "tests" / "artifacts" / "vscode"

SAMPLE = '''"""Small numeric helpers."""


def fibonacci(n):
    """Return the n-th Fibonacci number."""
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


'''
TYPED = "def average(numbers):\n    total = "

USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoUpdate": False,
    "extensions.autoCheckUpdates": False,
    "extensions.ignoreRecommendations": True,
    "chat.disableAIFeatures": True,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "git.enabled": False,
    "files.autoSave": "off",
    "editor.minimap.enabled": False,
    # Only Hearth's ghost text: no word suggestions competing for Tab.
    "editor.quickSuggestions": {"other": "off", "comments": "off", "strings": "off"},
    "editor.suggestOnTriggerCharacters": False,
    "editor.wordBasedSuggestions": "off",
    "editor.inlineSuggest.enabled": True,
    "editor.autoClosingBrackets": "never",
    "editor.autoClosingQuotes": "never",
    # Typed keys land as typed (the driver types the indentation itself).
    "editor.autoIndent": "none",
}


def _setup_env() -> dict[str, str]:
    if shutil.which("npm") is None:
        pytest.skip(
            "npm is not on PATH: the VS Code e2e test installs Node 24 and code-server with it"
        )
    done = subprocess.run(
        ["bash", str(EXT / "scripts" / "e2e-setup.sh")],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if done.returncode == 77:
        pytest.skip(f"VS Code e2e cannot run here: {done.stderr.strip().splitlines()[-1]}")
    if done.returncode != 0:
        pytest.fail(f"e2e-setup.sh failed ({done.returncode}):\n{done.stderr[-4000:]}")
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    probe = subprocess.run(
        [
            env["CHROMIUM"],
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            "about:blank",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0 or "<html" not in probe.stdout:
        pytest.skip(f"Chromium cannot run here: {probe.stderr.strip()[-500:]}")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"code-server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"code-server did not answer {url} within {timeout} s")


@pytest.fixture(scope="session")
def vscode_run(
    tmp_path_factory: pytest.TempPathFactory, models_dir: Path
) -> Iterator[dict[str, Any]]:
    """Installs, builds, starts code-server, runs the driver once; yields results.json."""
    tools = _setup_env()
    # Qwen-style FIM tokens and a ChatML template, with room for the review prompt (~700 tokens),
    # hand-weighted (hearth.bench.scripted) so that suggestions are known text and the review
    # writes a finding; random weights write invalid UTF-8, which Hearth refuses to suggest.
    model = scripted.write_scripted_reviewer(models_dir / "vscode-e2e-scripted.gguf")
    chat_model = model
    node_path = str(Path(tools["NODE24"]).parent) + os.pathsep + os.environ.get("PATH", "")
    built = subprocess.run(
        ["bash", str(EXT / "scripts" / "package.sh")], capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, f"packaging the extension failed:\n{built.stderr[-4000:]}"
    vsix = built.stdout.strip().splitlines()[-1]

    root = tmp_path_factory.mktemp("vscode-e2e")
    user_data, extensions, hearth_home = root / "user-data", root / "extensions", root / "hearth"
    workspace = root / "workspace"
    for d in (user_data / "User", extensions, hearth_home, workspace / ".vscode"):
        d.mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS, indent=2))
    (workspace / "numbers.py").write_text(SAMPLE)
    (workspace / ".vscode" / "settings.json").write_text(
        json.dumps(
            {
                "hearth.server.path": sys.executable,
                "hearth.model": str(model),
                "hearth.chatModel": str(chat_model),
                "hearth.threads": 2,
                "hearth.maxTokens": 12,
                "hearth.completionStats": False,
                "hearth.trace.server": "messages",
            },
            indent=2,
        )
    )
    env = {
        **os.environ,
        "PATH": node_path,
        "npm_config_nodedir": str(Path(tools["NODE24"]).parents[1]),
        "HEARTH_CACHE_DIR": str(hearth_home / "cache"),
        "HEARTH_CONFIG_DIR": str(hearth_home / "config"),
    }
    env.pop("HEARTH_MODEL", None)
    code_server = tools["CODE_SERVER"]
    common = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    installed = subprocess.run(
        [code_server, *common, "--force", "--install-extension", vsix],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert installed.returncode == 0, (
        f"installing the .vsix failed:\n{installed.stdout}\n{installed.stderr}"
    )
    assert any(p.name.startswith("hearth.hearth-") for p in extensions.iterdir()), installed.stdout

    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    port = _free_port()
    config = root / "code-server.yaml"
    config.write_text("")
    log = (ARTIFACTS / "code-server.log").open("wb")
    server = subprocess.Popen(
        [
            code_server,
            *common,
            "--config",
            str(config),
            "--auth",
            "none",
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            str(workspace),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", server, 120)
        driver_config = root / "driver.json"
        driver_config.write_text(
            json.dumps(
                {
                    "url": f"http://127.0.0.1:{port}",
                    "workspace": str(workspace),
                    "file": "numbers.py",
                    "original": SAMPLE,
                    "typed": TYPED,
                    "artifacts": str(ARTIFACTS),
                    "chromium": tools["CHROMIUM"],
                    "timeoutMs": 90_000,
                }
            )
        )
        driver = subprocess.run(
            [tools["NODE24"], str(EXT / "test" / "e2e" / "run.mjs"), str(driver_config)],
            cwd=EXT,
            capture_output=True,
            text=True,
            timeout=540,
            env=env,
        )
        (ARTIFACTS / "driver.log").write_text(driver.stdout + driver.stderr)
        results_file = ARTIFACTS / "results.json"
        assert results_file.is_file(), f"the driver wrote no results:\n{driver.stderr[-4000:]}"
        results: dict[str, Any] = json.loads(results_file.read_text())
        yield results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        logs = user_data / "logs"
        if logs.is_dir():
            shutil.copytree(logs, ARTIFACTS / "logs", dirs_exist_ok=True)


def _check(results: dict[str, Any], name: str) -> None:
    step = results["steps"].get(name)
    where = f"screenshots in {ARTIFACTS}"
    assert step is not None, (
        f"step {name!r} did not run ({results.get('error', '')[:2000]}); {where}"
    )
    assert step["ok"], f"{name}: {step['detail']}\n(see {ARTIFACTS / step['screenshot']})"


def test_workbench_loads_with_hearth(vscode_run: dict[str, Any]) -> None:
    _check(vscode_run, "workbench")
    _check(vscode_run, "open-file")


def test_ghost_text_appears(vscode_run: dict[str, Any]) -> None:
    _check(vscode_run, "ghost-text")


def test_tab_accepts_and_the_file_saves(vscode_run: dict[str, Any]) -> None:
    _check(vscode_run, "accept-and-save")


def test_explain_selection_fills_the_panel(vscode_run: dict[str, Any]) -> None:
    _check(vscode_run, "explain")


def test_review_selection_shows_a_diagnostic(vscode_run: dict[str, Any]) -> None:
    _check(vscode_run, "review")
    # The scripted reviewer's one finding is what the Problems panel lists.
    assert scripted.FINDING_MESSAGE in vscode_run["steps"]["review"]["detail"]
