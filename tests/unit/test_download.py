"""Checksums, and pulling that fails fast and helpfully without a network (loopback only)."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from hearth.engine import download
from hearth.engine.download import pull, sha256_file, verify_sha256
from hearth.engine.registry import DEFAULT_COMPLETION_MODEL, get_model, model_path
from hearth.errors import DownloadError, OfflineError

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sha256_file_streams_across_chunks(tmp_path: Path) -> None:
    data = b"hearth" * 400_000  # > 2 MiB: several read chunks
    f = tmp_path / "f.bin"
    f.write_bytes(data)
    assert sha256_file(f) == hashlib.sha256(data).hexdigest()


def test_verify_sha256(tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    good = hashlib.sha256(b"abc").hexdigest()
    verify_sha256(f, good)
    verify_sha256(f, good.upper())
    with pytest.raises(DownloadError, match="checksum mismatch"):
        verify_sha256(f, "0" * 64)
    assert f.exists()  # a user's own file is never deleted by the check


def test_unreachable_endpoint_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    model = get_model(DEFAULT_COMPLETION_MODEL)
    start = time.monotonic()
    with pytest.raises(OfflineError) as err:
        pull(model, progress=False)
    assert time.monotonic() - start < 5
    assert err.value.message == f"cannot reach 127.0.0.1:{port} to download {model.name}"
    hint = err.value.hint or ""
    assert "HEARTH_MODEL" in hint and "--model" in hint
    assert str(model_path(model)) in hint
    assert "\n" not in err.value.message


def test_endpoint_argument_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1")
    port = _free_port()
    with pytest.raises(OfflineError, match=f"127.0.0.1:{port}"):
        pull(get_model(DEFAULT_COMPLETION_MODEL), endpoint=f"http://127.0.0.1:{port}")


def test_hf_hub_offline_is_immediate(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(*_: object) -> bool:
        raise AssertionError("HF_HUB_OFFLINE=1 must not open a connection")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(download, "_reachable", no_probe)
    start = time.monotonic()
    with pytest.raises(OfflineError) as err:
        pull(get_model(DEFAULT_COMPLETION_MODEL))
    assert time.monotonic() - start < 0.5
    assert "HEARTH_MODEL" in (err.value.hint or "")


def test_probe_sees_a_listening_loopback_port() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        assert download._reachable("127.0.0.1", srv.getsockname()[1], 1.0)
    assert not download._reachable("127.0.0.1", _free_port(), 1.0)


def test_probe_goes_to_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    host, port, label = download._probe_target("https://huggingface.co")
    assert (host, port) == ("127.0.0.1", 3128)
    assert "huggingface.co" in label
    monkeypatch.setenv("NO_PROXY", ".huggingface.co")
    assert download._probe_target("https://huggingface.co")[:2] == ("huggingface.co", 443)


def test_pinned_sha_accepts_placed_file_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    f = tmp_path / "dest" / "x.gguf"
    f.parent.mkdir()
    f.write_bytes(b"GGUF weights")
    model = dataclasses.replace(
        get_model(DEFAULT_COMPLETION_MODEL),
        filename="x.gguf",
        sha256=hashlib.sha256(b"GGUF weights").hexdigest(),
    )
    assert pull(model, dest_dir=f.parent) == f
    assert (f.parent / "x.gguf.sha256").is_file()
    # Verified once: the next pull trusts the marker, even without a pinned sha.
    assert pull(dataclasses.replace(model, sha256=None), dest_dir=f.parent) == f


def _fake_hub(monkeypatch: pytest.MonkeyPatch, content: bytes, hub_sha: str) -> None:
    import huggingface_hub

    def fake_download(repo_id: str, filename: str, **kw: Any) -> str:
        path = Path(kw["local_dir"]) / filename
        path.write_bytes(content)
        return str(path)

    monkeypatch.setattr(download, "_reachable", lambda *_: True)
    monkeypatch.setattr(download, "_hub_file_info", lambda *_: (hub_sha, len(content)))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)


def test_download_verified_against_hub_sha(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_hub(monkeypatch, b"GGUF ok", hashlib.sha256(b"GGUF ok").hexdigest())
    model = get_model(DEFAULT_COMPLETION_MODEL)
    path = pull(model, progress=False)
    assert path == model_path(model)
    assert path.read_bytes() == b"GGUF ok"
    assert path.with_name(path.name + ".sha256").is_file()


def test_checksum_mismatch_deletes_download(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_hub(monkeypatch, b"GGUF corrupted", "1" * 64)
    model = get_model(DEFAULT_COMPLETION_MODEL)
    with pytest.raises(DownloadError, match="checksum mismatch") as err:
        pull(model, progress=False)
    assert not model_path(model).exists()
    assert not isinstance(err.value, OfflineError)
    assert f"hearth model pull {model.name}" in (err.value.hint or "")
