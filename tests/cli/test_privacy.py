"""Privacy is the product: a full completion opens no network connection.

The check runs in a child process under a Python audit hook (`sys.addaudithook` cannot be
removed, so it must not be installed in the test runner) that records every socket connect
and DNS lookup; the stdio pipes are not sockets, so the allowed count is zero.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from child_report import run_child

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "samples" / "fibonacci.py"

CHILD = textwrap.dedent(
    """
    import json, sys
    seen = []
    def hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                     "socket.sendto", "socket.bind"):
            seen.append([event, repr(args[1:] if event == "socket.connect" else args)[:200]])
    sys.addaudithook(hook)
    from hearth.cli import main
    rc = main(sys.argv[2:])
    with open(sys.argv[1], "w") as fh:
        json.dump({"rc": rc, "network": seen}, fh)
    """
)


def run_audited(tmp_path: Path, *args: str, env: dict[str, str]) -> dict[str, object]:
    return run_child(CHILD, tmp_path / "audit.json", args, env)[0]


def test_cli_completion_opens_no_connection(llama_spm_model: Path, tmp_path: Path) -> None:
    env = {"HEARTH_CACHE_DIR": str(tmp_path / "c"), "HEARTH_CONFIG_DIR": str(tmp_path / "k")}
    for backend in ("llamacpp", "ctransformers"):
        result = run_audited(
            tmp_path,
            "complete",
            f"{SAMPLE}:8:5",
            "--model",
            str(llama_spm_model),
            "--backend",
            backend,
            "--json",
            env=env,
        )
        assert result["rc"] == 0
        assert result["network"] == []


def test_doctor_and_model_info_open_no_connection(llama_spm_model: Path, tmp_path: Path) -> None:
    env = {
        "HEARTH_CACHE_DIR": str(tmp_path / "c"),
        "HEARTH_CONFIG_DIR": str(tmp_path / "k"),
        "HEARTH_MODEL": str(llama_spm_model),
    }
    assert run_audited(tmp_path, "doctor", "--json", env=env)["network"] == []
    assert run_audited(tmp_path, "model", "info", str(llama_spm_model), env=env)["network"] == []
