"""Tolerant parsing of review output: malformed text never becomes a finding."""

from __future__ import annotations

import pytest

from hearth.assist.findings import parse_review


def test_valid_findings_are_kept() -> None:
    text = (
        '{"findings": [{"line": 3, "end_line": 4, "severity": "warning", "category": "bug",'
        ' "message": "off by one", "replacement": "    return n - 1"}]}'
    )
    parsed = parse_review(text, 1, 10)
    assert parsed.malformed is None and parsed.dropped == []
    [f] = parsed.findings
    assert (f.line, f.end_line, f.severity, f.category) == (3, 4, "warning", "bug")
    assert f.replacement == "    return n - 1"
    assert parsed.message(1, 10) == "1 finding in lines 1-10"


def test_raw_newline_inside_a_string_and_code_fences() -> None:
    # What a grammar-constrained run on a random model really produced: a raw newline.
    text = '```json\n{"findings": [{"line": 2, "end_line": 2, "severity": "High",\n'
    text += ' "category": "Security", "message": "shell\ninjection", "replacement": null}]}\n```'
    [f] = parse_review(text, 1, 5).findings
    assert f.severity == "error" and f.category == "security" and f.message == "shell injection"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no text"),
        ("The code looks fine to me.", "not valid JSON"),
        ('{"findings": [{"line": 3, "end_line"', "not valid JSON"),  # cut by max_tokens
        ('{"problems": []}', 'no "findings"'),
        ('{"findings": "none"}', "not a list"),
    ],
)
def test_malformed_output_gives_no_findings_and_says_why(text: str, why: str) -> None:
    parsed = parse_review(text, 1, 10)
    assert parsed.findings == []
    assert parsed.malformed is not None and why in parsed.malformed
    assert parsed.message(1, 10).startswith("no usable findings")


def test_out_of_range_and_invalid_items_are_dropped_with_reasons() -> None:
    text = """{"findings": [
      {"line": 926, "end_line": 926, "severity": "error", "category": "bug", "message": "x"},
      {"line": 5, "end_line": 99, "severity": "error", "category": "bug", "message": "clamped"},
      {"line": 6, "end_line": 6, "severity": "fatal", "category": "bug", "message": "x"},
      {"line": 6, "end_line": 6, "severity": "info", "category": "vibes", "message": "x"},
      {"line": 6, "end_line": 6, "severity": "info", "category": "style", "message": " "},
      {"line": "7", "end_line": 2, "severity": "hint", "category": "style", "message": "ok",
       "replacement": "7: x = 1\\n"}
    ]}"""
    parsed = parse_review(text, 5, 8)
    assert [(f.line, f.end_line) for f in parsed.findings] == [(5, 8), (7, 7)]
    assert parsed.findings[1].replacement == "x = 1"  # copied line numbers stripped
    assert len(parsed.dropped) == 4
    assert "line 926 is outside lines 5-8" in parsed.dropped[0]
    assert "2 findings in lines 5-8" in parsed.message(5, 8)


def test_empty_list_is_no_findings_not_malformed() -> None:
    parsed = parse_review('{"findings": []}', 1, 3)
    assert parsed.malformed is None
    assert parsed.message(1, 3) == "no findings in lines 1-3"
