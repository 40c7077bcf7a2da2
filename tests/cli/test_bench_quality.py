"""`hearth bench quality`: the editor-like task, the execution scorer, the naive cut rules,
and the report's structure end to end on a small synthesized model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.bench import quality_bench as qb
from hearth.bench.quality_bench import Task

DATA = qb.default_data_dir()
needs_data = pytest.mark.skipif(
    not (DATA / qb.SET_FILES["single"]).is_file(),
    reason="../shared/benchmarks is absent: the HumanEval infilling files live beside the project",
)

PROMPT = 'def add(a: int, b: int) -> int:\n    """Sum; caf\u00e9 \U0001f600."""\n'
TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n"


def _task(canonical: str = "    return a + b\n", suffix: str = "") -> Task:
    return Task("Hand/0", "single", "add", PROMPT, suffix, canonical, TEST)


def test_document_is_the_line_after_enter_with_the_cursor_after_the_indent() -> None:
    task = _task(suffix="\n# end\n")
    doc = qb.editor_document(task)
    assert task.indent == "    "
    assert doc.text == PROMPT + "    \n" + "\n# end\n"
    assert doc.text[: doc.offset] == PROMPT + "    "
    assert (doc.line, doc.character) == (2, 4)
    assert qb.offset_at(doc.text, doc.line, doc.character) == doc.offset
    # UTF-16 columns: the emoji on line 1 counts two units.
    line1 = doc.text.split("\n")[1]
    end = qb.offset_at(doc.text, 1, len(line1.encode("utf-16-le")) // 2)
    assert doc.text[end] == "\n"
    tabbed = Task("t", "single", "f", "x\n", "", "\t\treturn 1\n", "")
    assert tabbed.indent == "\t\t"


def test_applying_a_completion_at_the_cursor_or_over_its_range() -> None:
    task = _task()
    doc = qb.editor_document(task)
    program = qb.apply_completion(doc, "return a + b")
    assert program == PROMPT + "    return a + b\n"
    assert qb.hole_text(program, task) == "    return a + b"
    assert qb.apply_completion(doc, "return a + b", ((2, 4), (2, 4))) == program
    # A range that replaces the auto-indent: the text replaces it.
    replaced = qb.apply_completion(doc, "  return a + b", ((2, 2), (2, 4)))
    assert replaced == PROMPT + "    return a + b\n"
    # An edit that reaches into the prompt has no hole text.
    assert qb.hole_text(qb.apply_completion(doc, "", ((1, 0), (2, 4))), task) is None


def test_execution_scorer_pass_fail_timeout_syntax() -> None:
    task = _task()
    good = qb.check_program(PROMPT + "    return a + b\n", task)
    assert good.passed and good.status == "pass"
    wrong = qb.check_program(PROMPT + "    return a - b\n", task)
    assert wrong.status == "fail" and "AssertionError" in wrong.detail
    slow = qb.check_program(PROMPT + "    while True:\n        pass\n", task, timeout_s=1.0)
    assert slow.status == "timeout"
    broken = qb.check_program(PROMPT + "    return a +\n", task)
    assert broken.status == "syntax" and "SyntaxError" in broken.detail
    # The candidate runs in a fresh temp folder, not where the bench was started.
    here = qb.check_program(PROMPT + "    import os\n    return len(os.listdir()) + 3\n", task)
    assert here.passed  # only its own file (and its stderr file) are there


def test_naive_cut_rules() -> None:
    assert qb.naive_cut("return x\n    y = 1\n", "single", "    ") == "return x"
    assert qb.naive_cut("\nreturn x", "single", "    ") == ""
    text = "for i in x:\n        y += i\n    return y\n\ndef g():\n"
    assert qb.naive_cut(text, "multi", "    ") == "for i in x:\n        y += i\n    return y"
    assert qb.naive_cut("y = 1\n  z = 2\n", "multi", "    ") == "y = 1"
    assert qb.naive_cut("y = 1\n\n    z = 2", "multi", "    ") == "y = 1"


def test_figures_of_one_suggestion() -> None:
    assert qb.exact_match("    return  a + b ", "    return  a + b\n")
    assert qb.exact_match("  if x:\n        y\n", "    if x:\n        y\n")
    assert not qb.exact_match("    return a+b", "    return a + b\n")
    suffix = "\n\n    return total\n    # done\n    x\n    never_reached\n"
    assert qb.repeats_suffix("total += 1\n    return total", suffix)
    assert not qb.repeats_suffix("never_reached()", suffix)
    assert not qb.repeats_suffix("\n", suffix)
    assert qb.has_template_text("x = 1<|fim_middle|>")
    assert qb.has_template_text("# Path: utils.py")
    assert not qb.has_template_text("x = a | b")
    assert qb.line_count("") == 0 and qb.line_count("a\nb\n") == 2


@needs_data
def test_the_canonical_solution_passes_in_the_editor_document() -> None:
    """The document construction and the scorer agree with the data: typing the hidden lines
    at the cursor gives a passing program, and an empty answer mostly fails."""
    for name, every in (("single", 150), ("multi", 900)):
        for task in qb.select(qb.load_tasks(DATA, name), every, None):
            doc = qb.editor_document(task)
            typed = task.canonical[len(task.indent) :].rstrip("\n")
            program = qb.apply_completion(doc, typed)
            assert program == task.prompt + task.canonical + task.suffix
            assert qb.exact_match(qb.hole_text(program, task) or "", task.canonical)
            assert qb.check_program(program, task).passed, task.task_id


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update({"HEARTH_CACHE_DIR": str(tmp_path / "c"), "HEARTH_CONFIG_DIR": str(tmp_path)})
    return env


@needs_data
def _bench_quality(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hearth", "bench", "quality", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=600,
    )


def test_quality_bench_reports_both_columns(qwen_bpe_model: Path, tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    args = ["--model", str(qwen_bpe_model), "--threads", "2", "--tasks", "both"]
    args += ["--every", "400", "--limit", "1", "--json", "--records", str(records)]
    args += ["--set", "contextBudgetTokens=256"]
    proc = _bench_quality(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report["sets"]) == {"single", "multi"}
    assert report["settings"] == {"contextBudgetTokens": 256}
    for s in report["sets"].values():
        assert s["tasks"] == 1
        for side in ("hearth", "naive"):
            col = s[side]
            assert set(col["pass_at_1"]) == {"count", "rate"}
            assert col["ms_p50"] is not None and col["ms_p50"] > 0
        assert "hearth_only_passed" in s and "naive_only_passed" in s
    assert "single 1/1" in proc.stderr and "pass@1 hearth" in proc.stderr
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert [r["set"] for r in rows] == ["single", "multi"]
    for r in rows:
        doc = r["document"]
        assert doc[: r["cursor"]["offset"]].endswith("\n" + " " * r["cursor"]["character"])
        assert {"pass", "check", "exact", "ms"} <= set(r["hearth"]) & set(r["naive"])
        assert r["server"].get("source")  # the server's own record came through
        if r["server"]["source"] == "model":
            assert r["hearth"]["raw_ms"] > 0 and r["hearth"]["ratio_to_raw"] > 0


def _bench(*more: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "hearth", "bench", "quality", "--model", "x.gguf", *more]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_quality_bench_explains_bad_input(tmp_path: Path) -> None:
    typo = _bench("--set", "contextBudgetTokns=64")
    assert typo.returncode != 0 and "unknown setting" in typo.stderr
    empty = _bench("--data", str(tmp_path))
    assert empty.returncode != 0 and "no benchmark data" in empty.stderr
    assert "Traceback" not in typo.stderr + empty.stderr


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "shapes.py").write_text(
        "def area_of_circle(radius: float) -> float:\n    return 3.14159 * radius * radius\n"
    )
    (root / "pkg" / "report.py").write_text(
        "from pkg.shapes import area_of_circle\n\n\n"
        "def describe(r: float) -> str:\n"
        "    total = area_of_circle(r)\n"
        "    return f'{total:.2f}'\n"
    )
    return root


def test_repo_points_hide_a_line_that_uses_a_name_from_another_file(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    points = qb.repo_points(root, 5)
    assert points, "the line calling area_of_circle should be found"
    pt = next(p for p in points if "area_of_circle" in p.names)
    assert pt.relpath == "pkg/report.py" and pt.truth == "total = area_of_circle(r)"
    lines = pt.text.split("\n")
    assert lines[pt.line] == "    " and pt.character == 4
    assert "area_of_circle(r)" not in pt.text
    assert qb.first_line("\n  total = area_of_circle(r)\n  x") == "total = area_of_circle(r)"
    assert qb.similarity("abc", "abc") == 1.0 and qb.similarity("", "abc") == 0.0


def test_repo_mode_reports_both_budgets(qwen_bpe_model: Path, tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    before = {p: p.read_bytes() for p in root.rglob("*.py")}
    args = ["--model", str(qwen_bpe_model), "--threads", "2", "--repo", str(root)]
    args += ["--points", "1", "--json", "--records", str(tmp_path / "r.jsonl")]
    proc = _bench_quality(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert list(report["modes"]) == [label for label, _ in qb.REPO_BUDGETS]
    for col in report["modes"].values():
        assert col["points"] == 1 and col["similarity_mean"] is not None
        assert set(col["exact_match"]) == {"count", "rate"}
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["mode"] for r in rows] == [label for label, _ in qb.REPO_BUDGETS]
    assert all(r["server"].get("source") for r in rows)
    assert {p: p.read_bytes() for p in root.rglob("*.py")} == before  # the tree is only read


# Measured with Gemma 3 270M Q4_K_M, greedy, 20 single-line tasks (every 50th), automatic
# trigger, time_budget_ms=60000 so a loaded machine cannot cut an answer short: Hearth 4
# passes, naive 4 (116 s on 2 cores). A run on an earlier tree (other completion code, the
# default time budget) had Hearth at 5.
GEMMA_SINGLE_EVERY_50_PASSES = 4
FLOOR_MARGIN = 1


@needs_data
def test_gemma_quality_floor_against_naive(gemma_model: Path) -> None:
    """Hearth's prompt, stops and postprocessing never do worse than the raw model on the
    same tasks, and stay near the measured pass count (greedy decoding is deterministic)."""
    report = qb.run_quality_bench(
        gemma_model,
        sets=("single",),
        every=50,
        limit=20,
        data_dir=DATA,
        threads=2,
        extra_options={"time_budget_ms": 60000},
        raw_reference=False,
    )
    s = report["sets"]["single"]
    hearth, naive = s["hearth"]["pass_at_1"]["count"], s["naive"]["pass_at_1"]["count"]
    assert s["tasks"] == 20
    assert hearth >= naive, s
    assert hearth >= GEMMA_SINGLE_EVERY_50_PASSES - FLOOR_MARGIN, s
    assert s["hearth"]["template_text"] == 0, s
