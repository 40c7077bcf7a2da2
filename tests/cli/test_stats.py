"""`hearth stats` reads what a real `hearth serve` recorded, and nothing leaves the machine.

A session with the hand-weighted model (`hearth.bench.scripted_fim`: a known suggestion every
time) serves suggestions from the model and from the cache; the client reports them shown,
accepted in whole (the item's command, as VS Code does) or in part (`acceptedLength`, as the
Neovim plugin does for a word) and rejected. Then `hearth stats` runs as a separate process on
the same store and must print exactly those counts, the acceptance rate and the latency
percentiles of the server's own request records. Server and CLI both run under a Python audit
hook that records every socket call, with HOME pointing at an empty folder: all that is
written there is in the user's cache folder (the store, and the model probe's record), and
it holds no code and no file names.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from hearth.bench.scripted_fim import SUGGESTION, write_scripted_completer
from hearth.completion.stats import StatsEvent, StatsStore

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp"))
from child_report import run_child
from completion_helpers import (
    NETWORK_AUDIT,
    completion_stats,
    inline,
    open_doc,
    start,
    wait_model,
)

AUDIT = NETWORK_AUDIT + "sys.exit(main(sys.argv[2:]))\n"
TEXT = "def total(values):\n    result = \n"
LINE, COL = 1, len("    result = ")
STORE = Path(".cache") / "hearth" / "stats" / "completions.jsonl"  # under HOME (XDG default)


@pytest.fixture(scope="session")
def scripted_model(models_dir: Path) -> Path:
    return write_scripted_completer(models_dir / "scripted-completer.gguf")


def _env(home: Path, **extra: str) -> dict[str, str]:
    """A user with an empty home: no HEARTH_* or XDG_* settings from the test runner."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEARTH_", "XDG_")) and k not in ("HOME", "PYTHONSTARTUP")
    }
    env["HOME"] = str(home)
    env.update(extra)
    return env


def _cli(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[str, list[Any]]:
    """`hearth ARGS` in its own process under the audit hook: (stdout, network calls)."""
    report = tmp_path / f"audit-cli-{time.monotonic_ns()}.json"
    # `env` is whole (see _env): what it left out must not come back from the runner's.
    drop = ("HEARTH_", "XDG_", "PYTHONSTARTUP")
    result, proc = run_child(AUDIT, report, args, env, drop=drop, timeout=120)
    assert proc.returncode == 0, proc.stderr
    network = result["network"]
    assert isinstance(network, list)
    return proc.stdout, network


def _sid(item: types.InlineCompletionItem) -> str:
    assert item.command is not None and item.command.arguments
    return str(item.command.arguments[0]["id"])


async def _ask(client: LanguageClient, uri: str, line: int, col: int) -> types.InlineCompletionItem:
    items = await inline(client, uri, line, col, explicit=False)
    assert len(items) == 1, items
    return items[0]


def _percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95 by linear interpolation, computed here independently of hearth."""
    if len(values) == 1:
        return values[0], values[0]
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94]


async def _session(client: LanguageClient, root: Path) -> list[dict[str, Any]]:
    """Serve, show, accept, reject; returns the server's request records."""
    notify = client.protocol.notify
    a = open_doc(client, root / "a.py", TEXT)
    b = open_doc(client, root / "b.py", TEXT)
    c = open_doc(client, root / "c.py", TEXT)

    # a: served by the model, shown (twice: a redraw counts once), accepted whole.
    item_a = await _ask(client, a, LINE, COL)
    assert item_a.insert_text == SUGGESTION
    notify("hearth/suggestionShown", {"uri": a, "id": _sid(item_a)})
    notify("hearth/suggestionShown", {"uri": a, "id": _sid(item_a)})
    assert item_a.command is not None
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=item_a.command.command, arguments=item_a.command.arguments
        )
    )
    # b: served by the model, its first word accepted; the rest, typed ahead from the cache,
    # is shown and rejected; a second partial accept of the same suggestion counts once.
    item_b = await _ask(client, b, LINE, COL)
    notify("hearth/suggestionShown", {"uri": b, "id": _sid(item_b)})
    notify("hearth/suggestionAccepted", {"uri": b, "id": _sid(item_b), "acceptedLength": 5})
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=b, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(LINE, COL), types.Position(LINE, COL)),
                    text=SUGGESTION[:5],
                )
            ],
        )
    )
    rest = await _ask(client, b, LINE, COL + 5)
    assert rest.insert_text == SUGGESTION[5:]
    notify("hearth/suggestionShown", {"uri": b, "id": _sid(rest)})
    notify("hearth/suggestionRejected", {"uri": b, "id": _sid(rest)})
    notify("hearth/suggestionAccepted", {"uri": b, "id": _sid(item_b), "acceptedLength": 3})
    # c: served by the model, shown, rejected.
    item_c = await _ask(client, c, LINE, COL)
    notify("hearth/suggestionShown", {"uri": c, "id": _sid(item_c)})
    notify("hearth/suggestionRejected", {"uri": c, "id": _sid(item_c)})
    stats = await completion_stats(client)  # answered after every notification above
    assert stats["counters"]["shown"] == 5 and stats["counters"]["accepted"] == 3
    records: list[dict[str, Any]] = stats["recent"]
    return records


