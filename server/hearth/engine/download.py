"""Pulling registry models from the Hugging Face hub, verified by sha256.

This module is the ONLY place in Hearth that may open a network connection. Everything else
(completion, chat, the LSP server, `sysinfo`, `recommend`) works on local files, so a user can
audit Hearth's privacy promise by reading this one file.

Offline machines are common for a local assistant, so pulling fails fast: a short TCP probe of
the hub (or the proxy in front of it) decides before huggingface_hub's own retry loops start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from hearth.engine.registry import RegistryModel, model_path
from hearth.errors import DownloadError, OfflineError
from hearth.paths import ensure_dir

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_S = 3.0
_CHUNK = 1 << 20
_TRUE = {"1", "true", "yes", "on"}


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


def _offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


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
        f"download {model.url} elsewhere and pass --model /path/to/file.gguf or set "
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
    """
    target = (dest_dir / model.filename) if dest_dir is not None else model_path(model)
    target_dir = target.parent
    if _verified_already(target, model.sha256):
        return target
    if target.is_file() and model.sha256 is not None:
        # A pinned checksum lets us accept a hand-placed file without asking the hub.
        if sha256_file(target) == model.sha256:
            _marker(target).write_text(f"{model.sha256}  {model.filename}\n", encoding="utf-8")
            return target
        log.warning("%s does not match the registry sha256; downloading it again", target)

    ep = _endpoint(endpoint)
    if _offline_env():
        raise OfflineError(
            f"HF_HUB_OFFLINE is set, so {model.name} cannot be downloaded "
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
        _marker(downloaded).write_text(f"{expected}  {model.filename}\n", encoding="utf-8")
    return downloaded
