"""What this machine can run: CPU, RAM, GPU and installed backends, for `recommend` and bug reports.

Every probe degrades to None/empty instead of raising, because `hearth doctor` must work on the
very machines where something is broken. Nothing here touches the network.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# CPU features that change which llama.cpp kernels run (and how fast; amx_int8: see
# cpu_advertises_amx).
X86_FEATURES = ("avx", "avx2", "avx512f", "f16c", "fma", "amx_int8")
ARM_FEATURES = ("neon",)
BACKEND_DISTRIBUTIONS = ("llama-cpp-python", "ctransformers")
SUBPROCESS_TIMEOUT_S = 3.0
_MIB = 1 << 20


@dataclass(frozen=True)
class GpuInfo:
    name: str
    vendor: str
    memory_total_bytes: int | None
    memory_free_bytes: int | None


@dataclass(frozen=True)
class SystemInfo:
    python_version: str
    platform: str
    machine: str
    cpu_model: str | None
    physical_cores: int | None
    logical_cores: int | None
    cpu_features: tuple[str, ...]
    ram_total_bytes: int | None
    ram_available_bytes: int | None
    gpus: tuple[GpuInfo, ...] = ()
    gpu_offload: bool | None = None
    """Whether the installed llama-cpp-python was built with GPU offload; None if unknown."""
    backends: dict[str, str | None] = field(default_factory=dict)
    """Distribution name -> installed version, None when not installed."""

    @property
    def compute_cores(self) -> int:
        """Cores to plan with: physical when known, since hyperthreads barely help llama.cpp."""
        return self.physical_cores or self.logical_cores or 1


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _run(*cmd: str) -> str | None:
    """Output of a local command, or None when missing, failing or slower than the timeout."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _sysctl(key: str) -> str | None:
    out = _run("sysctl", "-n", key)
    return out.strip() if out and out.strip() else None


def _cpu_linux(cpuinfo: str) -> tuple[str | None, int | None, set[str]]:
    """Model name, physical cores and flags from /proc/cpuinfo (x86 and arm layouts)."""
    model: str | None = None
    cores: set[tuple[str, str]] = set()
    flags: set[str] = set()
    for block in cpuinfo.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        model = model or fields.get("model name") or fields.get("hardware") or None
        if "core id" in fields:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
        flags.update((fields.get("flags") or fields.get("features") or "").split())
    return model, (len(cores) or None), flags


def _cpu() -> tuple[str | None, int | None, tuple[str, ...]]:
    machine = platform.machine().lower()
    is_arm = machine.startswith(("arm", "aarch64"))
    model: str | None = None
    physical: int | None = None
    flags: set[str] = set()
    if sys.platform.startswith("linux"):
        cpuinfo = _read("/proc/cpuinfo")
        if cpuinfo:
            model, physical, flags = _cpu_linux(cpuinfo)
    elif sys.platform == "darwin":
        model = _sysctl("machdep.cpu.brand_string")
        cores = _sysctl("hw.physicalcpu")
        physical = int(cores) if cores and cores.isdigit() else None
        keys = ("machdep.cpu.features", "machdep.cpu.leaf7_features")
        feats = " ".join(filter(None, (_sysctl(k) for k in keys)))
        flags = {f.lower().replace(".", "_") for f in feats.split()}
        if "avx1_0" in flags:
            flags.add("avx")
    if is_arm and (flags & {"asimd", "neon"} or machine in ("arm64", "aarch64")):
        flags.add("neon")  # Advanced SIMD is mandatory on 64-bit ARM
    wanted = ARM_FEATURES if is_arm else X86_FEATURES
    model = model or platform.processor() or None
    return model, physical, tuple(f for f in wanted if f in flags)


@functools.lru_cache(maxsize=1)
def cpu_advertises_amx() -> bool:
    """Whether the CPU lists AMX (`amx_int8`): llama.cpp then puts quantized weights in AMX
    buffers, whose kernels crash where the OS does not grant the tile state."""
    return "amx_int8" in _cpu()[2]


def _meminfo_bytes(meminfo: str, key: str) -> int | None:
    match = re.search(rf"^{key}:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def _sysconf(name: str) -> int | None:
    try:
        value = os.sysconf(name) * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return value if value > 0 else None


def _ram() -> tuple[int | None, int | None]:
    total = available = None
    meminfo = _read("/proc/meminfo")
    if meminfo:
        total = _meminfo_bytes(meminfo, "MemTotal")
        available = _meminfo_bytes(meminfo, "MemAvailable") or _meminfo_bytes(meminfo, "MemFree")
    if total is None and sys.platform == "darwin":
        memsize = _sysctl("hw.memsize")
        total = int(memsize) if memsize and memsize.isdigit() else None
    total = total or _sysconf("SC_PHYS_PAGES")
    available = available or _sysconf("SC_AVPHYS_PAGES")
    return total, available


def _int_mib(text: str) -> int | None:
    text = text.strip()
    return int(float(text)) * _MIB if re.fullmatch(r"\d+(\.\d+)?", text) else None


def _nvidia_gpus() -> tuple[GpuInfo, ...]:
    out = _run(
        "nvidia-smi",
        "--query-gpu=name,memory.total,memory.free",
        "--format=csv,noheader,nounits",
    )
    gpus = []
    for line in (out or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[0]:
            gpus.append(GpuInfo(parts[0], "nvidia", _int_mib(parts[1]), _int_mib(parts[2])))
    return tuple(gpus)


def _gpu_offload() -> bool | None:
    """Ask llama-cpp-python itself: a CPU-only wheel happily loads on a GPU machine."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # broken build, missing shared library, old version without the call
        return None


def _backends() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for dist in BACKEND_DISTRIBUTIONS:
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = None
    return found


def gather(*, probe_llama: bool = True) -> SystemInfo:
    """Collect everything once (~tens of ms; up to 3 s when nvidia-smi hangs).

    `probe_llama=False` skips importing llama_cpp, which loads its native library.
    """
    cpu_model, physical, features = _cpu()
    total, available = _ram()
    return SystemInfo(
        python_version=platform.python_version(),
        platform=platform.platform(),
        machine=platform.machine(),
        cpu_model=cpu_model,
        physical_cores=physical,
        logical_cores=os.cpu_count(),
        cpu_features=features,
        ram_total_bytes=total,
        ram_available_bytes=available,
        gpus=_nvidia_gpus(),
        gpu_offload=_gpu_offload() if probe_llama else None,
        backends=_backends(),
    )
