"""Inline credentials are masked in stored and prompted text, keeping every line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hearth
from hearth.index import redact as redact_module
from hearth.index.redact import has_secret, redact

SECRETS = [
    "AKIAIOSFODNN7EXAMPLQ",
    "ghp_" + "a1B2c3D4" * 5,
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "sk-proj-" + "Zx9" * 12,
    "AIza" + "B" * 35,
]


@pytest.mark.parametrize("secret", SECRETS)
def test_api_key_patterns_are_masked_in_place(secret: str) -> None:
    text = f'KEY = "{secret}"  # comment\nnext = 1\n'
    out = redact(text)
    assert secret not in out
    assert len(out) == len(text) and out.count("\n") == text.count("\n")
    assert out.endswith("# comment\nnext = 1\n")
    assert has_secret(text)


def test_private_key_block_keeps_its_lines() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nxyz\n-----END RSA PRIVATE KEY-----"
    text = f"KEY = '''\n{block}\n'''\nx = 2\n"
    out = redact(text)
    assert "MIIEowIBAAKCAQEA" not in out and "PRIVATE" not in out
    assert out.split("\n")[-2] == "x = 2" and out.count("\n") == text.count("\n")


def test_assigned_passwords_mask_the_value_only() -> None:
    text = 'db_password = "hunter2-correct"\napi_key: \'k-12345\'\nname = "public"\n'
    out = redact(text)
    assert "hunter2-correct" not in out and "k-12345" not in out
    assert out.startswith('db_password = "') and 'name = "public"' in out


def test_ordinary_code_is_untouched() -> None:
    text = "def tokenize(s):\n    skip = 'sk-short'\n    return s.split()\n"
    assert redact(text) == text and not has_secret(text)


# -- the fast path equals the plain regex passes --------------------------------------------
def _reference(text: str) -> str:
    """What `redact` computed before its literal pre-checks: every regex over all the text."""
    r = redact_module
    for _literals, pattern in r._PATTERNS:
        text = pattern.sub(lambda m: r._mask(m.group(0)), text)
    return r._ASSIGNED.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{r._mask(m.group(3))}{m.group(2)}", text
    )


_PIECES = [
    *SECRETS,
    "password",
    "PassWord",
    "pa\u017fsword",  # long s: the regex's case folding reads it as "s"
    "pwd",
    "secret",
    "api_key",
    "Api-Key",
    "accesskey",
    "TOKEN",
    "tok\u0130",
    "\u0131",
    "\u212a",
    "x.",
    "-",
    "_",
    " = ",
    ":",
    "=",
    '"',
    "'",
    "abcd",
    "hunter22",
    "\n",
    " ",
    "é",
    "-----BEGIN EC PRIVATE KEY-----",
    "-----END EC PRIVATE KEY-----",
    "ghp_",
    "sk-",
]


def test_fast_redact_equals_the_regex_passes() -> None:
    @settings(max_examples=3000, deadline=None, derandomize=True)
    @given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=30))
    def check(parts: list[str]) -> None:
        text = "".join(parts)
        assert redact(text) == _reference(text)

    check()


def test_fast_redact_equals_the_regex_passes_on_real_code() -> None:
    for path in sorted(Path(hearth.__file__).parent.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert redact(text) == _reference(text), path
