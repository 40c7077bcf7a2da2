"""InferenceWorker with plain job functions: one at a time, priorities, supersede, preemption."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from typing import Any

import pytest

from hearth.engine.generate import StopReason
from hearth.engine.worker import InferenceWorker, JobControl, JobPreempted, Priority

TIMEOUT = 5.0


@pytest.fixture
def worker() -> Iterator[InferenceWorker]:
    w = InferenceWorker(name="test-worker")
    yield w
    w.shutdown(wait=True)


def wait(event: threading.Event) -> None:
    assert event.wait(TIMEOUT), "timed out waiting for the worker"


def blocker(started: threading.Event, release: threading.Event) -> Callable[[JobControl], Any]:
    """A job that says it runs, then holds the worker until released; returns its stop state."""

    def job(control: JobControl) -> StopReason | None:
        started.set()
        wait(release)
        return control.check()

    return job


def recorder(log: list[str], name: str, value: Any = None) -> Callable[[JobControl], Any]:
    def job(control: JobControl) -> Any:
        log.append(name)
        return value if value is not None else name

    return job


def test_jobs_run_one_at_a_time(worker: InferenceWorker) -> None:
    lock = threading.Lock()
    active = 0
    peak = 0
    done: list[int] = []

    def make(i: int) -> Callable[[JobControl], int]:
        def job(control: JobControl) -> int:
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            # Let other threads run (and submit) while this job is active.
            threading.Event().wait(0.001)
            with lock:
                active -= 1
                done.append(i)
            return i * i

        return job

    handles: list[Any] = []
    handles_lock = threading.Lock()

    def submit_many(base: int) -> None:
        for i in range(base, base + 10):
            handle = worker.submit(make(i), priority=Priority(i % 3))
            with handles_lock:
                handles.append((i, handle))

    submitters = [threading.Thread(target=submit_many, args=(b,)) for b in (0, 10, 20)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    for i, handle in handles:
        assert handle.result(TIMEOUT) == i * i
    assert peak == 1
    assert sorted(done) == list(range(30))
    assert worker.pending() == 0


def test_completion_runs_before_queued_chat(worker: InferenceWorker) -> None:
    started, release = threading.Event(), threading.Event()
    order: list[str] = []
    first = worker.submit(blocker(started, release))
    wait(started)
    chat_a = worker.submit(recorder(order, "chat-a"), priority=Priority.CHAT)
    background = worker.submit(recorder(order, "background"), priority=Priority.BACKGROUND)
    chat_b = worker.submit(recorder(order, "chat-b"), priority=Priority.CHAT)
    completion = worker.submit(recorder(order, "completion"), priority=Priority.COMPLETION)
    assert worker.pending() == 5
    release.set()
    for handle in (first, chat_a, background, chat_b, completion):
        handle.result(TIMEOUT)
    assert order == ["completion", "chat-a", "chat-b", "background"]


def test_supersede_cancels_queued_job_of_same_group(worker: InferenceWorker) -> None:
    started, release = threading.Event(), threading.Event()
    order: list[str] = []
    first = worker.submit(blocker(started, release), group="other")
    wait(started)
    old = worker.submit(recorder(order, "old"), group="doc.py")
    unrelated = worker.submit(recorder(order, "unrelated"), group="other.py")
    new = worker.submit(recorder(order, "new"), group="doc.py", supersede=True)
    assert old.future.cancelled()
    release.set()
    assert new.result(TIMEOUT) == "new"
    assert unrelated.result(TIMEOUT) == "unrelated"
    assert first.result(TIMEOUT) is None  # a different group is not touched
    assert order == ["unrelated", "new"]
    with pytest.raises(CancelledError):
        old.result(TIMEOUT)


def test_supersede_cancels_running_job_of_same_group(worker: InferenceWorker) -> None:
    started, release = threading.Event(), threading.Event()
    running = worker.submit(blocker(started, release), group="doc.py")
    wait(started)
    newer = worker.submit(lambda control: "newer", group="doc.py", supersede=True)
    release.set()
    assert running.result(TIMEOUT) is StopReason.CANCELLED
    assert newer.result(TIMEOUT) == "newer"


def test_without_supersede_same_group_both_run(worker: InferenceWorker) -> None:
    started, release = threading.Event(), threading.Event()
    running = worker.submit(blocker(started, release), group="doc.py")
    wait(started)
    queued = worker.submit(lambda control: "second", group="doc.py")
    release.set()
    assert running.result(TIMEOUT) is None
    assert queued.result(TIMEOUT) == "second"


def test_preempted_chat_resumes_after_completion(worker: InferenceWorker) -> None:
    blocked, submitted = threading.Event(), threading.Event()
    events: list[str] = []
    state = {"step": 0, "runs": 0}
    deliveries: list[Any] = []

    def chat(control: JobControl) -> list[str]:
        state["runs"] += 1
        events.append(f"chat run {state['runs']} from step {state['step']}")
        while state["step"] < 5:
            if state["step"] == 2 and state["runs"] == 1:
                blocked.set()
                wait(submitted)  # the completion is queued and has asked us to pause
            reason = control.check()
            if reason is StopReason.PREEMPTED:
                events.append(f"paused at step {state['step']}")
                raise JobPreempted
            assert reason is None
            state["step"] += 1
        return events.copy()

    chat_handle = worker.submit(chat, priority=Priority.CHAT, preemptible=True)
    chat_handle.future.add_done_callback(lambda f: deliveries.append(f.result()))
    wait(blocked)

    def completion_job(control: JobControl) -> str:
        events.append("completion")
        return "done"

    completion = worker.submit(completion_job, priority=Priority.COMPLETION)
    submitted.set()

    assert completion.result(TIMEOUT) == "done"
    result = chat_handle.result(TIMEOUT)
    assert result == [
        "chat run 1 from step 0",
        "paused at step 2",
        "completion",
        "chat run 2 from step 2",
    ]
    assert state == {"step": 5, "runs": 2}
    assert deliveries == [result]
    assert worker.pending() == 0


def test_non_preemptible_job_is_not_paused(worker: InferenceWorker) -> None:
    started, release = threading.Event(), threading.Event()
    chat = worker.submit(blocker(started, release), priority=Priority.CHAT, preemptible=False)
    wait(started)
    completion = worker.submit(lambda control: "done")
    release.set()
    assert chat.result(TIMEOUT) is None
    assert completion.result(TIMEOUT) == "done"


def test_cancel_queued_job_never_runs(worker: InferenceWorker) -> None:
    started, release = threading.Event(), threading.Event()
    order: list[str] = []
    first = worker.submit(blocker(started, release))
    wait(started)
    doomed = worker.submit(recorder(order, "doomed"))
    later = worker.submit(recorder(order, "later"))
    doomed.cancel()
    assert doomed.future.cancelled()
    release.set()
    assert later.result(TIMEOUT) == "later"
    first.result(TIMEOUT)
    assert order == ["later"]


def test_cancel_running_job_is_seen_by_check(worker: InferenceWorker) -> None:
    started, release = threading.Event(), threading.Event()
    running = worker.submit(blocker(started, release))
    wait(started)
    running.cancel()
    release.set()
    assert running.result(TIMEOUT) is StopReason.CANCELLED


def test_exception_reaches_caller_and_worker_goes_on(worker: InferenceWorker) -> None:
    def broken(control: JobControl) -> None:
        raise ValueError("model exploded")

    failing = worker.submit(broken)
    after = worker.submit(lambda control: 42)
    with pytest.raises(ValueError, match="model exploded"):
        failing.result(TIMEOUT)
    assert after.result(TIMEOUT) == 42


def test_shutdown_cancels_queued_and_running(worker: InferenceWorker) -> None:
    started, release = threading.Event(), threading.Event()
    order: list[str] = []
    running = worker.submit(blocker(started, release))
    wait(started)
    queued = [worker.submit(recorder(order, f"q{i}"), priority=Priority.CHAT) for i in range(3)]
    worker.shutdown(wait=False)
    assert all(h.future.cancelled() for h in queued)
    release.set()
    assert running.result(TIMEOUT) is StopReason.CANCELLED
    worker.shutdown(wait=True)
    assert order == []
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(lambda control: None)


@pytest.mark.parametrize("how", ["shutdown", "supersede"])
def test_dropping_a_paused_job_resolves_its_future(worker: InferenceWorker, how: str) -> None:
    paused, submitted, release = threading.Event(), threading.Event(), threading.Event()
    completion_started = threading.Event()

    def chat(control: JobControl) -> str:
        if not paused.is_set():
            paused.set()
            wait(submitted)
            if control.check() is StopReason.PREEMPTED:
                raise JobPreempted
        return "chat"

    def completion_job(control: JobControl) -> str:
        completion_started.set()
        wait(release)
        return "done"

    chat_handle = worker.submit(chat, priority=Priority.CHAT, preemptible=True, group="g")
    wait(paused)
    completion = worker.submit(completion_job)
    submitted.set()
    try:
        wait(completion_started)  # the chat job is paused and queued again behind it
        assert chat_handle.future.running()
        if how == "shutdown":
            worker.shutdown(wait=False)
        else:
            worker.submit(
                lambda control: "newer", priority=Priority.CHAT, group="g", supersede=True
            )
        assert chat_handle.future.done()
    finally:
        release.set()
        completion.result(TIMEOUT)


def test_stop_latency_times_running_jobs_from_cancel_to_end(worker: InferenceWorker) -> None:
    assert worker.stop_latency() == {"count": 0}
    started = threading.Event()

    def until_cancelled(control: JobControl) -> StopReason | None:
        started.set()
        while control.check() is None:
            threading.Event().wait(0.001)  # one "token"
        return control.check()

    handle = worker.submit(until_cancelled)
    wait(started)
    handle.cancel()
    assert handle.result(TIMEOUT) is StopReason.CANCELLED
    held, release = threading.Event(), threading.Event()
    holder = worker.submit(blocker(held, release))
    wait(held)
    worker.submit(until_cancelled).cancel()  # cancelled before it ran: not timed
    release.set()
    holder.result(TIMEOUT)
    worker.submit(lambda _c: None).result(TIMEOUT)
    stops = worker.stop_latency()
    assert stops["count"] == 1
    assert 0 <= stops["p95_ms"] <= stops["max_ms"] < 1000
