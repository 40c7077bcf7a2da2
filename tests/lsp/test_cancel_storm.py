"""Cancellation storm against a real `hearth serve` with a synthesized model.

Inline completions are sent one after another, each cancelled with `$/cancelRequest` after a
random 0–50 ms, while `didChange` edits arrive at 20 per second. Every request must end with
a result, RequestCancelled (-32800) or ContentModified (-32801), exactly once; a generation
must stop within 250 ms of its cancel (the inference worker times each running job from its
cancel to its end: `completion.cancel_stops` in `hearth/status`; every 10th cancel is also
timed from the client, until `hearth/status` says the model is idle); and the server must hold
as many threads after the storm as before it (/proc/<pid>/task).

Default runs send 100 requests; `pytest -m soak` (or HEARTH_SOAK=1) sends 1,000.
"""

from __future__ import annotations

import os
import queue
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hearth.bench import synth

sys.path.insert(0, str(Path(__file__).parent))
from generated import soak_selected
from rawlsp import RawServer

DEFAULT_REQUESTS = 100
SOAK_REQUESTS = 1_000
EDIT_INTERVAL_S = 0.05  # 20 edits per second
CANCEL_AFTER_S = (0.0, 0.05)
PROBE_EVERY = 10  # every 10th cancel is also timed end to end from the client
STOP_LIMIT_MS = 250.0
REQUEST_CANCELLED = -32800
CONTENT_MODIFIED = -32801

# The cursor line grows by one character per edit; requests ask at its end.
HEAD = 'import os\n\n\ndef total(items):\n    """Sum the items."""\n    result = 0\n'
TAIL = "\n    return result\n\n\nclass Box:\n    def get(self):\n        return self.value\n"
TYPED = "for item in items: result += item  # "


@pytest.fixture(scope="session")
def storm_model(models_dir: Path) -> Path:
    """A qwen2 model on which 24 tokens take about as long as the 0–50 ms before a cancel."""
    return synth.write_qwen_bpe(
        models_dir / "qwen-bpe-storm.gguf", n_embd=256, n_layer=4, n_ff=1024, n_ctx=2048
    )


def threads(pid: int) -> list[str]:
    names = []
    for task in sorted(os.listdir(f"/proc/{pid}/task")):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as fh:
                names.append(fh.read().strip())
        except OSError:  # the thread ended meanwhile
            continue
    return names


@dataclass
class Client:
    server: RawServer
    uri: str
    version: int = 1
    line: str = "    "
    calls: int = 0
    answers: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)

    def take(self, timeout: float = 0.0) -> None:
        """Collect whatever the server sent (waiting up to `timeout` for the first)."""
        try:
            m = (
                self.server.messages.get(timeout=timeout)
                if timeout
                else self.server.messages.get_nowait()
            )
        except queue.Empty:
            return
        while m is not None:
            if "method" not in m:
                self.answers.setdefault(m.get("id"), []).append(m)
            elif "id" in m:  # a request from the server: answer it
                self.server.send({"jsonrpc": "2.0", "id": m["id"], "result": None})
            try:
                m = self.server.messages.get_nowait()
            except queue.Empty:
                return
        raise AssertionError(self.server.stderr.decode(errors="replace")[-3000:])

    def request(self, method: str, params: Any, msg_id: Any) -> None:
        self.server.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})

    def wait(self, msg_id: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while msg_id not in self.answers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer to {msg_id!r}")
            self.take(0.05)
        return self.answers[msg_id][0]

    def call(self, method: str, params: Any) -> Any:
        """Send a request and wait for its result."""
        self.calls += 1
        msg_id = f"call-{self.calls}"
        self.request(method, params, msg_id)
        return self.wait(msg_id)["result"]

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("hearth/status", {})
        return result

    def idle_after(self, since: float, within_s: float = 2.0) -> float | None:
        """Poll until the model is idle: ms from `since`, or None if it stays busy."""
        while time.monotonic() - since < within_s:
            if not self.status()["busy"]:
                return (time.monotonic() - since) * 1000
            time.sleep(0.002)
        return None

    def position(self) -> dict[str, int]:
        return {"line": HEAD.count("\n"), "character": len(self.line)}

    def edit(self) -> None:
        """Type the next character at the end of the cursor line."""
        char = TYPED[(self.version - 1) % len(TYPED)]
        pos = self.position()
        self.version += 1
        self.line += char
        self.server.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"range": {"start": pos, "end": pos}, "text": char}],
            },
        )

    def inline(self, msg_id: Any, explicit: bool) -> None:
        params = {
            "textDocument": {"uri": self.uri},
            "position": self.position(),
            "context": {"triggerKind": 1 if explicit else 2},
        }
        self.request("textDocument/inlineCompletion", params, msg_id)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, storm_model: Path) -> Iterator[Client]:
    tmp = tmp_path_factory.mktemp("cancel-storm")
    root = tmp / "ws"
    root.mkdir()
    server = RawServer(tmp)
    options = {
        "model": str(storm_model),
        "indexDir": str(tmp / "index"),
        "completionStats": False,
        "speculative": False,
        "warmup": False,
        "debounceMs": 0,
        "multiline": "always",
        "maxTokens": 24,
        "timeBudgetMs": 10000,
        "explicitCandidates": 1,
        "threads": 1,  # 2 threads on a busy 2-core machine: cancel-to-stop p95 ~360 ms
    }
    try:
        init = {
            "processId": None,
            "rootUri": root.as_uri(),
            "capabilities": {"textDocument": {"inlineCompletion": {}}},
            "initializationOptions": options,
        }
        assert "result" in server.request("initialize", init)
        server.notify("initialized", {})
        uri = (root / "storm.py").as_uri()
        c = Client(server, uri)
        for _ in range(600):
            state = c.status()["model"]["state"]
            if state == "ready":
                break
            assert state != "error"
            time.sleep(0.05)
        doc = {"uri": uri, "languageId": "python", "version": 1, "text": HEAD + c.line + TAIL}
        server.notify("textDocument/didOpen", {"textDocument": doc})
        yield c
    finally:
        server.close()


