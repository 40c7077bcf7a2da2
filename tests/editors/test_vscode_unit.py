"""The VS Code extension's own logic (settings mapping, server discovery, status, doctor flags)
under node's test runner, its type check, the generated settings and the packaged .vsix."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

EXT = Path(__file__).resolve().parents[2] / "editors" / "vscode"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node and npm are needed for the VS Code extension's tests (not on PATH)")
    return npm


def _run(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=EXT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    _npm()
    done = _run(["bash", "scripts/package.sh", "--deps"])
    if done.returncode != 0:
        pytest.fail(f"npm ci failed in editors/vscode:\n{done.stderr[-3000:]}")
    return EXT / "node_modules"


def test_generated_settings_are_current() -> None:
    """package.json's server settings and src/generated/ match server/hearth/settings.py."""
    done = _run([sys.executable, "scripts/gen_settings.py", "--check"])
    assert done.returncode == 0, done.stderr


def test_every_contributed_command_is_registered() -> None:
    package = json.loads((EXT / "package.json").read_text(encoding="utf-8"))
    registered = set(
        re.findall(r'^  "(hearth\.[A-Za-z]+)":', (EXT / "src/commands.ts").read_text(), re.M)
    )
    contributed = {c["command"] for c in package["contributes"]["commands"]}
    assert contributed <= registered, contributed - registered
    for binding in package["contributes"]["keybindings"]:
        assert binding["command"] in contributed
    for entries in package["contributes"]["menus"].values():
        for entry in entries:
            assert entry["command"] in contributed


def test_node_unit_tests(node_modules: Path) -> None:
    done = _run(["npm", "run", "--silent", "test:unit"])
    summary = dict(re.findall(r"^# (pass|fail) (\d+)$", done.stdout, re.M))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert int(summary.get("fail", "1")) == 0
    assert int(summary.get("pass", "0")) >= 20, summary


def test_typecheck(node_modules: Path) -> None:
    done = _run(["npm", "run", "--silent", "typecheck"])
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_vsix_packages(node_modules: Path) -> None:
    done = _run(["bash", "scripts/package.sh"])
    assert done.returncode == 0, done.stderr[-4000:]
    vsix = Path(done.stdout.strip().splitlines()[-1])
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("extension/package.json"))
    lower = {n.lower() for n in names}
    assert {"extension/dist/extension.js", "extension/package.json", "extension/readme.md"} <= lower
    assert not any("node_modules" in n or n.endswith(".ts") for n in names), names
    assert manifest["main"] == "./dist/extension.js"
