"""The single inference worker: one model call at a time, urgent work first.

On a CPU two inferences at once are each slower than one after the other, and one model
context cannot serve two prompts, so every model call goes through one thread. Jobs carry a
priority (completion before explain/review), a group (a newer completion for a document
supersedes the queued and the running one) and may be preemptible (a running review pauses
between two tokens for a completion, then resumes where it stopped).
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Generic, TypeVar

from hearth.engine.generate import StopReason

log = logging.getLogger(__name__)

T = TypeVar("T")


class Priority(IntEnum):
    COMPLETION = 0
    CHAT = 1
    BACKGROUND = 2


class JobPreempted(Exception):
    """Raised by a preemptible job that paused; the worker queues it again."""


class JobControl:
    """What a running job polls to learn whether it should stop, and why."""

    def __init__(self, preemptible: bool) -> None:
        self.preemptible = preemptible
        self._cancel = threading.Event()
        self._preempt = threading.Event()
        self.cancelled_at: float | None = None  # time.monotonic() of the first cancel

    def cancel(self) -> None:
        if self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def request_preempt(self) -> None:
        if self.preemptible:
            self._preempt.set()

    def check(self) -> StopReason | None:
        """None to go on; CANCELLED or PREEMPTED to stop before the next token."""
        if self._cancel.is_set():
            return StopReason.CANCELLED
        if self._preempt.is_set():
            return StopReason.PREEMPTED
        return None

    def _resumed(self) -> None:
        self._preempt.clear()


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    fn: Callable[[JobControl], Any] = field(compare=False)
    future: Future[Any] = field(compare=False)
    control: JobControl = field(compare=False)
    group: str | None = field(compare=False, default=None)
    name: str = field(compare=False, default="job")


def _drop(job: _Job) -> None:
    """Cancel a job taken off the queue; a paused (preempted) one is already running."""
    job.control.cancel()
    if not job.future.cancel():
        job.future.set_exception(CancelledError())


class JobHandle(Generic[T]):
    def __init__(self, job: _Job) -> None:
        self._job = job
        self.future: Future[T] = job.future

    def cancel(self) -> None:
        """Stop the job: a queued one never runs, a running one stops within one token."""
        self._job.control.cancel()
        self._job.future.cancel()

    def result(self, timeout: float | None = None) -> T:
        return self.future.result(timeout)


STOPS_KEPT = 1024  # cancel-to-stop latencies kept for `stop_latency()`


class InferenceWorker:
    def __init__(self, name: str = "hearth-inference") -> None:
        # Seconds from a running job's cancel to its end: how promptly a cancel stops the
        # model (hearth/status shows a summary; the cancellation storm test reads it).
        self._stops: collections.deque[float] = collections.deque(maxlen=STOPS_KEPT)
        self._stops_total = 0
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._running: _Job | None = None
        self._seq = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(
        self,
        fn: Callable[[JobControl], T],
        *,
        priority: Priority = Priority.COMPLETION,
        group: str | None = None,
        supersede: bool = False,
        preemptible: bool = False,
        name: str = "job",
    ) -> JobHandle[T]:
        """Queue `fn`; with `supersede`, earlier jobs of the same group are cancelled."""
        future: Future[T] = Future()
        job = _Job(
            priority=int(priority),
            seq=next(self._seq),
            fn=fn,
            future=future,
            control=JobControl(preemptible),
            group=group,
            name=name,
        )
        with self._cond:
            if self._closed:
                raise RuntimeError("the inference worker has shut down")
            if supersede and group is not None:
                for old in [j for j in self._queue if j.group == group]:
                    self._queue.remove(old)
                    _drop(old)
                    log.debug("superseded queued %s", old.name)
                running = self._running
                if running is not None and running.group == group:
                    running.control.cancel()
                    log.debug("superseded running %s", running.name)
            self._queue.append(job)
            self._queue.sort()
            running = self._running
            if running is not None and running.priority > job.priority:
                running.control.request_preempt()
            self._cond.notify()
        return JobHandle(job)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._running is not None else 0)

    def stop_latency(self) -> dict[str, float | int]:
        """Jobs stopped by a cancel while running (count), and how long the last
        `STOPS_KEPT` of them took from the cancel to their end (max, p95, in ms)."""
        with self._cond:
            stops = sorted(self._stops)
            total = self._stops_total
        if not stops:
            return {"count": total}
        p95 = stops[min(len(stops) - 1, int(0.95 * len(stops)))]
        return {
            "count": total,
            "max_ms": round(stops[-1] * 1000, 2),
            "p95_ms": round(p95 * 1000, 2),
        }

    def shutdown(self, wait: bool = True) -> None:
        with self._cond:
            self._closed = True
            for job in self._queue:
                _drop(job)
            self._queue.clear()
            if self._running is not None:
                self._running.control.cancel()
            self._cond.notify_all()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                job = self._queue.pop(0)
                resumed = job.future.running()  # a preempted job comes back already running
                if not resumed and not job.future.set_running_or_notify_cancel():
                    continue
                self._running = job
            try:
                result = job.fn(job.control)
            except JobPreempted:
                with self._cond:
                    self._running = None
                    job.control._resumed()
                    self._queue.append(job)
                    self._queue.sort()
                log.debug("preempted %s; queued again", job.name)
                continue
            except BaseException as exc:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
            finally:
                cancelled_at = job.control.cancelled_at
                with self._cond:
                    if self._running is job:
                        self._running = None
                    if cancelled_at is not None:
                        self._stops.append(time.monotonic() - cancelled_at)
                        self._stops_total += 1
