"""SARIF 2.1.0 output for `hearth review --format sarif`, as code-scanning tools read it.

One run, one rule per category, one result per finding with its line region and, when the
model proposed one, a fix that replaces exactly the finding's lines. A review whose output was
unusable is reported as a tool notification, never as a made-up result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hearth import __version__
from hearth.assist.findings import CATEGORIES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"error": "error", "warning": "warning", "info": "note", "hint": "note"}
_RULE_TEXT = {
    "bug": "Likely bug: code that does not do what it appears to intend.",
    "security": "Security issue: code an attacker or bad input could exploit.",
    "performance": "Performance problem: avoidable work or memory.",
    "readability": "Readability: code that is hard to follow or maintain.",
    "style": "Style: inconsistent or unidiomatic code.",
}


@dataclass(frozen=True)
class FileReview:
    """One reviewed range of one file, for reports (the CLI reviews several at once)."""

    path: str  # as given, relative to the working directory when possible
    text: str
    result: Any  # hearth.assist.assistant.ReviewResult


def _region(lines: Sequence[str], first: int, last: int) -> dict[str, int]:
    end_text = lines[last - 1].rstrip("\r") if 0 < last <= len(lines) else ""
    return {"startLine": first, "startColumn": 1, "endLine": last, "endColumn": len(end_text) + 1}


def to_sarif(reviews: Sequence[FileReview]) -> dict[str, Any]:
    rules = [
        {
            "id": f"hearth/{c}",
            "name": c.capitalize(),
            "shortDescription": {"text": _RULE_TEXT[c]},
        }
        for c in CATEGORIES
    ]
    results: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for review in reviews:
        lines = review.text.split("\n")
        artifact = {"uri": review.path.replace("\\", "/"), "uriBaseId": "%SRCROOT%"}
        for f in review.result.findings:
            region = _region(lines, f.line, f.end_line)
            result: dict[str, Any] = {
                "ruleId": f"hearth/{f.category}",
                "ruleIndex": CATEGORIES.index(f.category),
                "level": _LEVELS[f.severity],
                "message": {"text": f.message},
                "locations": [
                    {"physicalLocation": {"artifactLocation": artifact, "region": region}}
                ],
            }
            if f.replacement is not None:
                result["fixes"] = [
                    {
                        "description": {"text": "Replace with the suggested code"},
                        "artifactChanges": [
                            {
                                "artifactLocation": artifact,
                                "replacements": [
                                    {
                                        "deletedRegion": region,
                                        "insertedContent": {"text": f.replacement},
                                    }
                                ],
                            }
                        ],
                    }
                ]
            results.append(result)
        if review.result.parsed.malformed or review.result.parsed.dropped:
            notes.append(
                {
                    "level": "warning" if review.result.parsed.malformed else "note",
                    "message": {"text": f"{review.path}: {review.result.message}"},
                    "locations": [{"physicalLocation": {"artifactLocation": artifact}}],
                }
            )
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Hearth",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/hearth/",
                        "rules": rules,
                    }
                },
                "invocations": [invocation],
                "originalUriBaseIds": {
                    "%SRCROOT%": {"description": {"text": "The working directory"}}
                },
                "results": results,
            }
        ],
    }