async def test_stats_report_what_the_server_recorded_and_stay_local(
    scripted_model: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "ws"
    root.mkdir()
    env = _env(home)
    report = tmp_path / "audit-serve.json"
    client = LanguageClient()
    await client.start_io(sys.executable, "-c", AUDIT, str(report), "serve", env=env)
    await start(
        client,
        root,
        {
            "model": str(scripted_model),
            "indexDir": str(tmp_path / "index"),
            "speculative": False,
            "warmup": False,
            "debounceMs": 0,
        },
    )
    await wait_model(client)
    records = await _session(client, root)
    await client.shutdown_session()
    for _ in range(200):
        if report.exists():
            break
        await asyncio.sleep(0.05)
    assert json.loads(report.read_text())["network"] == []

    # Only the store (and the model probe's record of the model file, see
    # hearth.engine.probe), in the user's cache folder; no code and no names in them.
    written = sorted(p.relative_to(home) for p in home.rglob("*") if p.is_file())
    probes = [p for p in written if p.parent.name == "probes"]
    assert [p for p in written if p not in probes] == [STORE], written
    assert all(p.is_relative_to(STORE.parents[1]) for p in written), written  # .cache/hearth
    for path in (STORE, *probes):
        raw = (home / path).read_text()
        for secret in ("total", "result", "value", "None", "a.py", "ws", str(root)):
            assert secret not in raw, (path, secret)

    out, network = _cli(tmp_path, env, "stats", "--json")
    assert network == []
    summary = json.loads(out)
    assert summary["path"] == str(home / STORE)
    assert summary["served"] == 4
    assert summary["shown"] == 4  # a, b, b's typed-ahead rest, c (a's redraw not again)
    assert summary["accepted"] == 2  # a whole, b in two parts: one accepted suggestion
    assert summary["rejected"] == 2
    assert summary["acceptance_rate"] == 0.5
    assert summary["accepted_partial"] == 2
    assert summary["accepted_by_language"] == {"python": 2}
    assert summary["accepted_chars"] == len(SUGGESTION) + 5 + 3
    assert summary["shown_chars"] == 3 * len(SUGGESTION) + len(SUGGESTION) - 5
    model_ms = [r["server_ms"] for r in records if r["source"] == "model"]
    cache_ms = [r["server_ms"] for r in records if r["source"] == "typed-ahead"]
    assert len(model_ms) == 3 and len(cache_ms) == 1
    for src, values in (("model", model_ms), ("cache", cache_ms)):
        lat = summary["latency"][src]
        p50, p95 = _percentiles(values)
        assert lat["count"] == len(values)
        assert lat["p50_ms"] == pytest.approx(p50, abs=0.06), (src, values)
        assert lat["p95_ms"] == pytest.approx(p95, abs=0.06), (src, values)

    text, network = _cli(tmp_path, env, "stats")
    assert network == []
    assert f"local only: {home / STORE}" in text
    assert "shown 4, accepted 2, rejected 2" in text
    assert "acceptance rate    50.0%" in text
    lat = summary["latency"]
    assert f"p50 {lat['model']['p50_ms']} ms, p95 {lat['model']['p95_ms']} ms (3 requests)" in text
    assert f"p50 {lat['cache']['p50_ms']} ms, p95 {lat['cache']['p95_ms']} ms (1 requests)" in text
    assert "partial accepts    2" in text


def test_stats_follow_hearth_cache_dir_days_and_reset(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = cache / "stats" / "completions.jsonl"
    store = StatsStore(path)
    for ms in (10.0, 20.0, 30.0, 40.0):
        store.record(StatsEvent("served", "model", ms, "python"))
    store.record(StatsEvent("shown", length=10))
    store.record(StatsEvent("accepted", language="python", accepted_chars=10, length=10))
    # An old row, outside --days 1.
    old = {"t": time.time() - 3 * 86400, "e": "served", "src": "model", "ms": 999.0}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(old) + "\n")
    env = _env(tmp_path / "home", HEARTH_CACHE_DIR=str(cache))

    out, network = _cli(tmp_path, env, "stats", "--json")
    everything = json.loads(out)
    assert network == [] and everything["path"] == str(path)
    assert everything["served"] == 5 and everything["latency"]["model"]["p95_ms"] > 100
    out, _ = _cli(tmp_path, env, "stats", "--json", "--days", "1")
    recent = json.loads(out)
    assert recent["served"] == 4 and recent["acceptance_rate"] == 1.0
    assert recent["latency"]["model"] == {"count": 4, "p50_ms": 25.0, "p95_ms": 38.5}
    assert recent["accepted_by_language"] == {"python": 1}

    out, _ = _cli(tmp_path, env, "stats", "--reset")
    assert str(path) in out and not path.exists()
    out, _ = _cli(tmp_path, env, "stats", "--json")
    assert json.loads(out)["served"] == 0
    assert not (tmp_path / "home").exists()  # nothing was written outside HEARTH_CACHE_DIR
