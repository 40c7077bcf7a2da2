"""Inline credentials are masked in stored and prompted text, keeping every line and column."""

from __future__ import annotations

import pytest

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
