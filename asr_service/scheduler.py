"""Inference workers: one thread owns each model and runs its jobs by priority, then arrival; lanes."""

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
from .roles import Span, SpeechDetector, SpeechRecognizer

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

    def recognize(self, clips: Sequence[np.ndarray], language: str, use_itn: bool) -> list[str]:
        """See SpeechRecognizer.recognize."""
        return self._worker.call(lambda: self._inner.recognize(clips, language, use_itn), self._priority)


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


class Lanes(Generic[M]):
    """Copies of one model, each on its own worker; a live stream leases one lane for its whole life.

    One worker runs one call at a time, so a single streaming model serves about 1 / (chunk time /
    600 ms) streams however many cores there are; lanes let streams run side by side.
    """

    def __init__(self, lanes: Sequence[OnWorker[M]]) -> None:
        if not lanes:
            raise ValueError("at least one lane is needed")
        self._lanes = list(lanes)
        self._users = [0] * len(self._lanes)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lanes)

    @contextmanager
    def lease(self) -> Iterator[OnWorker[M]]:
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
