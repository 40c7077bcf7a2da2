"""The walker is the privacy gate: what it yields may be indexed and sent to a model."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from hearth.index import walker
from hearth.index.walker import (
    DEFAULT_SECRET_PATTERNS,
    REASONS,
    WalkOptions,
    classify_content,
    is_ignored_path,
    is_secret,
    walk,
)

needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges")
TOKEN = "HEARTH_SECRET_TOKEN_0123456789"


def _tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def _walk(
    root: Path, options: WalkOptions | None = None, **kw: bool
) -> tuple[set[str], dict[str, str]]:
    skipped: dict[str, str] = {}

    def on_skip(rel: str, reason: str) -> None:
        assert reason in REASONS, reason
        assert rel not in skipped, f"{rel} reported twice"
        skipped[rel] = reason

    found = {e.relpath for e in walk(root, options, on_skip=on_skip, **kw)}
    return found, skipped


def test_nested_gitignore_negation_and_folder_patterns(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".gitignore": "*.gen.py\nout/\n/top.py\nlogs/*\n!logs/keep.py\n",
            "a.py": "",
            "top.py": "",
            "x.gen.py": "",
            "out/b.py": "",
            "src/out": "a file: `out/` only matches folders",
            "src/top.py": "anchored patterns match at their own level only",
            "logs/drop.py": "",
            "logs/keep.py": "",
            "sub/.gitignore": "!keep.gen.py\nlocal.py\n/only_here.py\n",
            "sub/keep.gen.py": "",
            "sub/local.py": "",
            "sub/c.py": "",
            "sub/deeper/only_here.py": "",
            "sub/only_here.py": "",
            "other/local.py": "",
            "out2/.gitignore": "*\n",
            "out2/gone.py": "",
        },
    )
    found, skipped = _walk(tmp_path)
    assert found == {
        "a.py",
        "src/top.py",
        "logs/keep.py",
        "sub/keep.gen.py",
        "sub/c.py",
        "sub/deeper/only_here.py",
        "other/local.py",
    }
    assert skipped["out"] == "ignored"
    assert skipped["src/out"] == "extension"  # not "ignored"
    assert "out/b.py" not in skipped  # the folder is reported once, not its files
    assert skipped["top.py"] == skipped["x.gen.py"] == skipped["logs/drop.py"] == "ignored"
    assert skipped["sub/local.py"] == skipped["sub/only_here.py"] == "ignored"
    assert skipped["out2/gone.py"] == "ignored"


def test_negation_cannot_reinclude_inside_an_ignored_folder(tmp_path: Path) -> None:
    _tree(tmp_path, {".gitignore": "gen/\n!gen/keep.py\n", "gen/keep.py": "", "gen/x.py": ""})
    found, skipped = _walk(tmp_path)
    assert found == set()
    assert skipped == {"gen": "ignored", ".gitignore": "extension"}


def test_info_exclude_and_hearthignore(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".git/info/exclude": "scratch.py\n",
            ".hearthignore": "private/\n*.draft.py\n",
            "sub/.gitignore": "!*.draft.py\n",  # git negations cannot undo .hearthignore
            "sub/.hearthignore": "notes.py\n",
            "scratch.py": "",
            "private/p.py": "",
            "sub/a.draft.py": "",
            "sub/notes.py": "",
            "sub/ok.py": "",
            "notes.py": "",
        },
    )
    found, skipped = _walk(tmp_path)
    assert found == {"sub/ok.py", "notes.py"}
    assert skipped["scratch.py"] == skipped["private"] == "ignored"
    assert skipped["sub/a.draft.py"] == skipped["sub/notes.py"] == "ignored"
    assert skipped[".git"] == "excluded-dir"


def test_extra_excludes_cannot_be_reincluded(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {".gitignore": "!fixtures/\n", "fixtures/f.py": "", "a.py": "", "b.tmp.py": ""},
    )
    found, skipped = _walk(tmp_path, WalkOptions(extra_excludes=("fixtures/", "*.tmp.py")))
    assert found == {"a.py"}
    assert skipped["fixtures"] == "excluded-dir"
    assert skipped["b.tmp.py"] == "ignored"


def test_excluded_dirs_are_pruned_and_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {f"node_modules/d{i}/index.js": "" for i in range(20)}
    files |= {".venv/lib/site.py": "", "src/.git/HEAD.py": "", ".git/config.py": "", "a.py": ""}
    _tree(tmp_path, files)
    scanned: list[str] = []
    real_scandir = os.scandir

    def spy(path: str) -> Iterator[os.DirEntry[str]]:
        scanned.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    found, skipped = _walk(tmp_path)
    assert found == {"a.py"}
    assert skipped == {
        "node_modules": "excluded-dir",
        ".venv": "excluded-dir",
        ".git": "excluded-dir",
        "src/.git": "excluded-dir",
    }
    assert sorted(scanned) == [".", "src"]


# One example per default pattern; the test fails when a pattern is added without one.
SECRET_EXAMPLES = {
    ".env": ".env",
    ".env.*": ".env.local",
    "*.env": "config/prod.env",
    ".envrc": ".envrc",
    "*.pem": "prod.pem",
    "*.key": "tls/server.key",
    "*.p12": "cert.p12",
    "*.pfx": "cert.pfx",
    "*.ppk": "putty.ppk",
    "*.keystore": "android/release.keystore",
    "*.jks": "java/trust.jks",
    "id_rsa*": "config/id_rsa",
    "id_dsa*": "keys/id_dsa.pub",
    "id_ecdsa*": "id_ecdsa",
    "id_ed25519*": "deploy/id_ed25519",
    ".ssh/": "home/.ssh/config.py",
    ".gnupg/": ".gnupg/pubring.py",
    ".aws/": ".aws/config.py",
    ".kube/": "ops/.kube/config.py",
    ".netrc": ".netrc",
    ".pgpass": ".pgpass",
    ".git-credentials": ".git-credentials",
    ".npmrc": "web/.npmrc",
    ".pypirc": ".pypirc",
    "credentials": "app/credentials",
    "credentials.*": "credentials.py",
    "*.credentials": "db.credentials",
    "secrets.*": "app/secrets.py",
    "secrets/": "deploy/secrets/token.py",
    ".htpasswd": ".htpasswd",
    "*.kdbx": "vault.kdbx",
    "service-account*.json": "service-account-prod.json",
    "**/.docker/config.json": "ci/.docker/config.json",
    "*.tfvars": "infra/prod.tfvars",
    "*.tfstate": "infra/terraform.tfstate",
    "*.tfstate.*": "infra/terraform.tfstate.backup",
}


def test_every_default_secret_pattern_is_skipped_as_secret(tmp_path: Path) -> None:
    assert set(SECRET_EXAMPLES) == set(DEFAULT_SECRET_PATTERNS)
    _tree(tmp_path, {rel: TOKEN for rel in SECRET_EXAMPLES.values()} | {"ok.py": ""})
    found, skipped = _walk(tmp_path)
    assert found == {"ok.py"}
    for pattern, rel in SECRET_EXAMPLES.items():
        assert is_secret(rel), pattern
        parts = rel.split("/")
        reported = [p for i in range(len(parts)) if (p := "/".join(parts[: i + 1])) in skipped]
        assert reported, pattern
        assert skipped[reported[0]] == "secret", (pattern, reported[0])
        assert is_ignored_path(tmp_path, rel) == "secret", pattern


def test_secret_contents_never_reach_the_walk(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".env": f"API_KEY={TOKEN}\n",
            "config/id_rsa": TOKEN,
            "prod.pem": TOKEN,
            "settings.py": "DEBUG = True\n",
            "config/app.py": "x = 1\n",
        },
    )
    options = WalkOptions(include_extensions=frozenset({".py", ".pem", ".env", ""}))
    entries = list(walk(tmp_path, options))
    assert {e.relpath for e in entries} == {"settings.py", "config/app.py"}
    assert all(TOKEN not in e.path.read_text() for e in entries)
    assert all(TOKEN not in e.relpath for e in entries)


def test_extra_secret_patterns_and_case(tmp_path: Path) -> None:
    _tree(tmp_path, {"creds/db.py": TOKEN, "vault.py": TOKEN, "PROD.PEM": TOKEN, "a.py": ""})
    options = WalkOptions(extra_secret_patterns=("creds/", "/vault.py"))
    found, skipped = _walk(tmp_path, options)
    assert found == {"a.py"}
    assert skipped["creds"] == skipped["vault.py"] == skipped["PROD.PEM"] == "secret"
    assert is_secret("src/creds/x.py", options)
    assert not is_secret("src/vault.py", options)  # anchored to the root
    assert not is_secret("creds/x.py")  # only with the extra patterns
    assert is_secret("./config/.ENV") and is_secret("keys\\id_rsa")
    assert is_secret(".ssh/") and not is_secret("src/main.py")


def test_size_generated_minified_and_extension_by_name(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "big.py": "x = 1\n" * 200,
            "small.py": "x = 1\n",
            "api_pb2.py": "",
            "api.pb.go": "",
            "types.generated.ts": "",
            "package-lock.json": "{}",
            "yarn.lock": "",
            "lib.min.js": "var a=1;",
            "notes.txt": "hello",
            "Makefile": "all:",
        },
    )
    found, skipped = _walk(tmp_path, WalkOptions(max_file_bytes=1000))
    assert found == {"small.py"}
    assert skipped["big.py"] == "too-large"
    for rel in ("api_pb2.py", "api.pb.go", "types.generated.ts", "package-lock.json", "yarn.lock"):
        assert skipped[rel] == "generated", rel
    assert skipped["lib.min.js"] == "minified"
    assert skipped["notes.txt"] == skipped["Makefile"] == "extension"


@pytest.mark.parametrize(
    ("name", "head", "want"),
    [
        ("a.py", b"\x00\x01binary", "binary"),
        ("a.c", bytes(range(1, 32)) * 40, "binary"),
        ("a.go", b"// Code generated by protoc-gen-go. DO NOT EDIT.\npackage x\n", "generated"),
        ("a.py", b'"""x"""\n# @generated by tool\nx = 1\n', "generated"),
        ("a.java", b"/* Autogenerated by Thrift */\nclass A {}\n", "generated"),
        ("a.js", b"var a=1;" * 1000, "minified"),
        ("a.css", b"a{b:c}" * 200 + b"\n" + b"d{e:f}" * 200, "minified"),
        ("a.py", b"x = 1;" * 1000, None),  # long lines only mean minified for JS, CSS, JSON
        ("jquery.min.js", b"", "minified"),
        ("a.py", b"def f():\n    return '\xc3\xa9t\xc3\xa9'\n", None),
        ("a.py", b"", None),
    ],
)
def test_classify_content(name: str, head: bytes, want: str | None) -> None:
    assert classify_content(Path(name), head, len(head)) == want


def test_content_checks_only_when_asked(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "bin.py": b"\x00\x00\x00",
            "gen.go": "// Code generated by stringer. DO NOT EDIT.\n",
            "app.js": "var a=1;" * 1000,
            "ok.py": "x = 1\n",
        },
    )
    assert _walk(tmp_path)[0] == {"bin.py", "gen.go", "app.js", "ok.py"}
    found, skipped = _walk(tmp_path, check_content=True)
    assert found == {"ok.py"}
    assert skipped == {"bin.py": "binary", "gen.go": "generated", "app.js": "minified"}


@needs_symlinks
def test_symlinks_inside_followed_outside_and_loops_skipped(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    _tree(root, {"src/a.py": "", "src/deep/b.py": "", ".env": TOKEN, "node_modules/m.js": ""})
    _tree(outside, {"leak.py": TOKEN})
    os.symlink(root / "src", root / "alias")
    os.symlink(root / "src" / "a.py", root / "a_link.py")
    os.symlink(outside, root / "escape")
    os.symlink(outside / "leak.py", root / "leak.py")
    os.symlink(root, root / "src" / "loop")
    os.symlink(root / "src", root / "src" / "deep" / "up")
    os.symlink(root / ".env", root / "settings.py")  # an innocent name for a secret
    os.symlink(root / "node_modules", root / "deps")
    os.symlink(root / "missing", root / "dangling.py")
    os.symlink(root / "self.py", root / "self.py")
    found, skipped = _walk(root)
    assert found == {"src/a.py", "src/deep/b.py", "alias/a.py", "alias/deep/b.py", "a_link.py"}
    assert skipped["escape"] == skipped["leak.py"] == "symlink-outside"
    assert skipped["src/loop"] == skipped["src/deep/up"] == "symlink-outside"
    assert skipped["alias/loop"] == skipped["alias/deep/up"] == "symlink-outside"
    assert skipped["self.py"] == "symlink-outside"
    assert skipped["settings.py"] == skipped[".env"] == "secret"
    assert skipped["deps"] == "excluded-dir"
    assert skipped["dangling.py"] == "unreadable"

    found, skipped = _walk(root, WalkOptions(follow_symlinks_inside=False))
    assert found == {"src/a.py", "src/deep/b.py"}
    assert skipped["alias"] == skipped["a_link.py"] == "ignored"


@needs_symlinks
def test_mutual_folder_links_terminate(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/x.py": "", "b/y.py": ""})
    os.symlink(tmp_path / "b", tmp_path / "a" / "to_b")
    os.symlink(tmp_path / "a", tmp_path / "b" / "to_a")
    found, _ = _walk(tmp_path)
    assert {"a/x.py", "b/y.py", "a/to_b/y.py", "b/to_a/x.py"} <= found
    assert len(found) < 10


@needs_symlinks
def test_secret_folder_behind_a_link(tmp_path: Path) -> None:
    _tree(tmp_path, {"creds/db.py": TOKEN, "ok.py": ""})
    os.symlink(tmp_path / "creds", tmp_path / "innocent")
    found, skipped = _walk(tmp_path, WalkOptions(extra_secret_patterns=("/creds/",)))
    assert found == {"ok.py"}
    assert skipped["innocent"] == skipped["creds"] == "secret"


def test_max_files_limit(tmp_path: Path) -> None:
    _tree(tmp_path, {f"f{i:02}.py": "" for i in range(30)} | {"z/a.py": "", "z/b/c.py": ""})
    found, skipped = _walk(tmp_path, WalkOptions(max_files=10))
    assert found == {f"f{i:02}.py" for i in range(10)}
    assert {rel for rel, reason in skipped.items() if reason == "limit"} == {
        *(f"f{i:02}.py" for i in range(10, 30)),
        "z",
    }
    assert _walk(tmp_path, WalkOptions(max_files=32))[1] == {}


def test_unreadable_folder(tmp_path: Path) -> None:
    _tree(tmp_path, {"ok.py": "", "locked/x.py": ""})
    (tmp_path / "locked").chmod(0)
    try:
        if os.access(tmp_path / "locked", os.R_OK):
            pytest.skip("running as root: chmod does not lock the folder")
        found, skipped = _walk(tmp_path)
        assert found == {"ok.py"}
        assert skipped == {"locked": "unreadable"}
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_unreadable_folder_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, {"ok.py": "", "locked/x.py": ""})
    real_scandir = os.scandir

    def deny(path: str) -> Iterator[os.DirEntry[str]]:
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    found, skipped = _walk(tmp_path)
    assert found == {"ok.py"}
    assert skipped == {"locked": "unreadable"}


def test_is_ignored_path_agrees_with_walk(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".gitignore": "build_out/\n*.log.py\n",
            "sub/.gitignore": "!keep.log.py\n",
            ".hearthignore": "private/\n",
            "a.py": "",
            "x.log.py": "",
            "sub/keep.log.py": "",
            "build_out/b.py": "",
            "private/p.py": "",
            "node_modules/m.js": "",
            "api_pb2.py": "",
            ".env": "",
        },
    )
    found, _ = _walk(tmp_path)
    for rel in ("a.py", "x.log.py", "sub/keep.log.py", "build_out/b.py", "private/p.py"):
        assert (is_ignored_path(tmp_path, rel) is None) == (rel in found), rel
    assert is_ignored_path(tmp_path, "node_modules/m.js") == "excluded-dir"
    assert is_ignored_path(tmp_path, "api_pb2.py") == "generated"
    assert is_ignored_path(tmp_path, ".env") == "secret"


def test_prefilter_agrees_with_pathspec() -> None:
    lines = ("*.py", "!keep.py", "/anchored", "dir/", "a/**/b", "[ab]?.txt", "\\!bang", "# c")
    patterns = walker._Patterns(lines)
    paths = ["x.py", "d/keep.py", "anchored", "d/anchored", "dir/", "dir", "d/dir/x", "a/q/b"]
    paths += ["a/b", "ab.txt", "c1.txt", "!bang", "other"]
    for path in paths:
        assert patterns.check(path) == patterns.spec.check_file(path).include, path


def test_extensions_option_and_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, {"a.py": "", "b.go": "", "c.md": ""})
    assert _walk(tmp_path, WalkOptions(include_extensions=frozenset({".MD"})))[0] == {"c.md"}
    monkeypatch.setitem(sys.modules, "hearth.index.languages", None)  # import now fails
    assert _walk(tmp_path)[0] == {"a.py", "b.go"}


def test_twenty_thousand_files_walk_quickly(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc\n__generated__/\n/local/\n!important.pyc\n")
    blank = tmp_path / "blank.py"
    blank.write_bytes(b"")
    for d in range(200):
        folder = tmp_path / f"pkg{d}" / "sub"
        folder.mkdir(parents=True)
        for i in range(100):
            os.link(blank, folder / f"m{i}.py")  # hard links: ten times faster to make
    blank.unlink()
    start = time.perf_counter()
    found, skipped = _walk(tmp_path)
    elapsed = time.perf_counter() - start
    print(f"walked 20,000 files in {elapsed:.3f} s")
    assert len(found) == 20000
    assert skipped == {".gitignore": "extension"}
    assert elapsed < 3, elapsed
