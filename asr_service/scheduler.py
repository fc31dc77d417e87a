"""Model workers: one thread per model, jobs by priority then arrival; batched streaming steps; lanes."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Generic, TypeVar

import numpy as np

from . import metrics
from .roles import (
    BatchStreamingRecognizer,
    Heard,
    RecognitionOptions,
    Span,
    SpeechDetector,
    SpeechRecognizer,
    StreamingRecognizer,
    StreamStep,
)

T = TypeVar("T")
M = TypeVar("M")
log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Lower runs first: live partials beat second-pass segments beat uploads."""

    REALTIME = 0
    SECOND_PASS = 1
    BACKGROUND = 2


_PRIORITY_NAMES = {int(p): p.name.lower() for p in Priority}


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    run: Callable[[], Any] = field(compare=False)
    future: Future[Any] = field(compare=False)
    queued_at: float = field(compare=False, default_factory=time.monotonic)


class ModelWorker:
    """A thread that owns one model: FunASR instances must never run two calls at once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"model-{name}", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], T], priority: Priority) -> Future[T]:
        """Queue `fn` to run on this worker; the future carries its result or exception."""
        if self._stopped.is_set():
            raise RuntimeError(f"model worker {self.name} is stopped")
        future: Future[T] = Future()
        self._queue.put(_Job(int(priority), next(self._seq), fn, future))
        return future

    def call(self, fn: Callable[[], T], priority: Priority) -> T:
        """Run `fn` on this worker and wait for its result."""
        return self.submit(fn, priority).result()

    @property
    def depth(self) -> int:
        """Jobs waiting (not counting the one running)."""
        return self._queue.qsize()

    def stop(self) -> None:
        """Finish queued jobs, then end the thread."""
        self._stopped.set()
        self._queue.put(_Job(1 << 30, next(self._seq), lambda: None, Future()))
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if not job.future.set_running_or_notify_cancel():
                continue
            priority = _PRIORITY_NAMES.get(job.priority)
            if priority is not None:  # not the stop marker
                metrics.observe_queue_wait(self.name, priority, time.monotonic() - job.queued_at)
            try:
                job.future.set_result(job.run())
            except BaseException as exc:  # the caller gets it; the worker keeps serving
                log.exception("job failed on model worker %s", self.name)
                job.future.set_exception(exc)
            if self._stopped.is_set() and self._queue.empty():
                return


class ScheduledDetector:
    """A SpeechDetector whose calls run on the model's worker at a fixed priority."""

    def __init__(self, inner: SpeechDetector, worker: ModelWorker, priority: Priority) -> None:
        self._inner, self._worker, self._priority = inner, worker, priority

    def detect(self, audio: np.ndarray) -> list[Span]:
        """See SpeechDetector.detect."""
        return self._worker.call(lambda: self._inner.detect(audio), self._priority)


class ScheduledRecognizer:
    """A SpeechRecognizer whose calls run on the model's worker at a fixed priority."""

    def __init__(self, inner: SpeechRecognizer, worker: ModelWorker, priority: Priority) -> None:
        self._inner, self._worker, self._priority = inner, worker, priority

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        """See SpeechRecognizer.recognize."""
        return self._worker.call(lambda: self._inner.recognize(clips, options), self._priority)


class OnWorker(Generic[M]):
    """A model reachable only through its worker, at a fixed priority."""

    def __init__(self, model: M, worker: ModelWorker, priority: Priority) -> None:
        self._model, self._worker, self._priority = model, worker, priority

    def run(self, fn: Callable[[M], T]) -> T:
        """Run `fn(model)` on the worker and wait for it."""
        return self._worker.call(lambda: fn(self._model), self._priority)

    def submit(self, fn: Callable[[M], T]) -> Future[T]:
        """Queue `fn(model)` on the worker without waiting."""
        return self._worker.submit(lambda: fn(self._model), self._priority)


class Clock:
    """Monotonic time and timed waits on a condition; a test injects its own to make time explicit."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        return time.monotonic()

    def wait(self, condition: threading.Condition, timeout: float) -> bool:
        """condition.wait(timeout); the caller holds the condition's lock."""
        return condition.wait(timeout)


