"""`gather` works on this machine without the network, and the parsers handle other layouts."""

from __future__ import annotations

import socket
import sys

import pytest

from hearth import sysinfo
from hearth.sysinfo import GpuInfo, SystemInfo, gather

X86_CPUINFO = """\
processor\t: 0
model name\t: Test CPU
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse avx avx2 fma f16c

processor\t: 1
model name\t: Test CPU
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse avx avx2 fma f16c

processor\t: 2
model name\t: Test CPU
physical id\t: 1
core id\t\t: 0
flags\t\t: fpu sse avx avx2 fma f16c
"""

ARM_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 48.00
Features\t: fp asimd evtstrm aes crc32

processor\t: 1
Features\t: fp asimd evtstrm aes crc32
"""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("sysinfo must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_gather_is_sane() -> None:
    info = gather(probe_llama=False)
    assert info.python_version == ".".join(map(str, sys.version_info[:3]))
    assert info.platform and info.machine
    assert info.logical_cores and info.logical_cores >= 1
    if info.physical_cores is not None:
        assert 1 <= info.physical_cores <= info.logical_cores
    assert info.compute_cores >= 1
    assert set(info.cpu_features) <= set(sysinfo.X86_FEATURES + sysinfo.ARM_FEATURES)
    if sys.platform.startswith("linux"):
        assert info.ram_total_bytes and info.ram_available_bytes
        assert 0 < info.ram_available_bytes <= info.ram_total_bytes
    assert set(info.backends) == {"llama-cpp-python", "ctransformers"}
    assert info.gpu_offload is None
    for gpu in info.gpus:
        assert gpu.name and gpu.vendor == "nvidia"


def test_gather_with_llama_probe_never_raises() -> None:
    assert gather().gpu_offload in (True, False, None)


def test_parse_x86_cpuinfo() -> None:
    model, physical, flags = sysinfo._cpu_linux(X86_CPUINFO)
    assert model == "Test CPU"
    assert physical == 2  # hyperthread siblings share a core id
    assert {"avx2", "fma", "f16c"} <= flags


def test_parse_arm_cpuinfo() -> None:
    _, physical, flags = sysinfo._cpu_linux(ARM_CPUINFO)
    assert physical is None
    assert "asimd" in flags


def test_nvidia_smi_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    out = "NVIDIA H100 80GB HBM3, 81559, 80000\nNVIDIA GeForce RTX 3060, [N/A], 11000\n"
    monkeypatch.setattr(sysinfo, "_run", lambda *cmd: out if cmd[0] == "nvidia-smi" else None)
    gpus = sysinfo._nvidia_gpus()
    assert gpus[0] == GpuInfo("NVIDIA H100 80GB HBM3", "nvidia", 81559 << 20, 80000 << 20)
    assert gpus[1].memory_total_bytes is None and gpus[1].memory_free_bytes == 11000 << 20


def test_no_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysinfo, "_run", lambda *cmd: None)
    assert sysinfo._nvidia_gpus() == ()


def test_compute_cores_falls_back() -> None:
    info = SystemInfo("3.11.0", "x", "x86_64", None, None, 6, (), None, None)
    assert info.compute_cores == 6
