"""Resolve an import to the workspace files it names, per language.

Resolution happens at query time against the current file set, so an import that names a
file created later resolves as soon as that file is indexed, and nothing goes stale. It is
deliberately best-effort and static: no build files beyond go.mod, tsconfig/jsconfig,
package.json and composer.json are read, and nothing outside the workspace is consulted, so
an import that only a build system could place resolves to [] rather than to a guess.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hearth.index.model import Import

log = logging.getLogger(__name__)

ReadText = Callable[[str], str | None]

# Project files whose contents steer resolution; a change to one drops what was read.
METADATA_FILES = frozenset(
    {"go.mod", "tsconfig.json", "jsconfig.json", "package.json", "composer.json"}
)

_JS_EXTS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
# An import of "./x.js" from TypeScript names the x.ts that compiles to it.
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
_PY_SUFFIXES = ("/__init__.py", ".py", "/__init__.pyi", ".pyi")
_RUST_ROOT_DIRS = frozenset({"bin", "tests", "examples", "benches"})
_GO_MODULE = re.compile(r"^\s*module\s+\"?([^\s\"]+)", re.MULTILINE)
_JSON_COMMENT = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*[\s\S]*?\*/')
_JSON_TRAILING_COMMA = re.compile(r'("(?:\\.|[^"\\])*")|,(\s*[}\]])')
_SH_LEADING_VAR = re.compile(r"""^(\$\{[^}]*\}|\$\((?:[^()]|\([^()]*\))*\)|\$\w+)["']?/""")
_EMPTY: frozenset[str] = frozenset()


def _normalize(path: str) -> str | None:
    """A clean relative POSIX path ("" for the root), or None when it is absolute or climbs
    above the root; the fast path skips the split for the common already-clean case."""
    if not path:
        return ""
    if path[0] == "/":
        return None
    if (
        "./" not in path
        and "//" not in path
        and path[-1] != "/"
        and not path.endswith("/.")
        and not path.endswith("/..")
        and path not in (".", "..")
    ):
        return path
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(seg)
    return "/".join(out)


def _join(base: str, rel: str) -> str | None:
    if not rel or rel[0] == "/":
        return None
    return _normalize(f"{base}/{rel}" if base else rel)


def _dirname(path: str) -> str:
    i = path.rfind("/")
    return path[:i] if i >= 0 else ""


def _basename(path: str) -> str:
    return path[path.rfind("/") + 1 :]


def _upwards(directory: str) -> Iterator[str]:
    """`directory` and the directories above it, ending with the root ""."""
    d = directory
    while d:
        yield d
        d = _dirname(d)
    yield ""


def _closest(importer: str, paths: Iterable[str]) -> str | None:
    """The candidate sharing the most leading directories with the importer: with several
    same-named files (per-package copies of util.h), the nearby one is the likely target."""
    here = importer.split("/")[:-1]

    def rank(p: str) -> tuple[int, int, str]:
        segs = p.split("/")[:-1]
        shared = 0
        for a, b in zip(here, segs, strict=False):
            if a != b:
                break
            shared += 1
        return (-shared, len(segs), p)

    return min(paths, key=rank, default=None)


def _loads_jsonc(text: str) -> Any:
    """tsconfig.json allows comments and trailing commas, which json.loads does not."""
    text = _JSON_COMMENT.sub(lambda m: m.group(1) or "", text)
    text = _JSON_TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(2), text)
    return json.loads(text)


def _discard(index: dict[str, set[str]], key: str, value: str) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.discard(value)
        if not bucket:
            del index[key]


@dataclass(frozen=True)
class TsPaths:
    """Effective compilerOptions of one tsconfig: `baseUrl` and the `paths` patterns with
    the directory they are relative to, both workspace-relative."""

    base_url: str | None
    paths: tuple[tuple[str, tuple[str, ...]], ...]
    paths_dir: str


