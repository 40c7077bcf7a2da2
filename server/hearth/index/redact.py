"""Mask well-known credential shapes in text that Hearth stores or shows.

Secret *files* (`.env`, `*.pem`, `id_*`, ...) are never read: the walker refuses them. A token
pasted inline into ordinary code is not caught by that, so indexed chunk text passes through
`redact` before it is written, and so does every text a prompt is built from (open documents,
files read for context). The patterns are the widely published ones (AWS access key ids,
GitHub and Slack tokens, OpenAI and Google keys, PEM private key blocks, `password = "..."`
style assignments). Each character of a match becomes `*` (line breaks stay), so nothing of the
secret survives while every line and column stays where it was: cursor positions computed on
the editor's text remain valid on the redacted one.
"""

from __future__ import annotations

import re

MASK = "*"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # PEM private key blocks, whole (RSA, EC, OPENSSH, ENCRYPTED, plain PKCS#8).
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
    ),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),  # GitHub classic tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),  # GitHub fine-grained tokens
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),  # Slack tokens
    re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}\b"),  # OpenAI / Anthropic keys
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API keys
)

# `password = "..."`, `api_key: '...'`, `SECRET_TOKEN="..."`: mask the quoted value only.
_ASSIGNED = re.compile(
    r"""(?ix)
    (\b[\w.-]*(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|token)[\w.-]*
     \s*[:=]\s*)
    (["'])([^"'\n]{4,})\2
    """
)


def _mask(secret: str) -> str:
    return "".join(ch if ch in "\r\n" else MASK for ch in secret)


def redact(text: str) -> str:
    """`text`, same length and line structure, with every recognised secret masked."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: _mask(m.group(0)), text)
    return _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}{_mask(m.group(3))}{m.group(2)}", text)


def has_secret(text: str) -> bool:
    """Whether `redact` would change `text`."""
    return redact(text) != text
