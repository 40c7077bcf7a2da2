"""Bursts of file events become one batch."""

from __future__ import annotations

import threading

from hearth.index.watcher import ChangeBatcher


def test_a_burst_is_flushed_once() -> None:
    batches: list[list[str]] = []
    done = threading.Event()

    def flush(paths: list[str]) -> None:
        batches.append(paths)
        done.set()

    batcher = ChangeBatcher(flush, quiet_s=0.05, max_wait_s=5)
    for i in range(3000):
        batcher.add(f"src/f{i % 1000}.py")
    assert done.wait(5)
    batcher.close()
    assert len(batches) == 1
    assert len(batches[0]) == 1000


def test_a_never_ending_stream_still_flushes_by_max_wait() -> None:
    batches: list[list[str]] = []
    done = threading.Event()
    batcher = ChangeBatcher(lambda p: (batches.append(p), done.set()), quiet_s=10, max_wait_s=0.1)
    batcher.add("a.py")
    assert done.wait(5)
    batcher.close()
    assert batches == [["a.py"]]