class WorkspaceFiles:
    """The workspace's indexed paths (POSIX, relative), with the lookups the resolvers need.

    Updates are O(path depth) so the watcher can keep one instance current; derived caches
    are dropped on any change, and project files read through `read_text` are kept until
    `invalidate_metadata` (they are usually not indexed files, so no add() announces them).
    """

    def __init__(self, paths: Iterable[str] = (), read_text: ReadText | None = None) -> None:
        self.paths: set[str] = set()
        self.by_dir: dict[str, set[str]] = {}  # directory -> files directly in it
        self.by_name: dict[str, set[str]] = {}  # basename -> paths
        self.by_lower_name: dict[str, set[str]] = {}  # lower-cased basename -> paths
        self.dirs: dict[str, int] = {"": 0}  # every directory -> number of files below it
        self.dirs_by_name: dict[str, set[str]] = {}  # directory basename -> directories
        self._read = read_text
        self._texts: dict[str, str | None] = {}
        self._json: dict[str, Any] = {}
        self._ts_configs: dict[str, TsPaths | None] = {}  # directory -> nearest config
        self._derived: dict[str, dict[Any, Any]] = {}
        for p in paths:
            self.add(p)

    def __contains__(self, path: object) -> bool:
        return path in self.paths

    def __len__(self) -> int:
        return len(self.paths)

    def add(self, path: str) -> None:
        path = _normalize(path) or ""
        if not path or path in self.paths:
            return
        self.paths.add(path)
        d, name = _dirname(path), _basename(path)
        self.by_dir.setdefault(d, set()).add(path)
        self.by_name.setdefault(name, set()).add(path)
        self.by_lower_name.setdefault(name.lower(), set()).add(path)
        self.dirs[""] += 1
        while d:
            n = self.dirs.get(d, 0)
            self.dirs[d] = n + 1
            if n == 0:
                self.dirs_by_name.setdefault(_basename(d), set()).add(d)
            d = _dirname(d)
        self._changed(name)

    def remove(self, path: str) -> None:
        path = _normalize(path) or ""
        if path not in self.paths:
            return
        self.paths.discard(path)
        d, name = _dirname(path), _basename(path)
        _discard(self.by_dir, d, path)
        _discard(self.by_name, name, path)
        _discard(self.by_lower_name, name.lower(), path)
        self.dirs[""] -= 1
        while d:
            n = self.dirs.get(d, 1) - 1
            if n <= 0:
                self.dirs.pop(d, None)
                _discard(self.dirs_by_name, _basename(d), d)
            else:
                self.dirs[d] = n
            d = _dirname(d)
        self._changed(name)

    def _changed(self, name: str) -> None:
        if self._derived:
            self._derived.clear()
        if name in METADATA_FILES:
            self.invalidate_metadata()

    def invalidate_metadata(self) -> None:
        """Forget project files read so far (call when go.mod, tsconfig.json... change)."""
        self._texts.clear()
        self._json.clear()
        self._ts_configs.clear()
        self._derived.clear()

    def files_in(self, directory: str) -> Iterable[str]:
        return self.by_dir.get(directory, _EMPTY)

    def named(self, basename: str) -> Iterable[str]:
        return self.by_name.get(basename, _EMPTY)

    def memo(self, key: str) -> dict[Any, Any]:
        """A cache that lives until the file set changes."""
        cache = self._derived.get(key)
        if cache is None:
            cache = self._derived[key] = {}
        return cache

    # -- project metadata ----------------------------------------------------------------------
    def read_text(self, path: str) -> str | None:
        if path not in self._texts:
            text: str | None = None
            if self._read is not None:
                try:
                    text = self._read(path)
                except Exception:  # a failing reader must not fail resolution
                    log.debug("read_text(%r) failed", path, exc_info=True)
            self._texts[path] = text
        return self._texts[path]

    def read_json(self, path: str) -> Any:
        """The parsed (JSON-with-comments) file, or None when missing or malformed."""
        if path not in self._json:
            text = self.read_text(path)
            value: Any = None
            if text:
                try:
                    value = _loads_jsonc(text)
                except (ValueError, RecursionError):
                    value = None
            self._json[path] = value
        return self._json[path]

    def go_module(self, importer: str) -> tuple[str, str] | None:
        """(module path, module dir) from the nearest go.mod above `importer`."""
        return self._go_module_from(_dirname(importer))

    def _go_module_from(self, directory: str) -> tuple[str, str] | None:
        for d in _upwards(directory):
            text = self.read_text(f"{d}/go.mod" if d else "go.mod")
            m = _GO_MODULE.search(text) if text else None
            if m:
                return m.group(1), d
        return None

    def go_modules(self) -> list[tuple[str, str]]:
        """Every (module path, dir) with Go files in the workspace, longest path first, for
        imports between the modules of a multi-module repository (go.work, replace)."""
        memo = self.memo("go")
        if "modules" not in memo:
            found: dict[str, str] = {}
            for d, files in self.by_dir.items():
                if any(p.endswith(".go") for p in files):
                    module = self._go_module_from(d)
                    if module:
                        found[module[0]] = module[1]
            memo["modules"] = sorted(found.items(), key=lambda m: (-len(m[0]), m[0]))
        modules: list[tuple[str, str]] = memo["modules"]
        return modules

    def ts_config(self, importer: str) -> TsPaths | None:
        """compilerOptions of the nearest tsconfig.json/jsconfig.json above `importer`."""
        d = _dirname(importer)
        if d in self._ts_configs:
            return self._ts_configs[d]
        walked: list[str] = []
        found: TsPaths | None = None
        for a in _upwards(d):
            if a in self._ts_configs:
                found = self._ts_configs[a]
                break
            walked.append(a)
            cfgs = [f"{a}/{n}" if a else n for n in ("tsconfig.json", "jsconfig.json")]
            cfg = next((c for c in cfgs if self.read_text(c) is not None), None)
            if cfg is not None:
                found = self._load_ts_config(cfg, 0)
                break
        for a in walked:
            self._ts_configs[a] = found
        return found

    def _load_ts_config(self, cfg: str, depth: int) -> TsPaths:
        here = _dirname(cfg)
        base_url: str | None = None
        paths: tuple[tuple[str, tuple[str, ...]], ...] = ()
        paths_dir = here
        data = self.read_json(cfg)
        if not isinstance(data, dict):
            return TsPaths(None, (), here)
        extends = data.get("extends")
        for parent in [extends] if isinstance(extends, str) else extends or []:
            if isinstance(parent, str) and parent.startswith(".") and depth < 5:
                target = _join(here, parent if parent.endswith(".json") else parent + ".json")
                if target is not None:
                    inherited = self._load_ts_config(target, depth + 1)
                    base_url = inherited.base_url or base_url
                    if inherited.paths:
                        paths, paths_dir = inherited.paths, inherited.paths_dir
        opts = data.get("compilerOptions")
        if isinstance(opts, dict):
            url = opts.get("baseUrl")
            if isinstance(url, str):
                base_url = _normalize(f"{here}/{url}" if here else url) if url else here
            raw = opts.get("paths")
            if isinstance(raw, dict):
                paths = tuple(
                    (k, tuple(t for t in v if isinstance(t, str)))
                    for k, v in raw.items()
                    if isinstance(k, str) and isinstance(v, list)
                )
                paths_dir = here
        return TsPaths(base_url, paths, base_url if base_url is not None else paths_dir)


