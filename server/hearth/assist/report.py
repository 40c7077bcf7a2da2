"""Plain-text review reports and the CI exit decision for `hearth review`."""

from __future__ import annotations

from collections.abc import Sequence

from hearth.assist.findings import SEVERITIES
from hearth.assist.sarif import FileReview

FAIL_ON = (*SEVERITIES, "never")


def format_text(reviews: Sequence[FileReview]) -> str:
    """Compiler-style lines (`path:line: severity [category] message`) plus suggested fixes."""
    out: list[str] = []
    for review in reviews:
        result = review.result
        for f in result.findings:
            where = f"{f.line}" if f.end_line == f.line else f"{f.line}-{f.end_line}"
            out.append(f"{review.path}:{where}: {f.severity} [{f.category}] {f.message}")
            if f.replacement is not None:
                out.append("  suggested replacement:")
                out.extend(f"  | {ln}" for ln in f.replacement.split("\n"))
        if not result.findings or result.parsed.dropped:
            out.append(f"{review.path}:{result.first}-{result.last}: {result.message}")
    return "\n".join(out)


def should_fail(reviews: Sequence[FileReview], fail_on: str) -> bool:
    """True when a finding is at least as severe as `fail_on` (`never`: never fail)."""
    if fail_on == "never":
        return False
    limit = SEVERITIES.index(fail_on)
    return any(SEVERITIES.index(f.severity) <= limit for r in reviews for f in r.result.findings)
