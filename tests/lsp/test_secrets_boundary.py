"""Secrets and the workspace boundary through a real `hearth serve` session.

A workspace seeded with 220 secrets (secret files and inline API-key tokens in code), symlinks
to outside folders, a symlink loop and `..` URIs: no secret reaches a prompt (showContext), the
SQLite index or the server's output; no secret file and nothing outside the workspace is opened
(Python audit hook on `open`, `os.listdir` and `os.scandir` in the server process); and the
workspace tree, contents and mtimes, is unchanged after the session.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import sqlite3
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

sys.path.insert(0, str(Path(__file__).parent))
from completion_helpers import inline, open_doc, plain, start, status, wait_model

CHILD = textwrap.dedent(
    """
    import atexit, json, os, sys
    seen = []
    def hook(event, args):
        if event in ("open", "os.listdir", "os.scandir") and args and args[0] is not None:
            path = args[0]
            if isinstance(path, (str, bytes, os.PathLike)):
                seen.append(os.fsdecode(path))
    sys.addaudithook(hook)
    report = sys.argv[1]
    sys.stderr = open(sys.argv[2], "w", buffering=1)
    atexit.register(lambda: json.dump({"opened": seen}, open(report, "w")))
    from hearth.cli import main
    main(["serve"])
    """
)


B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _tok(n: int = 24) -> str:
    return secrets.token_hex(n // 2)


def _seed(root: Path) -> tuple[list[str], list[Path], list[Path]]:
    """Writes the secrets; returns (secret strings, secret files, code files with tokens)."""
    found: list[str] = []
    files: list[Path] = []
    code: list[Path] = []

    def secret_file(rel: str, text: str, value: str) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        found.append(value)
        files.append(path)

    for i in range(50):
        v = f"envsecret{_tok()}"
        name = [".env", f".env.{i}", f"svc{i}.env", ".envrc"][i % 4]
        secret_file(f"env{i}/{name}", f"DATABASE_URL=postgres://u:{v}@db/x\n", v)
    for i in range(40):
        v = f"pemsecret{_tok(40)}"
        ext = ["pem", "key"][i % 2]
        body = f"-----BEGIN PRIVATE KEY-----\n{v}\n-----END PRIVATE KEY-----\n"
        secret_file(f"certs/c{i}.{ext}", body, v)
    for i in range(30):
        v = f"sshsecret{_tok(40)}"
        body = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{v}\n-----END OPENSSH PRIVATE KEY-----\n"
        secret_file(f"keys{i}/id_{['rsa', 'ed25519', 'ecdsa'][i % 3]}", body, v)
    for i in range(30):
        v = f"credsecret{_tok()}"
        rel = [f"aws{i}/.aws/credentials", f"c{i}/credentials.json", f"s{i}/secrets.yaml"][i % 3]
        secret_file(rel, f'aws_secret_access_key = "{v}"\n', v)
    makers = [
        lambda: (
            "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        ),
        lambda: "ghp_" + secrets.token_hex(18),
        lambda: "github_pat_" + secrets.token_hex(20),
        lambda: "xoxb-" + secrets.token_hex(12),
        lambda: "sk-proj-" + secrets.token_hex(16),
        lambda: "AIza" + secrets.token_hex(17) + "Q",
    ]
    for i in range(14):
        lines = [f'"""Service client {i}."""', ""]
        for j in range(5):
            v = makers[(i + j) % len(makers)]()
            found.append(v)
            lines.append(f'KEY_{j} = "{v}"')
        pw = f"pw{_tok()}"
        found.append(pw)
        lines += [f'db_password = "{pw}"', "", f"def client_{i}(key=KEY_0):", "    return key", ""]
        path = root / "app" / f"client{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines))
        code.append(path)
    return found, files, code


def _tree(root: Path) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if path.is_symlink():
                digest = "link:" + os.readlink(path)
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                digest = "dir"
            out[str(path.relative_to(root))] = (digest, st.st_mtime_ns)
    return out


def _dump(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        parts = []
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            parts += [repr(row) for row in conn.execute(f'SELECT * FROM "{table}"')]
        return "\n".join(parts)
    finally:
        conn.close()


async def test_secrets_and_boundary_hold_in_a_session(qwen_bpe_model: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "private.txt").write_text("outside-secret-do-not-read\n")
    found, secret_files, code = _seed(root)
    assert len(found) >= 200
    (root / "main.py").write_text("from app.client0 import client_0\n\ndef run():\n    \n")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "etc_link").symlink_to("/etc", target_is_directory=True)
    (root / "home_link").symlink_to(outside, target_is_directory=True)
    (root / "passwd_link").symlink_to("/etc/passwd")
    before = _tree(root)

    report, log = tmp_path / "audit.json", tmp_path / "stderr.log"
    index_dir = tmp_path / "index"
    client = LanguageClient()
    await client.start_io(
        sys.executable,
        "-c",
        CHILD,
        str(report),
        str(log),
        env={
            "HEARTH_CACHE_DIR": str(tmp_path / "cache"),
            "HEARTH_CONFIG_DIR": str(tmp_path / "config"),
            "PATH": "/usr/bin:/bin",
        },
    )
    await start(client, root, {"model": str(qwen_bpe_model), "indexDir": str(index_dir)})
    await wait_model(client)
    for _ in range(600):
        if (await status(client))["index"].get("state") == "ready":
            break
        await asyncio.sleep(0.05)
    prompts: list[str] = []

    async def show(uri: str, line: int, character: int) -> Any:
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="hearth.showContext",
                arguments=[{"uri": uri, "position": {"line": line, "character": character}}],
            )
        )
        prompts.append(json.dumps(plain(result)))
        return result

    main_uri = open_doc(client, root / "main.py", (root / "main.py").read_text())
    await show(main_uri, 3, 4)
    assert await inline(client, main_uri, 3, 4)
    for path in code[:4]:
        uri = open_doc(client, path, path.read_text())
        await show(uri, 3, 4)
        await inline(client, uri, 3, 4)
    # The editor opens a secret file: no prompt and no completion from it.
    env_uri = open_doc(client, secret_files[0], secret_files[0].read_text(), "dotenv")
    assert await inline(client, env_uri, 0, 5) == []
    with pytest.raises(JsonRpcException, match="secret"):
        await show(env_uri, 0, 5)
    # `..` URIs: never read from disk (the text is what the editor sent).
    dotdot = root.as_uri() + "/../../../../../etc/passwd"
    for uri in (
        dotdot,
        root.as_uri() + "/etc_link/passwd",
        root.as_uri() + "/home_link/private.txt",
    ):
        with pytest.raises(JsonRpcException, match="open documents"):
            await show(uri, 0, 0)  # not open: refused without reading the file
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=dotdot, language_id="plaintext", version=1, text="editor text\n"
            )
        )
    )
    await show(dotdot, 0, 3)
    await inline(client, dotdot, 0, 3)
    await asyncio.sleep(1.0)  # buffer indexing debounce
    await client.shutdown_session()
    for _ in range(200):
        if report.exists() and report.stat().st_size:
            break
        await asyncio.sleep(0.05)

    prompt_text = "\n".join(prompts)
    assert len(prompts) >= 6
    assert [s for s in found if s in prompt_text] == []
    dbs = list(index_dir.rglob("*.sqlite3")) or list(index_dir.rglob("*.db"))
    assert dbs, f"no index database under {index_dir}"
    dumped = "\n".join(_dump(db) for db in dbs)
    assert "client_0" in dumped  # the code itself was indexed
    assert [s for s in found if s in dumped] == []
    logs = log.read_text(errors="replace")
    for extra in (tmp_path / "cache").rglob("*"):
        if extra.is_file():
            logs += extra.read_text(errors="replace")
    assert [s for s in found if s in logs] == []
    assert "outside-secret-do-not-read" not in logs + dumped + prompt_text

    opened = json.loads(report.read_text())["opened"]
    real_root = root.resolve()
    assert any(Path(p).resolve() == (root / "main.py").resolve() for p in opened)  # hook works
    secret_set = {p.resolve() for p in secret_files}
    bad = []
    for raw in opened:
        path = Path(raw) if os.path.isabs(raw) else Path.cwd() / raw
        real = path.resolve()
        if real in secret_set or real.is_relative_to(outside.resolve()):
            bad.append(raw)
        elif path.is_relative_to(root) and not real.is_relative_to(real_root):
            bad.append(raw)  # through a link in the workspace to somewhere else
        elif real == Path("/etc/passwd"):
            bad.append(raw)
    assert bad == []
    assert _tree(root) == before
