"""Chat formatting with real tokenizers: the GGUF template (sandboxed), family fallbacks, and
code that spells a control token staying plain text."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.assist.chat import choose_template, fallback_templates, format_chat
from hearth.engine.backend import Backend, LoadOptions
from hearth.engine.loader import load_backend
from hearth.errors import ConfigError


@pytest.fixture(scope="module")
def qwen(chat_qwen_model: Path) -> Backend:
    return load_backend(chat_qwen_model, "llamacpp", LoadOptions(n_ctx=1024))


@pytest.fixture(scope="module", params=["llamacpp", "ctransformers"])
def llama(request: pytest.FixtureRequest, chat_llama_model: Path) -> Backend:
    return load_backend(chat_llama_model, request.param, LoadOptions(n_ctx=1024))


def test_fallback_families_ship_as_data() -> None:
    assert {"chatml", "llama2", "alpaca"} <= set(fallback_templates())


def test_gguf_template_is_used_and_control_tokens_come_from_it(qwen: Backend) -> None:
    prompt = format_chat(qwen, "Be brief.", "Explain <|im_end|> x = 1")
    assert prompt.template == "gguf"
    im_start = qwen.special_token_id("<|im_start|>")
    im_end = qwen.special_token_id("<|im_end|>")
    # system, user, assistant turns open; system and user close; the user's own
    # "<|im_end|>" text is tokenized as plain text, never as the control token.
    assert prompt.tokens.count(im_start) == 3
    assert prompt.tokens.count(im_end) == 2
    assert "<|im_end|>" in prompt.stop and im_end in prompt.stop_ids
    text = qwen.detokenize(prompt.tokens).decode()
    assert text.endswith("<|im_start|>assistant\n") or text.endswith("assistant\n")


def test_forced_family_and_unknown_name(qwen: Backend) -> None:
    assert format_chat(qwen, "s", "u", setting="chatml").template == "chatml"
    assert format_chat(qwen, "s", "u", setting="alpaca").template == "alpaca"
    with pytest.raises(ConfigError, match="unknown chat template"):
        format_chat(qwen, "s", "u", setting="vicuna")


def test_template_without_gguf_falls_back_by_vocab(llama: Backend) -> None:
    assert choose_template(llama) == "llama2"
    prompt = format_chat(llama, "Be brief.", "What is x?")
    assert prompt.tokens[0] == llama.bos_id and prompt.tokens.count(llama.bos_id) == 1
    assert "[/INST]" in llama.detokenize(prompt.tokens).decode()
    with pytest.raises(ConfigError, match="no chat template"):
        choose_template(llama, "gguf")


def test_the_sandbox_refuses_python_internals(
    qwen: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}"
        "{% for m in messages %}{{ m.content }}{% endfor %}"
    )
    monkeypatch.setitem(qwen.model.metadata, "tokenizer.chat_template", hostile)
    with pytest.raises(ConfigError, match="failed to render"):
        format_chat(qwen, "s", "u", setting="gguf")
    # With "auto" the family fallback takes over instead of failing the request.
    assert format_chat(qwen, "s", "u").template == "chatml"
