"""Zero egress at the OS level: a whole `hearth serve` session under strace, 0 AF_INET/AF_INET6.

Python audit hooks (tests/cli/test_privacy.py) cannot see sockets opened by native code such
as llama.cpp, so this test traces the system calls of the server and every process and thread
it starts: initialize with a synthesized model, index a workspace, open a document, request an
inline completion (workspace/symbol as well), shutdown, exit. Where strace cannot run it falls
back to `unshare -rn` (a network namespace without interfaces); it skips only when neither can.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rawlsp import RawServer, server_env

TRACED = "socket,socketpair,connect,sendto,sendmsg,sendmmsg"
INET = re.compile(r"AF_INET6?\b|PF_INET6?\b")


def _runs(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def tracer(trace: Path) -> tuple[str, list[str]]:
    strace = shutil.which("strace")
    if strace and _runs([strace, "-f", "-qq", "-e", "trace=connect", "-o", os.devnull, "true"]):
        return "strace", [strace, "-f", "-qq", "-e", f"trace={TRACED}", "-o", str(trace)]
    unshare = shutil.which("unshare")
    if unshare and _runs([unshare, "-rn", "true"]):
        return "unshare", [unshare, "-rn"]
    pytest.skip("neither strace (ptrace) nor unshare -rn (user namespaces) can run here")


def session(server: RawServer, workspace: Path, model: Path, tmp_path: Path) -> dict[str, Any]:
    """A full editor session; returns what was asked and answered."""
    init = server.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": workspace.as_uri(),
            "workspaceFolders": [{"uri": workspace.as_uri(), "name": "ws"}],
            "capabilities": {
                "textDocument": {"inlineCompletion": {}, "synchronization": {}},
                "window": {"workDoneProgress": True},
            },
            "initializationOptions": {"model": str(model), "indexDir": str(tmp_path / "index")},
        },
        timeout=60,
    )
    capabilities = init["result"]["capabilities"]
    server.notify("initialized", {})
    deadline = time.monotonic() + 120
    while True:
        status = server.request("hearth/status", {})["result"]
        if status.get("model", {}).get("state") in ("ready", "error", None):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    uri = (workspace / "main.py").as_uri()
    text = (workspace / "main.py").read_text()
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    asked = ["initialize"]
    if capabilities.get("inlineCompletionProvider") is not None:
        response = server.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 2, "character": 4},
                "context": {"triggerKind": 1},
            },
            timeout=120,
        )
        assert "result" in response or response["error"]["code"] in (-32800, -32801), response
        asked.append("textDocument/inlineCompletion")
    symbols = server.request("workspace/symbol", {"query": "add"}, timeout=60)
    assert "result" in symbols, symbols
    asked.append("workspace/symbol")
    assert server.request("shutdown", timeout=30)["result"] is None
    server.notify("exit")
    return {"asked": asked, "rc": server.wait(timeout=30), "model": status.get("model")}


def test_a_full_session_opens_no_network_socket(llama_spm_model: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "main.py").write_text("def add(a, b):\n    return a + b\n    \n")
    (workspace / "util.py").write_text("class Helper:\n    def run(self):\n        pass\n")
    trace = tmp_path / "trace.txt"
    how, prefix = tracer(trace)
    env = server_env(tmp_path)
    server = RawServer(tmp_path, prefix=prefix, env=env)
    try:
        done = session(server, workspace, llama_spm_model, tmp_path)
    finally:
        server.close()
    assert done["rc"] == 0, server.stderr.decode(errors="replace")[-3000:]
    assert done["model"] and done["model"]["state"] == "ready", done["model"]
    if how == "unshare":
        print(f"zero egress (unshare -rn): session {done['asked']} completed without a network")
        return
    lines = trace.read_text(errors="replace").splitlines()
    calls = [ln for ln in lines if re.search(r"\b(socket|connect|sendto|sendmsg|sendmmsg)\(", ln)]
    inet = [ln for ln in calls if INET.search(ln)]
    pids = {ln.split()[0] for ln in lines if ln[:1].isdigit()}
    print(
        f"zero egress (strace -f): session {done['asked']}; {len(lines)} traced calls in "
        f"{len(pids)} processes/threads; AF_INET/AF_INET6 socket/connect/sendto: {len(inet)}"
    )
    assert any("socketpair(" in ln for ln in lines), "strace saw nothing: tracing did not work"
    assert inet == [], inet[:10]
