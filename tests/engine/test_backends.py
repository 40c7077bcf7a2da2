"""Both backends on real (synthesized) model files: loading, FIM prompts, prefix reuse,
stops, budgets and cancellation. Random weights write nonsense, so the assertions are about
tokens, counts and protocol, never about the text."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hearth.completion.fim import fim_prompt_tokens, fim_stops
from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.generate import GenerationRequest, StopReason, generate
from hearth.engine.loader import choose_backend, load_backend
from hearth.engine.model_file import read_model_file
from hearth.engine.service import Engine, ModelSpec
from hearth.engine.templates import detect_template, load_templates
from hearth.errors import ContextOverflowError, UnsupportedModelError

OPTS = LoadOptions(n_ctx=512, n_threads=2, n_batch=64)


def _load(path: Path, backend: str) -> Backend:
    return load_backend(path, backend, OPTS)


def _template_for(backend: Backend) -> str:
    tpl = detect_template(
        load_templates(), lambda t: 1 if backend.special_token_id(t) is not None else None
    )
    return tpl.name


@pytest.fixture(
    params=[
        ("llama_spm_model", "llamacpp"),
        ("llama_spm_model", "ctransformers"),
        ("llama_spm_q8_model", "llamacpp"),
        ("llama_spm_q8_model", "ctransformers"),
    ],
    ids=["spm-f32-llamacpp", "spm-f32-ctransformers", "spm-q8-llamacpp", "spm-q8-ctransformers"],
)
def spm_backend(request: pytest.FixtureRequest) -> Backend:
    fixture, backend_name = request.param
    backend = _load(request.getfixturevalue(fixture), backend_name)
    request.addfinalizer(backend.close)
    return backend


def test_codellama_fim_prompt_uses_single_special_tokens(spm_backend: Backend) -> None:
    assert _template_for(spm_backend) == "codellama"
    tpl = load_templates()["codellama"]
    tokens = fim_prompt_tokens(spm_backend, tpl, "def add(a, b):\n    return ", "\n")
    for special in ("<PRE>", "<SUF>", "<MID>"):
        tid = spm_backend.special_token_id(special)
        assert tid is not None
        assert tokens.count(tid) == 1
    # Special-looking text in the user's code is never turned into a control token.
    injected = fim_prompt_tokens(spm_backend, tpl, "x = '<PRE>'", "")
    assert injected.count(spm_backend.special_token_id("<PRE>")) == 1


def test_second_call_sharing_a_prefix_evaluates_only_new_tokens(spm_backend: Backend) -> None:
    """The property the whole latency design rests on, on both backends."""
    text = "def fibonacci(n):\n    if n < 2:\n        return n\n"
    base = spm_backend.tokenize(text)
    request = GenerationRequest(max_tokens=4)
    first = generate(spm_backend, base, request)
    assert first.n_reused == 0
    assert first.n_evaluated == len(base)
    extended = base + spm_backend.tokenize("    return fibonacci(n - 1)")
    second = generate(spm_backend, extended, request)
    assert second.n_reused == len(base)
    assert second.n_evaluated == len(extended) - len(base)
    # The same prompt again re-evaluates just one token (fresh logits are needed to sample).
    third = generate(spm_backend, extended, request)
    assert third.n_evaluated == 1


def test_generation_is_deterministic_at_temperature_zero(spm_backend: Backend) -> None:
    prompt = spm_backend.tokenize("class Stack:\n    def push(self, item):")
    a = generate(spm_backend, prompt, GenerationRequest(max_tokens=12))
    spm_backend.reset()
    b = generate(spm_backend, prompt, GenerationRequest(max_tokens=12))
    assert a.tokens == b.tokens
    assert a.text == b.text


def test_cancel_stops_within_one_token(spm_backend: Backend) -> None:
    prompt = spm_backend.tokenize("import os\n")
    calls = itertools.count()
    stop_after = 3

    def should_stop() -> StopReason | None:
        # Prefill makes a few calls too; count only those made during decoding.
        return StopReason.CANCELLED if next(calls) > stop_after + 10 else None

    gen = generate(spm_backend, prompt, GenerationRequest(max_tokens=200), should_stop=should_stop)
    assert gen.stop_reason is StopReason.CANCELLED
    assert gen.n_generated <= stop_after + 11


def test_cancel_before_decoding_generates_nothing(spm_backend: Backend) -> None:
    prompt = spm_backend.tokenize("x = 1\n" * 40)
    gen = generate(
        spm_backend,
        prompt,
        GenerationRequest(max_tokens=50),
        should_stop=lambda: StopReason.CANCELLED,
    )
    assert gen.stop_reason is StopReason.CANCELLED
    assert gen.n_generated == 0


def test_max_tokens_and_time_budget(spm_backend: Backend) -> None:
    prompt = spm_backend.tokenize("for i in range(10):")
    gen = generate(spm_backend, prompt, GenerationRequest(max_tokens=5, stop_ids=frozenset()))
    assert gen.n_generated <= 5
    timed = generate(spm_backend, prompt, GenerationRequest(max_tokens=10_000, time_budget_s=0.0))
    assert timed.stop_reason is StopReason.TIME
    assert timed.n_generated == 0


def test_prompt_longer_than_context_is_a_clear_error(spm_backend: Backend) -> None:
    prompt = [spm_backend.tokenize("a")[0]] * (spm_backend.n_ctx + 5)
    with pytest.raises(ContextOverflowError) as info:
        generate(spm_backend, prompt, GenerationRequest(max_tokens=4))
    assert "context" in info.value.message


def test_stop_sequence_is_cut_and_never_streamed(spm_backend: Backend) -> None:
    prompt = spm_backend.tokenize("def f():\n    return 1\n")
    free = generate(spm_backend, prompt, GenerationRequest(max_tokens=16))
    if len(free.text) < 3:
        pytest.skip("the random model ended at once; nothing to cut")
    stop = free.text[1:3]
    streamed: list[str] = []
    spm_backend.reset()
    cut = generate(
        spm_backend, prompt, GenerationRequest(max_tokens=16, stop=(stop,)), on_text=streamed.append
    )
    assert cut.stop_reason is StopReason.STOP
    assert stop not in cut.text
    assert cut.text == free.text[: free.text.index(stop)]
    assert "".join(streamed) == cut.text


def test_qwen_bpe_model_gets_the_qwen_template(qwen_bpe_model: Path) -> None:
    backend = _load(qwen_bpe_model, "auto")
    try:
        assert backend.name == "llamacpp"
        assert _template_for(backend) == "qwen"
        tpl = load_templates()["qwen"]
        tokens = fim_prompt_tokens(backend, tpl, "print(", ")\n")
        assert tokens[0] == backend.special_token_id("<|fim_prefix|>")
        assert tokens[-1] == backend.special_token_id("<|fim_middle|>")
        stops, stop_ids = fim_stops(backend, tpl)
        assert backend.special_token_id("<|endoftext|>") in stop_ids
        assert "<|file_sep|>" in stops
        gen = generate(
            backend, tokens, GenerationRequest(max_tokens=8, stop=stops, stop_ids=stop_ids)
        )
        assert not any(s in gen.text for s in stops)
    finally:
        backend.close()


def test_ctransformers_refuses_bpe_gguf_naming_the_backend_that_can(qwen_bpe_model: Path) -> None:
    with pytest.raises(UnsupportedModelError) as info:
        _load(qwen_bpe_model, "ctransformers")
    msg = info.value.user_message()
    assert str(qwen_bpe_model) in msg
    assert "qwen2" in msg
    assert "llamacpp" in msg


def test_legacy_ggml_starcoder_on_ctransformers(ggml_starcoder_model: Path) -> None:
    mf = read_model_file(ggml_starcoder_model)
    assert choose_backend(mf, "auto").backend == "ctransformers"
    with pytest.raises(UnsupportedModelError):
        choose_backend(mf, "llamacpp")
    backend = load_backend(
        ggml_starcoder_model, "auto", LoadOptions(n_ctx=256, n_threads=2, model_type="starcoder")
    )
    try:
        assert _template_for(backend) == "starcoder"
        tpl = load_templates()["starcoder"]
        tokens = fim_prompt_tokens(backend, tpl, "def f(", "):\n")
        assert tokens.count(backend.special_token_id("<fim_prefix>")) == 1
        first = generate(backend, tokens, GenerationRequest(max_tokens=4))
        second = generate(backend, tokens, GenerationRequest(max_tokens=4))
        assert first.tokens == second.tokens
        assert second.n_evaluated == 1
    finally:
        backend.close()


def test_one_file_for_both_roles_is_loaded_once(llama_spm_model: Path) -> None:
    spec = ModelSpec(llama_spm_model, "llamacpp", OPTS)
    engine = Engine(spec, spec)
    try:
        from hearth.engine.service import Role

        a = engine.load(Role.COMPLETION).result(timeout=60)
        b = engine.load(Role.CHAT).result(timeout=60)
        assert a is b
        memory = engine.memory()
        assert memory["total"] == memory["completion"] > llama_spm_model.stat().st_size // 2
    finally:
        engine.close()
