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

# Each pattern with a literal every match contains (case as written): a text without it
# skips the pattern. Masking runs on every completion request, so it must cost little on
# the common case of code without secrets (a 15 kB file: ~0.1 ms instead of ~4 ms).
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    # PEM private key blocks, whole (RSA, EC, OPENSSH, ENCRYPTED, plain PKCS#8).
    (
        ("-----BEGIN ",),
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
    ),
    (("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),  # AWS access key id
    (  # GitHub classic tokens
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
    ),
    (("github_pat_",), re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b")),  # fine-grained
    (("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),  # Slack tokens
    (("sk-",), re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}\b")),  # OpenAI / Anthropic
    (("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),  # Google API keys
)

# `password = "..."`, `api_key: '...'`, `SECRET_TOKEN="..."`: mask the quoted value only.
_ASSIGNED = re.compile(
    r"""(?ix)
    (\b[\w.-]*(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|token)[\w.-]*
     \s*[:=]\s*)
    (["'])([^"'\n]{4,})\2
    """
)
_KEYWORD = re.compile(r"(?i)p(?:assword|asswd|wd)|secret|api[_-]?key|access[_-]?key|token")
_KEYWORDS = (
    "password", "passwd", "pwd", "secret", "apikey", "api_key", "api-key",
    "accesskey", "access_key", "access-key", "token",
)  # fmt: skip


def _mask(secret: str) -> str:
    return "".join(ch if ch in "\r\n" else MASK for ch in secret)


def _keyword_starts(text: str) -> list[int]:
    """Where an `_ASSIGNED` match can start: at or before a keyword, in its run of
    `[\\w.-]` characters (the pattern's name part). Plain `find` on the lowered text
    where that finds what the regex's case folding finds (lowering keeps every position,
    and no `ſ`/`ı`, which fold to `s`/`i`, is present); the regex otherwise."""
    hits: list[int] = []
    lower = text.lower()
    if len(lower) == len(text) and "\u017f" not in text and "\u0131" not in text:
        for word in _KEYWORDS:
            i = lower.find(word)
            while i != -1:
                hits.append(i)
                i = lower.find(word, i + 1)
    else:
        hits = [m.start() for m in _KEYWORD.finditer(text)]
    starts: set[int] = set()
    for k in hits:
        s = k
        while s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_.-"):
            s -= 1
        starts.update(range(s, k + 1))
    return sorted(starts)


def _mask_assigned(text: str) -> str:
    """`_ASSIGNED.sub`, trying only the places where a match can start."""
    out: list[str] = []
    done = 0
    for p in _keyword_starts(text):
        if p < done:
            continue
        m = _ASSIGNED.match(text, p)
        if m is None:
            continue
        out.append(text[done : m.start()])
        out.append(f"{m.group(1)}{m.group(2)}{_mask(m.group(3))}{m.group(2)}")
        done = m.end()
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def redact(text: str) -> str:
    """`text`, same length and line structure, with every recognised secret masked."""
    for literals, pattern in _PATTERNS:
        if any(lit in text for lit in literals):
            text = pattern.sub(lambda m: _mask(m.group(0)), text)
    return _mask_assigned(text)


def has_secret(text: str) -> bool:
    """Whether `redact` would change `text`."""
    return redact(text) != text