def _first(files: WorkspaceFiles, candidates: Iterable[str | None]) -> list[str]:
    for c in candidates:
        if c and c in files.paths:
            return [c]
    return []


def _dedup(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _suffix_match(
    files: WorkspaceFiles, importer: str, tail: str, *, ignore_case: bool = False
) -> str | None:
    """The file whose path ends with `tail` (a/b/C.java), nearest to the importer."""
    if ignore_case:
        tail = tail.lower()
        cands = files.by_lower_name.get(_basename(tail), _EMPTY)
        hits = [p for p in cands if (q := p.lower()) == tail or q.endswith("/" + tail)]
    else:
        cands = files.by_name.get(_basename(tail), _EMPTY)
        hits = [p for p in cands if p == tail or p.endswith("/" + tail)]
    return _closest(importer, hits)


def _dirs_ending(files: WorkspaceFiles, tail: str) -> list[str]:
    dirs = files.dirs_by_name.get(_basename(tail), _EMPTY)
    return sorted(d for d in dirs if d == tail or d.endswith("/" + tail))


# -- Python ------------------------------------------------------------------------------------
def _py_module(files: WorkspaceFiles, mod: str) -> str | None:
    """The file of module path `mod` ("a/b"): a package's __init__ first, as Python does."""
    paths = files.paths
    if not mod:
        return next((c for c in ("__init__.py", "__init__.pyi") if c in paths), None)
    for suffix in _PY_SUFFIXES:
        c = mod + suffix
        if c in paths:
            return c
    return None


def _py_roots(files: WorkspaceFiles, directory: str) -> tuple[str, ...]:
    """Where absolute imports start for a file in `directory`: above its top-level package
    (or the script's own directory), then the workspace root and src/."""
    memo = files.memo("py_roots")
    roots: tuple[str, ...] | None = memo.get(directory)
    if roots is None:
        top = directory
        while top and (f"{top}/__init__.py" in files.paths or f"{top}/__init__.pyi" in files.paths):
            top = _dirname(top)
        roots = tuple(dict.fromkeys((top, "", "src")))
        memo[directory] = roots
    return roots


def _py_lookup(files: WorkspaceFiles, mod: str, names: tuple[str, ...]) -> list[str]:
    module = _py_module(files, mod)
    subs: list[str] = []
    if names and (not mod or mod in files.dirs):
        for name in names:
            rel = name.replace(".", "/")
            sub = _py_module(files, f"{mod}/{rel}" if mod else rel)
            if sub is not None:
                subs.append(sub)
    if module is None:
        return subs
    # The package itself only when some name is not a submodule: `from pkg import sub` is
    # about pkg/sub.py, not the __init__ that happens to run first.
    if not names or len(subs) < len(names):
        return _dedup([module, *subs])
    return _dedup(subs)


def _python(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip()
    parts = spec.split(".") if spec else []
    if any(not p or "/" in p for p in parts):
        return []
    names = tuple(n.strip() for n in imp.names if n.strip() not in ("", "*", "<mod>"))
    rel = "/".join(parts)
    if imp.level > 0:
        segs = importer.split("/")[:-1]
        up = imp.level - 1
        if up > len(segs):
            return []
        base = "/".join(segs[: len(segs) - up])
        return _py_lookup(files, f"{base}/{rel}" if base and rel else base or rel, names)
    if not parts:
        return []
    for root in _py_roots(files, _dirname(importer)):
        found = _py_lookup(files, f"{root}/{rel}" if root else rel, names)
        if found:
            return found
    return []


# -- JavaScript / TypeScript -----------------------------------------------------------------
def _js_probe(files: WorkspaceFiles, base: str | None) -> list[str]:
    """Node/TypeScript file probing: the path itself, TS for a .js name, extensions, index."""
    if not base:
        return []
    paths = files.paths
    stem, ext = posixpath.splitext(base)
    for ts_ext in _JS_TO_TS.get(ext, ()):
        if stem + ts_ext in paths:
            return [stem + ts_ext]
    if base in paths:
        return [base]
    for e in _JS_EXTS:
        if base + e in paths:
            return [base + e]
    for e in _JS_EXTS:
        c = f"{base}/index{e}"
        if c in paths:
            return [c]
    return []


def _js_paths(cfg: TsPaths, spec: str, files: WorkspaceFiles) -> list[str]:
    """tsconfig `paths`: the pattern with the longest prefix before its "*" wins."""
    best: tuple[int, list[str]] | None = None
    for pattern, targets in cfg.paths:
        star = pattern.find("*")
        if star < 0:
            if pattern != spec:
                continue
            match, key = "", len(pattern) + 1
        else:
            pre, post = pattern[:star], pattern[star + 1 :]
            if len(spec) < len(pre) + len(post) or not (
                spec.startswith(pre) and spec.endswith(post)
            ):
                continue
            match, key = spec[len(pre) : len(spec) - len(post)], len(pre)
        if best is None or key > best[0]:
            best = (key, [t.replace("*", match, 1) for t in targets])
    for target in best[1] if best else []:
        found = _js_probe(files, _join(cfg.paths_dir, target))
        if found:
            return found
    return []


def _js_package(spec: str, files: WorkspaceFiles) -> list[str]:
    """A bare specifier naming a package of this workspace (a monorepo member), found by its
    package.json in a directory named like the package."""
    parts = spec.split("/")
    n = 2 if spec.startswith("@") else 1
    if len(parts) < n or not all(parts[:n]):
        return []
    name, sub = "/".join(parts[:n]), "/".join(parts[n:])
    memo = files.memo("js_packages")
    if name not in memo:
        memo[name] = None
        for d in sorted(files.dirs_by_name.get(parts[n - 1], _EMPTY)):
            data = files.read_json(f"{d}/package.json")
            if isinstance(data, dict) and data.get("name") == name:
                memo[name] = (d, data)
                break
    found: tuple[str, dict[str, Any]] | None = memo[name]
    if found is None:
        return []
    d, data = found
    if sub:
        return _js_probe(files, _join(d, sub)) or _js_probe(files, _join(d, "src/" + sub))
    entries = [data.get(k) for k in ("source", "module", "main", "types")]
    for entry in [e for e in entries if isinstance(e, str)] + ["src/index", "index"]:
        hit = _js_probe(files, _join(d, entry))
        if hit:
            return hit
    return []


def _js(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip().split("?", 1)[0]
    if not spec or spec[0] == "/" or ":" in spec:  # absolute, node:fs, https://...
        return []
    if spec[0] == ".":
        return _js_probe(files, _join(_dirname(importer), spec))
    cfg = files.ts_config(importer)
    if cfg is not None:
        found = _js_paths(cfg, spec, files)
        if found:
            return found
        if cfg.base_url is not None:
            found = _js_probe(files, _join(cfg.base_url, spec))
            if found:
                return found
    return _js_package(spec, files)


# -- Go ----------------------------------------------------------------------------------------
def _go_package(files: WorkspaceFiles, pkg: str | None) -> list[str]:
    if pkg is None:
        return []
    return sorted(
        p for p in files.files_in(pkg) if p.endswith(".go") and not p.endswith("_test.go")
    )


def _go(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip().rstrip("/")
    if not spec or spec[0] == "/":
        return []
    if spec[0] == ".":  # GOPATH-era relative import
        return _go_package(files, _join(_dirname(importer), spec))
    nearest = files.go_module(importer)
    if nearest is not None:
        module, moddir = nearest
        if spec == module or spec.startswith(module + "/"):
            return _go_package(files, _join(moddir, spec[len(module) + 1 :]) or moddir)
        vendored = _go_package(files, _join(moddir, f"vendor/{spec}"))
        if vendored:
            return vendored
    for module, moddir in files.go_modules():
        if spec == module or spec.startswith(module + "/"):
            return _go_package(files, _join(moddir, spec[len(module) + 1 :]) or moddir)
    return []


# -- Rust --------------------------------------------------------------------------------------
def _rust_mod_dir(importer: str) -> str:
    """The directory holding the files of `importer`'s child modules."""
    d, name = _dirname(importer), _basename(importer)
    if name in ("main.rs", "lib.rs", "mod.rs", "build.rs") or _basename(d) in _RUST_ROOT_DIRS:
        return d
    stem = name[:-3] if name.endswith(".rs") else name
    return f"{d}/{stem}" if d else stem


def _rust_module_file(files: WorkspaceFiles, d: str) -> str | None:
    """The file of the module whose children live in `d` (a.rs, a/mod.rs, or a crate root)."""
    if d:
        cands = [f"{d}.rs", f"{d}/mod.rs", f"{d}/lib.rs", f"{d}/main.rs"]
    else:
        cands = ["lib.rs", "main.rs"]
    return next((c for c in cands if c in files.paths), None)


def _rust_crate_dir(importer: str, files: WorkspaceFiles) -> str | None:
    for d in _upwards(_dirname(importer)):
        prefix = f"{d}/" if d else ""
        if f"{prefix}lib.rs" in files.paths or f"{prefix}main.rs" in files.paths:
            return d
    return None


def _rust_walk(files: WorkspaceFiles, base: str, parts: list[str], *, exact: bool) -> list[str]:
    """The longest prefix of `parts` that is a module file under `base`; failing that (an
    item of the module itself) the module file of `base`. `exact`: the whole path or []."""
    for n in range(len(parts), 0, -1):
        mod = "/".join([base, *parts[:n]] if base else parts[:n])
        hit = _first(files, (f"{mod}.rs", f"{mod}/mod.rs"))
        if hit or exact:
            return hit
    own = None if exact else _rust_module_file(files, base)
    return [own] if own else []


def _rust_crates(files: WorkspaceFiles) -> dict[str, str]:
    """Library crates of a cargo workspace by name (their directory, dashes as underscores)
    -> their src directory; Cargo.toml is not read, so a renamed [lib] is missed."""
    memo = files.memo("rust")
    if "crates" not in memo:
        crates: dict[str, str] = {}
        for lib in sorted(files.named("lib.rs")):
            src = _dirname(lib)
            crate_dir = _dirname(src) if _basename(src) == "src" else src
            name = _basename(crate_dir).replace("-", "_")
            if name:
                crates.setdefault(name, src)
        memo["crates"] = crates
    found: dict[str, str] = memo["crates"]
    return found


def _rust_use(importer: str, spec: str, files: WorkspaceFiles) -> tuple[str, list[str]] | None:
    """(base directory, remaining path) of a `use` path, or None for an external crate."""
    parts = [p.strip() for p in spec.split("::") if p.strip()]
    if not parts:
        return None
    head = parts[0]
    if head == "crate":
        crate = _rust_crate_dir(importer, files)
        return (crate, parts[1:]) if crate is not None else None
    if head in ("self", "super"):
        base = _rust_mod_dir(importer)
        if head == "self":
            parts = parts[1:]
        while parts and parts[0] == "super":
            if not base:
                return None
            base = _dirname(base)
            parts = parts[1:]
        return base, parts
    here = _rust_mod_dir(importer)
    if _first(files, (_join(here, f"{head}.rs"), _join(here, f"{head}/mod.rs"))):
        return here, parts  # 2018 paths: a child module declared by this file
    src = _rust_crates(files).get(head)
    return (src, parts[1:]) if src else None


def _rust(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip()
    if imp.names == ("<mod>",):  # `mod x;`
        if not spec.removeprefix("r#").isidentifier():
            return []
        here = _rust_mod_dir(importer)
        return _first(files, (_join(here, f"{spec}.rs"), _join(here, f"{spec}/mod.rs")))
    names = [n.strip() for n in imp.names]
    if "{" in spec:  # a whole use tree: its first-level members may be modules
        spec, _, tree = spec.partition("{")
        names += [t.strip().split("::")[0].split(" ")[0] for t in tree.rstrip("}").split(",")]
    names = [n for n in names if n.isidentifier() and n != "self"]
    spec = spec.split(" as ")[0].strip().removesuffix("*").rstrip(":")
    where = _rust_use(importer, spec, files)
    if where is None:
        return []
    base, parts = where
    out = _rust_walk(files, base, parts, exact=False)
    for name in names:
        out += _rust_walk(files, base, [*parts, name], exact=True)
    return _dedup(out)


# -- Java / C# ---------------------------------------------------------------------------------
def _java(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    parts = [p.strip() for p in imp.spec.strip().split(".")]
    star = parts[-1] == "*" or "*" in imp.names
    if parts[-1] == "*":
        parts.pop()
    if not parts or not all(parts):
        return []
    if star:
        found = sorted(
            p
            for d in _dirs_ending(files, "/".join(parts))
            for p in files.files_in(d)
            if p.endswith(".java")
        )
        if found:
            return found
    for n in range(len(parts), 0, -1):  # static imports and nested classes name a prefix
        hit = _suffix_match(files, importer, "/".join(parts[:n]) + ".java")
        if hit:
            return [hit]
    return []


def _csharp(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip().split("=")[-1].strip()
    parts = spec.split(".")
    if not spec or not all(parts):
        return []
    for k in range(max(1, len(parts) - 1)):  # the root namespace is often not a folder
        hit = _suffix_match(files, importer, "/".join(parts[k:]) + ".cs")
        if hit:
            return [hit]
    dirs = _dirs_ending(files, "/".join(parts)) or sorted(files.dirs_by_name.get(spec, _EMPTY))
    return sorted(p for d in dirs for p in files.files_in(d) if p.endswith(".cs"))


# -- C / C++ -----------------------------------------------------------------------------------
def _c(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip().replace("\\", "/")
    if not spec or spec[0] == "/":
        return []
    paths = files.paths
    for d in _upwards(_dirname(importer)):  # the includer's dir, then -I. and -Iinclude above
        for c in (_join(d, spec), _join(d, f"include/{spec}")):
            if c and c in paths:
                return [c]
    for d in sorted(files.dirs_by_name.get("include", _EMPTY)):
        c = _join(d, spec)
        if c and c in paths:
            return [c]
    tail = spec
    while tail.startswith(("./", "../")):
        tail = tail.split("/", 1)[1]
    if not tail or "/." in tail:
        return []
    # Where some other -I flag would point: the same path anywhere, nearest first, then
    # ignoring case (code written on a case-insensitive file system).
    best = _suffix_match(files, importer, tail) or _suffix_match(
        files, importer, tail, ignore_case=True
    )
    return [best] if best else []


# -- Ruby / Lua / PHP / Bash -------------------------------------------------------------------
def _ruby(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip()
    if not spec or spec[0] == "/":
        return []
    rel = spec if spec.endswith(".rb") else spec + ".rb"
    # require_relative and require look alike once extracted: the sibling file first.
    found = _first(files, [_join(_dirname(importer), rel)])
    if found or spec[0] == ".":
        return found
    found = _first(files, [_join("lib", rel), _normalize(rel)])
    if found or "/." in rel:
        return found
    hit = _suffix_match(files, importer, "lib/" + rel)  # a gem's lib/ in a monorepo
    return [hit] if hit else []


def _lua(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip()
    if not spec or spec[0] == "/":
        return []
    if spec.endswith(".lua") or "/" in spec:  # dofile/loadfile paths
        return _first(files, [_join(_dirname(importer), spec), _normalize(spec)])
    parts = spec.split(".")
    if not all(parts):
        return []
    mod = "/".join(parts)
    for root in ("", "lua", "src", "lib", _dirname(importer)):
        found = _first(files, [_join(root, f"{mod}.lua"), _join(root, f"{mod}/init.lua")])
        if found:
            return found
    hit = _suffix_match(files, importer, f"{mod}.lua") or _suffix_match(
        files, importer, f"{mod}/init.lua"
    )
    return [hit] if hit else []


def _php_psr4(importer: str, parts: list[str], files: WorkspaceFiles) -> list[str] | None:
    """The class file from the nearest composer.json's PSR-4 map; None without one."""
    name = "\\".join(parts)
    for d in _upwards(_dirname(importer)):
        data = files.read_json(f"{d}/composer.json" if d else "composer.json")
        if not isinstance(data, dict):
            continue
        for section in ("autoload", "autoload-dev"):
            autoload = data.get(section)
            psr4 = autoload.get("psr-4") if isinstance(autoload, dict) else None
            if not isinstance(psr4, dict):
                continue
            for prefix in sorted((k for k in psr4 if isinstance(k, str)), key=len, reverse=True):
                if not name.startswith(prefix):
                    continue
                rest = name[len(prefix) :].strip("\\").replace("\\", "/")
                targets = psr4[prefix]
                for target in [targets] if isinstance(targets, str) else targets:
                    root = _join(d, target) if isinstance(target, str) else None
                    if rest and root is not None:
                        found = _first(files, [_join(root, rest + ".php")])
                        if found:
                            return found
        return []
    return None


def _php_class(importer: str, parts: list[str], files: WorkspaceFiles) -> list[str]:
    found = _php_psr4(importer, parts, files)
    if found:
        return found
    # PSR-4-ish without (or beyond) composer.json: the longest path suffix keeping at least
    # the namespace's last segment, ignoring case (App\ usually lives in app/).
    for k in range(max(1, len(parts) - 1)):
        hit = _suffix_match(files, importer, "/".join(parts[k:]) + ".php", ignore_case=True)
        if hit:
            return [hit]
    return []


def _php(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip()
    if not spec or spec[0] == "/":
        return []
    if spec.endswith(".php") or "/" in spec:
        return _first(files, [_join(_dirname(importer), spec), _normalize(spec)])
    parts = [p for p in spec.split(" ")[0].split("\\") if p]
    if not parts:
        return []
    out = _php_class(importer, parts, files)
    for name in imp.names:  # `use App\Models\{User, Post}`
        extra = [p for p in name.split(" ")[0].split("\\") if p]
        if extra and extra != parts[-len(extra) :]:
            out += _php_class(importer, parts + extra, files)
    return _dedup(out)


def _bash(importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    spec = imp.spec.strip()
    lead = _SH_LEADING_VAR.match(spec)
    if lead:  # "$DIR/lib.sh", "${BASH_SOURCE%/*}/lib.sh": taken as the script's own dir
        spec = spec[lead.end() :]
    elif spec.startswith("$"):
        return []
    if not spec or spec[0] in "/~":
        return []
    here = _dirname(importer)
    cands = [_join(here, spec), _join(here, spec + ".sh")]
    if spec[0] != ".":
        cands += [_normalize(spec), _normalize(spec + ".sh")]
    return _first(files, cands)


_RESOLVERS: dict[str, Callable[[str, Import, WorkspaceFiles], list[str]]] = {
    "python": _python,
    "javascript": _js,
    "typescript": _js,
    "tsx": _js,
    "go": _go,
    "rust": _rust,
    "java": _java,
    "c": _c,
    "cpp": _c,
    "ruby": _ruby,
    "lua": _lua,
    "php": _php,
    "bash": _bash,
    "csharp": _csharp,
}


def resolve_import(language: str, importer: str, imp: Import, files: WorkspaceFiles) -> list[str]:
    """The workspace files `imp` (written in `importer`) refers to; [] when it is external or
    cannot be placed. Never raises: an odd import must not break the query that asked."""
    resolver = _RESOLVERS.get(language)
    if resolver is None:
        return []
    try:
        return resolver(importer, imp, files)
    except Exception:
        log.debug("resolving %r in %s failed", imp, importer, exc_info=True)
        return []
