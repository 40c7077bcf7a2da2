"""The workspace boundary at the OS level: a full `hearth serve` session under strace.

The Python audit hook in test_secrets_boundary.py sees `open` from Python code only; native code
(llama.cpp, tree-sitter, SQLite, watchdog's inotify) opens and stats files through the C
library, unseen by it. This test traces every file-name system call (`%file`: open, openat,
stat, lstat, statx, readlink, access, execve, inotify_add_watch, mkdir, unlink, rename, ...)
and `getdents64` of the server and every process and thread it starts, through a whole
session: initialize with a workspace, index it, open documents (one through a `..` URI), an
inline completion, hearth.showContext, Explain and Review with the hand-weighted model, code
actions, Explain/Review/showContext on unopened URIs that lead out of the workspace, watched-file
events pointing through links, workspace/symbol, shutdown, exit.

The workspace holds links to /etc, /etc/passwd, the real home folder, a stand-in home with a
private key in it, its own parent (`up -> ..`), a symlink loop and a dangling two-link cycle.
Every traced path is resolved the way the kernel resolves it (the last component only where
the call follows links) and put in a category; the forbidden ones are:

- escape: a path reached through the workspace whose real location is outside it;
- /etc: anything under /etc except the few files the C library and Python read at start
  (an exact list, not a prefix);
- home: anything under $HOME except Python's own installation, the virtual environment and
  Hearth's own cache/config folders;
- the stand-in home (its private key) at all;
- anything else not named as Hearth's own (Python, the model, Hearth's folders, /proc, /sys,
  /dev, /usr, the temp folder's probe files).
Hearth also writes nothing in the workspace (no create/rename/unlink/mkdir/chmod there).

Reads (open, exec, directory listing, inotify watch) must avoid all of these. Metadata calls
(stat, lstat, readlink, access: never contents) may touch a place outside in three cases
only, each reported with its count: one stat through a link that lives in the workspace (how
a walker tells a folder link from a file link), lstat/readlink/stat along where a workspace
link points (resolving it to find that it leads out), and resolving a path the client itself
named in a request (a URI through a link or with `..`) to find that it lies outside.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pygls.uris import to_fs_path

sys.path.insert(0, str(Path(__file__).parent))
from rawlsp import RawServer, server_env

from hearth.bench import scripted

REPO = Path(__file__).resolve().parents[2]
HOME = Path.home()
# /etc files the dynamic loader, the C library and Python's start-up read whatever the program
# does (exact paths; a new one must be looked at before it is added here).
ETC_ALLOWED = frozenset(
    {
        "/etc/ld.so.cache",
        "/etc/locale.alias",
        "/etc/ld.so.preload",
        "/etc/localtime",
        "/etc/timezone",
        "/etc/nsswitch.conf",
        "/etc/gai.conf",
        "/etc/host.conf",
        "/etc/mime.types",
        "/etc/os-release",
        "/etc/lsb-release",
        "/etc/machine-id",
        "/etc/ssl/openssl.cnf",
        "/etc/ssl/certs/ca-certificates.crt",
    }
)
SYSTEM_PREFIXES = ("/proc", "/sys", "/dev", "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin")
WRITES = frozenset(
    {
        "creat",
        "mkdir",
        "mkdirat",
        "rmdir",
        "unlink",
        "unlinkat",
        "rename",
        "renameat",
        "renameat2",
        "link",
        "linkat",
        "symlink",
        "symlinkat",
        "chmod",
        "fchmodat",
        "chown",
        "lchown",
        "fchownat",
        "truncate",
        "utime",
        "utimes",
        "utimensat",
        "futimesat",
        "mknod",
        "mknodat",
        "setxattr",
        "lsetxattr",
        "removexattr",
        "lremovexattr",
    }
)
READS = frozenset(
    {"open", "openat", "openat2", "execve", "execveat", "getdents64", "inotify_add_watch"}
)
LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<call>\w+)\((?P<args>.*)$")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')
FD_PATH = re.compile(r"^(?:AT_FDCWD|-?\d+)<(?P<path>[^>]*)>")


@dataclass(frozen=True)
class Access:
    call: str
    path: str  # absolute, as the kernel was asked (no `..` folded, no link resolved)
    follow: bool  # whether the last component is followed if it is a link
    write: bool
    line: str


def _unescape(text: str) -> str:
    return codecs.escape_decode(text.encode("latin-1", "backslashreplace"))[0].decode(
        "utf-8", "surrogateescape"
    )


UNFINISHED = re.compile(r"^(?P<pid>\d+)\s+(?P<head>.*?)\s*<unfinished \.\.\.>$")
RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. (?P<call>\w+) resumed>\s?(?P<tail>.*)$")


def joined_calls(text: str) -> list[str]:
    """The log's lines with each call that another thread interrupted put back together.

    With `-f`, strace splits a call that another thread interleaves into
    `PID call(args <unfinished ...>` and a later `PID <... call resumed>rest`; the flags that
    say what the call touched (AT_EMPTY_PATH, O_CREAT) are often in the second half.
    A call whose second half never came is kept as it was cut.
    """
    lines: list[str] = []
    pending: dict[str, int] = {}
    for raw in text.splitlines():
        if m := UNFINISHED.match(raw):
            pending[m.group("pid")] = len(lines)
            lines.append(f"{m.group('pid')}  {m.group('head')}")
        elif (m := RESUMED.match(raw)) and m.group("pid") in pending:
            index = pending.pop(m.group("pid"))
            lines[index] = f"{lines[index]} {m.group('tail')}"
        else:
            lines.append(raw)
    return lines


def parse_trace(text: str, cwd: str) -> list[Access]:
    """Every file-name access in an `strace -f -y` log, made absolute."""
    out: list[Access] = []
    for raw in joined_calls(text):
        m = LINE.match(raw)
        if not m:
            continue
        call, args = m.group("call"), m.group("args")
        if call == "getdents64":
            fd = FD_PATH.match(args)
            if fd and fd.group("path").startswith("/"):
                out.append(Access(call, fd.group("path"), True, False, raw))
            continue
        strings = list(STRING.finditer(args))
        if not strings:
            continue
        if call in ("readlink", "readlinkat"):
            strings = strings[:1]  # the second string is the link's content
        elif call not in WRITES:
            strings = strings[:1]
        flags = args
        nofollow = (
            call in ("lstat", "readlink", "readlinkat", "lchown", "lsetxattr", "lremovexattr")
            or "AT_SYMLINK_NOFOLLOW" in flags
            or "O_NOFOLLOW" in flags
            or ("unlink" in call or "rmdir" in call or "rename" in call)
        )
        write = call in WRITES or (
            call in ("open", "openat", "openat2")
            and bool(re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", flags))
        )
        for s in strings:
            path = _unescape(s.group(1))
            if path == "" and "AT_EMPTY_PATH" in flags:
                continue  # fstat of an already open descriptor
            if not path.startswith("/"):
                prefix = args[: s.start()]
                fds = list(re.finditer(r"(?:AT_FDCWD|-?\d+)<([^>]*)>", prefix))
                base = fds[-1].group(1) if fds else cwd
                path = os.path.join(base, path)
            out.append(Access(call, path, not nofollow, write, raw))
    return out


def _under(path: str, root: str | Path) -> bool:
    root = str(root).rstrip("/") or "/"
    return path == root or path.startswith(root + "/")


def real_target(path: str, follow: bool) -> str:
    """Where the kernel lands: links resolved, `..` applied after them (as the kernel does)."""
    if follow:
        return os.path.realpath(path)
    head, tail = os.path.split(path)
    if tail in ("", ".", ".."):
        return os.path.realpath(path)
    return os.path.join(os.path.realpath(head), tail)


@dataclass
class Places:
    workspace: Path
    real_workspace: str
    fake_home: str
    model_dir: str
    tmp: str
    hearth_dirs: tuple[str, ...]
    python_dirs: tuple[str, ...]
    link_targets: tuple[str, ...]  # where the workspace's links point (absolute, unresolved)
    named: tuple[str, ...] = ()  # real paths of the out-of-workspace URIs the client sent

    def roots(self) -> tuple[str, ...]:
        return (
            self.real_workspace,
            self.model_dir,
            self.tmp,
            *self.hearth_dirs,
            *self.python_dirs,
        )


def kind(access: Access) -> str:
    """read (contents, listings, watches, programs), write, or meta (stat, access, readlink)."""
    if access.write:
        return "write"
    if access.call in READS:
        return "read"
    return "meta"


# Categories no access may fall in; the same for metadata, but see `classify` for the link
# itself and for resolving where a link points.
FORBIDDEN = frozenset({"escape", "etc", "home", "fake-home", "other"})


def classify(access: Access, places: Places) -> tuple[str, bool]:
    """(category, forbidden) of one access."""
    what = kind(access)
    real = real_target(access.path, access.follow)
    via_workspace = _under(access.path, places.workspace) or _under(
        access.path, places.real_workspace
    )
    if _under(real, places.real_workspace):
        return ("workspace-write", True) if what == "write" else ("workspace", False)
    if what == "meta":
        # Metadata (never contents) of a place outside, in three cases only: a stat following
        # a link that lives in the workspace (one hop: how a walker tells a folder link from a
        # file link); lstat/readlink/stat along where a workspace link points (resolving it to
        # see that it leads out); and resolving a path the client itself named (a URI through
        # a link or with `..`) to see that it lies outside. Nothing found by exploring.
        if not via_workspace and any(_under(r, real) and r != real for r in places.roots()):
            return "ancestors", False  # resolving the real path of an allowed folder
        parent = os.path.realpath(os.path.dirname(access.path))
        if via_workspace and _under(parent, places.real_workspace):
            return "link-target-metadata", False
        if any(_under(t, real) for t in places.link_targets):
            return "link-resolution", False
        if any(_under(n, real) for n in places.named):
            return "client-named", False
    if via_workspace:
        return "escape", True
    if _under(real, places.fake_home):
        return "fake-home", True
    if any(_under(real, d) for d in places.hearth_dirs):
        return "hearth-dirs", False
    if _under(real, places.model_dir):
        return "model", False
    if any(_under(real, d) for d in places.python_dirs):
        return "python", False
    if what == "meta" and re.fullmatch(r"python3\d*\.zip", os.path.basename(real)):
        return "python", False  # the interpreter's start-up probe for a zipped stdlib
    if _under(real, "/etc"):
        return ("etc-allowed", False) if real in ETC_ALLOWED else ("etc", True)
    if _under(real, str(HOME.resolve())):
        return "home", True
    if any(_under(real, p) for p in SYSTEM_PREFIXES):
        return "system", False
    if _under(real, places.tmp):
        return "test-tmp", False
    tmp = os.path.realpath(tempfile.gettempdir())
    if (real == tmp and what == "meta") or (
        os.path.dirname(real) == tmp and re.fullmatch(r"[a-z0-9_]{8}", os.path.basename(real))
    ):
        # tempfile.gettempdir() tries a random file there; nothing may list the shared folder
        # (a child with it on sys.path would import what anyone planted there).
        return "tempdir", False
    if re.match(re.escape(tmp) + r"/hearth-probe-[a-z0-9_]{8}(/|$)", real):
        # The model-probe child runs in a private empty folder it makes (its sys.path[0]).
        return "probe-dir", False
    if what == "meta" and os.path.dirname(real) == "/":
        return "root-dirs", False  # e.g. statfs("/selinux") by the C library
    return "other", True


def _runs(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def strace_prefix(trace: Path) -> list[str]:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: the OS-level read check needs it")
    probe = [strace, "-f", "-qq", "-y", "-e", "trace=%file,getdents64", "-o", os.devnull, "true"]
    if not _runs(probe):
        pytest.skip("strace cannot trace here (ptrace is not permitted in this sandbox)")
    return [
        strace,
        "-f",
        "-qq",
        "-y",
        "-s",
        "4096",
        "-e",
        "trace=%file,getdents64",
        "-o",
        str(trace),
    ]


CODE = '''import os


def run(cmd):
    """Run a shell command."""
    os.system("sh -c " + cmd)
    return True


def add(a, b):
    return a + b
'''


def build_workspace(tmp_path: Path) -> tuple[Path, Path]:
    """The workspace with its links out, and the stand-in home holding a secret."""
    root = tmp_path / "ws"
    (root / "pkg" / "deep").mkdir(parents=True)
    (root / "app.py").write_text(CODE)
    (root / "pkg" / "__init__.py").write_text("from .util import helper\n")
    (root / "pkg" / "util.py").write_text("def helper(x):\n    return x * 2\n")
    (root / "pkg" / "deep" / "more.py").write_text("VALUE = 1\n")
    fake_home = tmp_path / "fakehome"
    (fake_home / ".ssh").mkdir(parents=True)
    (fake_home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n")
    (fake_home / "notes.py").write_text("SECRET_NOTE = 'outside-the-workspace'\n")
    links = {
        "etc_link": "/etc",
        "passwd_link": "/etc/passwd",
        "home_link": str(HOME),
        "fakehome_link": str(fake_home),
        "fake_key.py": str(fake_home / ".ssh" / "id_rsa"),
        "up": "..",
        "pkg/deep/updir": "../../..",
        "loop": ".",
        "pkg/back": "..",
        "cycle_a": "cycle_b",
        "cycle_b": "cycle_a",
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    return root, fake_home


def _wait(server: RawServer, what: str, ready: Any, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = server.request("hearth/status", {})["result"]
        if ready(status):
            return status
        assert time.monotonic() < deadline, f"{what} never became ready: {status}"
        time.sleep(0.1)


def _rng(a: int, b: int, c: int, d: int) -> dict[str, Any]:
    return {"start": {"line": a, "character": b}, "end": {"line": c, "character": d}}


def session(server: RawServer, root: Path, model: Path, tmp_path: Path) -> dict[str, Any]:
    """A full editor session; returns what was answered."""
    ws = root.as_uri()
    init = server.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": ws,
            "workspaceFolders": [{"uri": ws, "name": "ws"}],
            "capabilities": {
                "textDocument": {"inlineCompletion": {}, "synchronization": {}},
                "window": {"workDoneProgress": True},
            },
            "initializationOptions": {
                "model": str(model),
                "indexDir": str(tmp_path / "index"),
                "chatMaxTokens": 160,
                "contextLength": 2048,
            },
        },
        timeout=60,
    )
    assert "result" in init, init
    server.notify("initialized", {})
    _wait(server, "model", lambda s: s["model"]["state"] in ("ready", "error"))
    status = _wait(server, "index", lambda s: s["index"].get("state") == "ready")
    assert status["model"]["state"] == "ready", status
    answers: dict[str, Any] = {"index": status["index"]}
    app = (root / "app.py").as_uri()
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": app, "languageId": "python", "version": 1, "text": CODE}},
    )
    # The editor opens a document through a `..` URI: its text is the editor's, not the disk's.
    dotdot = ws + "/pkg/../../fakehome/notes.py"
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": dotdot, "languageId": "python", "version": 1, "text": "x = 1\n"}},
    )
    answers["inline"] = server.request(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": app},
            "position": {"line": 10, "character": 4},
            "context": {"triggerKind": 1},
        },
        timeout=120,
    )
    answers["context"] = server.request(
        "workspace/executeCommand",
        {
            "command": "hearth.showContext",
            "arguments": [{"uri": app, "position": {"line": 10, "character": 4}}],
        },
        timeout=60,
    )
    for kind in ("explain", "review"):
        answers[kind] = server.request(
            "workspace/executeCommand",
            {
                "command": f"hearth.{kind}",
                "arguments": [{"uri": app, "range": _rng(0, 0, 7, 0)}],
                "workDoneToken": f"{kind}-1",
            },
            timeout=180,
        )
    answers["actions"] = server.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": app},
            "range": _rng(5, 4, 5, 4),
            "context": {"diagnostics": []},
        },
    )
    # Unopened URIs that lead out of the workspace: refused without reading the disk.
    outside = [
        ws + "/../../../../../../etc/passwd",
        ws + "/etc_link/passwd",
        ws + "/passwd_link",
        ws + "/home_link/.bashrc",
        ws + "/fakehome_link/.ssh/id_rsa",
        ws + "/fake_key.py",
        ws + "/up/fakehome/notes.py",
        ws + "/pkg/deep/updir/fakehome/notes.py",
        ws + "/cycle_a",
    ]
    refused = 0
    for uri in outside:
        for command in ("hearth.explain", "hearth.review"):
            reply = server.request(
                "workspace/executeCommand",
                {"command": command, "arguments": [{"uri": uri, "range": _rng(0, 0, 1, 0)}]},
                timeout=60,
            )
            refused += "error" in reply
        reply = server.request(
            "workspace/executeCommand",
            {
                "command": "hearth.showContext",
                "arguments": [{"uri": uri, "position": {"line": 0, "character": 0}}],
            },
        )
        refused += "error" in reply
        reply = server.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": uri},
                "range": _rng(0, 0, 0, 0),
                "context": {"diagnostics": []},
            },
        )
        assert reply.get("result") in ([], None), reply
        for method in ("textDocument/inlineCompletion",):
            server.request(
                method,
                {
                    "textDocument": {"uri": uri},
                    "position": {"line": 0, "character": 0},
                    "context": {"triggerKind": 1},
                },
                timeout=60,
            )
    answers["refused"] = refused
    answers["named_paths"] = [to_fs_path(u) for u in [*outside, dotdot]]
    answers["asked_outside"] = len(outside) * 3
    # Changes reported through links and `..`: the index must not follow them out.
    server.notify(
        "workspace/didChangeWatchedFiles",
        {"changes": [{"uri": uri, "type": t} for uri in outside for t in (1, 2)]},
    )
    time.sleep(1.5)  # the change batcher's debounce, then the index's work
    answers["symbols"] = server.request("workspace/symbol", {"query": "helper"}, timeout=60)
    assert server.request("shutdown", timeout=30)["result"] is None
    server.notify("exit")
    answers["rc"] = server.wait(timeout=30)
    return answers


def test_a_call_another_thread_interrupted_is_read_whole() -> None:
    log = "\n".join(
        [
            '5422  newfstatat(1<pipe:[738806]>, "",  <unfinished ...>',
            '5423  openat(AT_FDCWD</w>, "/w/a.py", O_RDONLY|O_CLOEXEC) = 3</w/a.py>',
            "5422  <... newfstatat resumed>{st_mode=S_IFIFO|0600, ...}, AT_EMPTY_PATH) = 0",
            '5424  openat(AT_FDCWD</w>, "/w/.hearth/x",  <unfinished ...>',
            "5424  <... openat resumed>O_WRONLY|O_CREAT, 0644) = 4</w/.hearth/x>",
            '5425  newfstatat(AT_FDCWD</w>, "/w/b.py",  <unfinished ...>',
            "5425  +++ killed by SIGKILL +++",
        ]
    )
    accesses = parse_trace(log, "/w")
    assert [(a.call, a.path, a.write) for a in accesses] == [
        ("openat", "/w/a.py", False),
        ("openat", "/w/.hearth/x", True),
        ("newfstatat", "/w/b.py", False),
    ]


@pytest.fixture(scope="module")
def scripted_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scripted.write_scripted_reviewer(tmp_path_factory.mktemp("m") / "scripted.gguf")


def test_a_full_session_reads_nothing_outside_the_workspace(
    scripted_model: Path, tmp_path: Path
) -> None:
    root, fake_home = build_workspace(tmp_path)
    trace = tmp_path / "trace.txt"
    prefix = strace_prefix(trace)
    env = server_env(tmp_path)
    env["HOME"] = str(HOME)
    server = RawServer(tmp_path, prefix=prefix, env=env)
    try:
        answers = session(server, root, scripted_model, tmp_path)
    finally:
        server.close()
    stderr = server.stderr.decode(errors="replace")
    assert answers["rc"] == 0, stderr[-3000:]
    assert "markdown" in answers["explain"].get("result", {}), answers["explain"]
    assert answers["review"]["result"]["findings"], answers["review"]

    places = Places(
        workspace=root,
        real_workspace=os.path.realpath(root),
        fake_home=os.path.realpath(fake_home),
        model_dir=os.path.realpath(scripted_model.parent),
        tmp=os.path.realpath(tmp_path),
        hearth_dirs=tuple(
            os.path.realpath(p)
            for p in (
                tmp_path / "cache",
                tmp_path / "config",
                tmp_path / "index",
                HOME / ".cache" / "hearth",
                HOME / ".config" / "hearth",
            )
        ),
        python_dirs=tuple(
            sorted(
                {
                    os.path.realpath(p)
                    for p in (
                        sys.prefix,
                        sys.base_prefix,
                        sys.exec_prefix,
                        sys.base_exec_prefix,
                        sysconfig.get_paths()["purelib"],
                        sysconfig.get_paths()["stdlib"],
                        REPO / "server",
                        REPO / "prompts",
                        os.path.dirname(os.path.realpath(sys.executable)),
                    )
                }
            )
        ),
        named=tuple(os.path.realpath(p) for p in answers["named_paths"]),
        link_targets=tuple(
            os.path.normpath(os.path.join(os.path.dirname(link), os.readlink(link)))
            for link in (p for p in root.rglob("*") if p.is_symlink())
        ),
    )
    accesses = parse_trace(trace.read_text(errors="replace"), str(tmp_path))
    assert accesses, "strace saw nothing: tracing did not work"
    by_kind: dict[str, Counter[str]] = {"read": Counter(), "meta": Counter(), "write": Counter()}
    forbidden: list[tuple[str, str]] = []
    for access in accesses:
        category, bad = classify(access, places)
        by_kind[kind(access)][category] += 1
        if bad:
            forbidden.append((category, access.line[:300]))
    reads = by_kind["read"]
    print(
        f"\nOS-level file access (strace -f, %file + getdents64), one session: "
        f"{len(accesses)} calls; reads (open/exec/listing/watch) {sum(reads.values())}, "
        f"{reads['workspace']} of them in the workspace; reads outside it by category "
        f"{dict(sorted((k, v) for k, v in reads.items() if k != 'workspace'))}; "
        f"metadata calls by category {dict(sorted(by_kind['meta'].items()))}; "
        f"writes by category {dict(sorted(by_kind['write'].items()))}; "
        f"refused out-of-workspace requests {answers['refused']}/{answers['asked_outside']}; "
        f"forbidden: {len(forbidden)}"
    )
    for category, line in forbidden[:40]:
        print(f"  FORBIDDEN {category}: {line}")
    assert reads["workspace"] > 0, "the workspace itself was never read: the trace is wrong"
    assert forbidden == []
    assert answers["refused"] == answers["asked_outside"], answers
