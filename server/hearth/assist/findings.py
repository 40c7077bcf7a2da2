"""Structured review findings: the JSON schema the model is held to, and a tolerant parser.

Even grammar-constrained output can be wrong (a raw newline inside a string, a line number far
outside the file), so the parser accepts what JSON allows loosely, validates every finding
against the schema and the reviewed lines, keeps the ones that fit, and says why it dropped the
others. It never makes a finding up: no usable JSON means no findings and a clear message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from hearth.assist.sanitize import sanitize

SEVERITIES = ("error", "warning", "info", "hint")
CATEGORIES = ("bug", "security", "performance", "readability", "style")
MAX_FINDINGS = 20

# Words models use for severities, mapped onto the four LSP ones.
_SEVERITY_ALIASES = {
    "critical": "error",
    "high": "error",
    "major": "error",
    "medium": "warning",
    "warn": "warning",
    "moderate": "warning",
    "low": "info",
    "minor": "info",
    "note": "info",
    "information": "info",
    "suggestion": "hint",
}

FINDINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "maxItems": MAX_FINDINGS,
            "items": {
                "type": "object",
                "properties": {
                    "line": {"type": "integer"},
                    "end_line": {"type": "integer"},
                    "severity": {"enum": list(SEVERITIES)},
                    "category": {"enum": list(CATEGORIES)},
                    "message": {"type": "string"},
                    "replacement": {"type": ["string", "null"]},
                },
                "required": ["line", "end_line", "severity", "category", "message", "replacement"],
            },
        }
    },
    "required": ["findings"],
}


def schema_json() -> str:
    return json.dumps(FINDINGS_SCHEMA)


@dataclass(frozen=True)
class Finding:
    """One problem on lines `line`..`end_line` (1-based, inclusive) of the reviewed file."""

    line: int
    end_line: int
    severity: str
    category: str
    message: str
    replacement: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "end_line": self.end_line,
            "severity": self.severity,
            "category": self.category,
            "message": self.message,
            "replacement": self.replacement,
        }


@dataclass
class ParsedReview:
    findings: list[Finding] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # why each unusable finding was dropped
    malformed: str | None = None  # why the output as a whole could not be read

    def message(self, first: int, last: int) -> str:
        """One sentence for the user about what came back."""
        n = len(self.findings)
        if self.malformed:
            return f"no usable findings: {self.malformed}"
        if n == 0 and self.dropped:
            return (
                f"no usable findings: the model's {len(self.dropped)} finding(s) did not fit "
                f"lines {first}-{last} or the schema ({'; '.join(self.dropped[:3])})"
            )
        if n == 0:
            return f"no findings in lines {first}-{last}"
        text = f"{n} finding{'s' if n != 1 else ''} in lines {first}-{last}"
        if self.dropped:
            text += f" ({len(self.dropped)} unusable dropped: {'; '.join(self.dropped[:3])})"
        return text


def _extract_json(text: str) -> Any:
    """The first JSON value in `text`, tolerating code fences, chatter and raw control chars."""
    decoder = json.JSONDecoder(strict=False)
    cleaned = re.sub(r"```(?:json)?", "", text)
    for m in re.finditer(r"[\[{]", cleaned):
        try:
            value, _ = decoder.raw_decode(cleaned, m.start())
        except json.JSONDecodeError:
            continue
        return value
    raise ValueError("no JSON object or list in it")


def _describe(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        return "the model returned no text"
    snippet = stripped[:60].replace("\n", " ") + ("..." if len(stripped) > 60 else "")
    return f"the model's output is not valid JSON ({snippet!r})"


_NUMBERED = re.compile(r"^\s*\d+\s*[:|] ?")


# Control characters and bidirectional overrides have no place in a suggested edit: they can
# make code read differently from what it does ("Trojan Source"). Tabs and line ends stay.
_UNSAFE_IN_CODE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean_replacement(value: str) -> str:
    """Drop line-number prefixes a model copied from the prompt, one trailing newline, and
    control characters."""
    lines = _UNSAFE_IN_CODE.sub("", value).split("\n")
    if lines and all(_NUMBERED.match(ln) for ln in lines if ln.strip()):
        lines = [_NUMBERED.sub("", ln, count=1) for ln in lines]
    out = "\n".join(lines)
    return out[:-1] if out.endswith("\n") else out


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _finding(item: Any, first: int, last: int) -> Finding | str:
    """A validated finding, or the reason it is unusable."""
    if not isinstance(item, dict):
        return "not an object"
    line = _as_int(item.get("line"))
    if line is None:
        return "no line number"
    end = _as_int(item.get("end_line", line))
    end = line if end is None or end < line else end
    if line < first or line > last:
        return f"line {line} is outside lines {first}-{last}"
    # A finding running past the reviewed lines keeps its first part, but not its fix: that
    # text was written for lines outside the range, which a fix must never touch.
    past_range = end > last
    end = min(end, last)
    severity = str(item.get("severity", "")).strip().lower()
    severity = _SEVERITY_ALIASES.get(severity, severity)
    if severity not in SEVERITIES:
        return f"unknown severity {item.get('severity')!r}"
    category = str(item.get("category", "")).strip().lower()
    if category not in CATEGORIES:
        return f"unknown category {item.get('category')!r}"
    message = item.get("message")
    if not isinstance(message, str):
        return "no message"
    message = sanitize(" ".join(message.split()))  # shown in editors: untrusted markdown
    if not message.strip():
        return "no message"
    replacement = item.get("replacement")
    if replacement is not None and not isinstance(replacement, str):
        return "replacement is not text"
    return Finding(
        line=line,
        end_line=end,
        severity=severity,
        category=category,
        message=message,
        replacement=(
            _clean_replacement(replacement) if replacement is not None and not past_range else None
        ),
    )


def parse_review(text: str, first: int, last: int) -> ParsedReview:
    """Findings from the model's `text` that fit lines `first`..`last` (1-based, inclusive)."""
    out = ParsedReview()
    try:
        value = _extract_json(text)
    except ValueError:
        out.malformed = _describe(text)
        return out
    if isinstance(value, dict):
        items = value.get("findings")
        if items is None:
            out.malformed = 'the model\'s JSON has no "findings" list'
            return out
    else:
        items = value
    if not isinstance(items, list):
        out.malformed = 'the model\'s "findings" is not a list'
        return out
    seen: set[tuple[int, int, str]] = set()
    for i, item in enumerate(items[:MAX_FINDINGS], 1):
        result = _finding(item, first, last)
        if isinstance(result, str):
            out.dropped.append(f"finding {i}: {result}")
            continue
        key = (result.line, result.end_line, result.message)
        if key not in seen:
            seen.add(key)
            out.findings.append(result)
    if len(items) > MAX_FINDINGS:
        out.dropped.append(f"{len(items) - MAX_FINDINGS} findings over the limit of {MAX_FINDINGS}")
    return out