def soak(config: pytest.Config) -> bool:
    return soak_selected(config) or os.environ.get("HEARTH_SOAK") == "1"


def settle_threads(pid: int, want: int, within_s: float = 5.0) -> list[str]:
    deadline = time.monotonic() + within_s
    names = threads(pid)
    while len(names) != want and time.monotonic() < deadline:
        time.sleep(0.1)
        names = threads(pid)
    return names


def run_storm(c: Client, count: int, seed: int) -> None:
    rng = random.Random(seed)
    pid = c.server.proc.pid
    # Warm up: one full completion, so the model's own threads exist before counting.
    c.inline(f"warm-{seed}", explicit=True)
    assert "result" in c.wait(f"warm-{seed}", 60)
    time.sleep(0.5)
    before = threads(pid)
    stops_before = c.status()["completion"]["cancel_stops"].get("count", 0)
    c.call("hearth/completionStats", {"reset": True})

    ids = [f"c{seed}-{i}" for i in range(count)]
    end_to_end: list[float] = []  # ms from sending a cancel to seeing the model idle
    next_edit = time.monotonic()
    edits = 0
    start = time.monotonic()
    for n, msg_id in enumerate(ids):
        c.inline(msg_id, explicit=rng.random() < 0.75)
        cancel_at = time.monotonic() + rng.uniform(*CANCEL_AFTER_S)
        while True:
            now = time.monotonic()
            if now >= next_edit:
                c.edit()
                edits += 1
                next_edit += EDIT_INTERVAL_S
                continue
            if now >= cancel_at:
                break
            c.take()
            time.sleep(max(0.0, min(cancel_at, next_edit) - now))
        c.server.notify("$/cancelRequest", {"id": msg_id})
        if n % PROBE_EVERY == PROBE_EVERY - 1 or msg_id == ids[-1]:
            # Every so often (and after the last), watch this cancel end to end, as the
            # client sees it: an upper bound that includes the pipe and the event loop.
            idle = c.idle_after(time.monotonic())
            assert idle is not None, f"the model was still busy 2 s after cancelling {msg_id}"
            end_to_end.append(idle)
            next_edit = max(next_edit, time.monotonic())
    elapsed = time.monotonic() - start
    for msg_id in ids:
        c.wait(msg_id, 30)
    c.take(0.3)

    outcomes: Counter[str] = Counter()
    for msg_id in ids:
        got = c.answers[msg_id]
        assert len(got) == 1, (msg_id, got)
        m = got[0]
        code = m.get("error", {}).get("code")
        if "result" in m and "error" not in m:
            outcomes["result" if m["result"] else "result (empty)"] += 1
        elif code in (REQUEST_CANCELLED, CONTENT_MODIFIED):
            outcomes[str(code)] += 1
        else:
            raise AssertionError(f"{msg_id}: neither a result nor -32800/-32801: {m}")
    stops = c.status()["completion"]["cancel_stops"]
    sources = Counter(r.get("source") for r in c.call("hearth/completionStats", {})["recent"])
    names = settle_threads(pid, len(before))
    e2e = sorted(end_to_end)
    print(
        f"\ncancel storm: {count} requests in {elapsed:.1f} s with {edits} edits "
        f"({edits / elapsed:.1f}/s); outcomes {dict(sorted(outcomes.items()))}; "
        f"server-side sources {dict(sources)}; "
        f"generations stopped by a cancel: {stops.get('count', 0) - stops_before}, "
        f"cancel-to-stop on the worker max {stops.get('max_ms')} ms, p95 {stops.get('p95_ms')} ms; "
        f"client side, cancel sent to model idle ({len(e2e)} probes): max {e2e[-1]:.1f} ms, "
        f"median {e2e[len(e2e) // 2]:.1f} ms; threads before {len(before)}, after {len(names)}"
    )
    assert sum(outcomes.values()) == count
    assert stops.get("count", 0) > stops_before, "no cancel reached a running generation"
    assert stops["max_ms"] <= STOP_LIMIT_MS, stops
    # The client-side figure adds the pipe, the event loop and a status round trip, all open
    # to a busy machine's scheduling: its median must meet the limit, its worst case not hang.
    assert e2e[len(e2e) // 2] <= STOP_LIMIT_MS and e2e[-1] <= 4 * STOP_LIMIT_MS, e2e
    assert sorted(names) == sorted(before), (Counter(names) - Counter(before), before)
    assert c.server.proc.poll() is None


def test_cancel_storm(client: Client) -> None:
    run_storm(client, DEFAULT_REQUESTS, seed=1)


@pytest.mark.soak
def test_cancel_storm_soak(client: Client, request: pytest.FixtureRequest) -> None:
    if not soak(request.config):
        pytest.skip(
            "full-count cancellation storm: select it with `pytest -m soak` or HEARTH_SOAK=1"
        )
    run_storm(client, SOAK_REQUESTS, seed=2)