class StepBatcher:
    """The streaming model on its worker; steps of streams that are due together run as one call.

    Streams on one worker would otherwise take turns (each step queues behind the other's), so a
    call waits for the other streams stepping on this batcher lately (within `recent_s`: not the
    parked or finished ones) to bring their steps; at most `gather_s`, and at most as long as the
    last call took, because where a call costs little (fast hardware, no-op models) waiting would
    cost more than it saves. A lone stream never waits.
    """

    def __init__(
        self,
        model: StreamingRecognizer,
        worker: ModelWorker,
        priority: Priority,
        max_streams: int = 16,
        gather_s: float = 0.0,
        recent_s: float = 2.0,
        clock: Clock | None = None,
    ) -> None:
        self._model, self._worker, self._priority = model, worker, priority
        self._max, self._gather_s, self._recent_s = max_streams, gather_s, recent_s
        self._pending: list[tuple[StreamStep, Future[str]]] = []
        self._scheduled = False
        self._last_step: dict[int, float] = {}  # id of a stream's cache -> when it last stepped
        self._last_call_s = 0.0
        self._ready = threading.Condition()
        self._clock = clock or Clock()

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> str:
        """StreamingRecognizer.step for one stream, run on the worker (maybe beside other streams)."""
        return self.submit(chunk, cache, is_final).result()

    def submit(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> Future[str]:
        """Queue one stream's step without waiting; `cache` must not be touched until it is done."""
        future: Future[str] = Future()
        with self._ready:
            if not self._scheduled:  # the queued call cannot start before this lock is released
                self._worker.submit(self._run_pending, self._priority)  # raises once stopped
                self._scheduled = True
            self._pending.append((StreamStep(chunk, cache, is_final), future))
            self._last_step[id(cache)] = self._clock.now()
            self._ready.notify_all()
        return future

    def _active_streams(self) -> int:
        """Streams that stepped within recent_s (call with the lock held)."""
        now = self._clock.now()
        self._last_step = {k: t for k, t in self._last_step.items() if now - t < self._recent_s}
        return len(self._last_step)

    def _run_pending(self) -> None:
        deadline = self._clock.now() + min(self._gather_s, self._last_call_s)
        with self._ready:
            while len(self._pending) < min(self._active_streams(), self._max):
                left = deadline - self._clock.now()
                if left <= 0:
                    break
                self._clock.wait(self._ready, left)
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            if self._pending:
                self._worker.submit(self._run_pending, self._priority)
            else:
                self._scheduled = False
        metrics.observe_stream_batch(len(batch))
        started = self._clock.now()
        try:
            texts = self._texts([step for step, _ in batch])
        except Exception as exc:
            # the call may have advanced some streams' caches already, so no stream can retry it
            log.exception("streaming step of %d streams failed on worker %s", len(batch), self._worker.name)
            for _, future in batch:
                future.set_exception(exc)
            return
        finally:
            self._last_call_s = self._clock.now() - started
        for (_, future), text in zip(batch, texts, strict=True):
            future.set_result(text)

    def _texts(self, steps: list[StreamStep]) -> list[str]:
        if len(steps) > 1 and isinstance(self._model, BatchStreamingRecognizer):
            return self._model.step_many(steps)
        return [self._model.step(s.chunk, s.cache, s.is_final) for s in steps]


L = TypeVar("L")


class Lanes(Generic[L]):
    """Several workers for one model, each with its own handle; a live stream leases one for life.

    One worker runs one call at a time; lanes let calls run side by side where the hardware gains
    from it (several cores with memory bandwidth to spare, several GPUs' worth of work).
    """

    def __init__(self, lanes: Sequence[L]) -> None:
        if not lanes:
            raise ValueError("at least one lane is needed")
        self._lanes = list(lanes)
        self._users = [0] * len(self._lanes)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lanes)

    @contextmanager
    def lease(self) -> Iterator[L]:
        """The lane with the fewest streams right now, held until the block ends."""
        with self._lock:
            index = min(range(len(self._lanes)), key=self._users.__getitem__)
            self._users[index] += 1
        try:
            yield self._lanes[index]
        finally:
            with self._lock:
                self._users[index] -= 1

    def users(self) -> list[int]:
        """Streams on each lane."""
        with self._lock:
            return list(self._users)
