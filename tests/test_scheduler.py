"""Model workers: one job at a time, by priority then arrival, failures isolated; batched steps."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from asr_service.roles import StreamStep
from asr_service.scheduler import Clock, Lanes, ModelWorker, OnWorker, Priority, StepBatcher


def test_jobs_run_by_priority_then_arrival() -> None:
    worker = ModelWorker("test")
    gate = threading.Event()
    order: list[str] = []
    blocker = worker.submit(gate.wait, Priority.BACKGROUND)  # holds the worker while we queue
    futures = [
        worker.submit(lambda: order.append("upload-1"), Priority.BACKGROUND),
        worker.submit(lambda: order.append("segment"), Priority.SECOND_PASS),
        worker.submit(lambda: order.append("live-1"), Priority.REALTIME),
        worker.submit(lambda: order.append("upload-2"), Priority.BACKGROUND),
        worker.submit(lambda: order.append("live-2"), Priority.REALTIME),
    ]
    gate.set()
    blocker.result(timeout=10)
    for future in futures:
        future.result(timeout=10)
    assert order == ["live-1", "live-2", "segment", "upload-1", "upload-2"]
    worker.stop()


def test_jobs_never_overlap() -> None:
    worker = ModelWorker("serial")
    running = 0
    peak = 0
    lock = threading.Lock()

    def job() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.002)
        with lock:
            running -= 1

    futures = [worker.submit(job, Priority.REALTIME) for _ in range(50)]
    for future in futures:
        future.result(timeout=10)
    assert peak == 1
    worker.stop()


def test_a_failing_job_reaches_its_caller_and_the_worker_goes_on() -> None:
    worker = ModelWorker("failing")

    def boom() -> None:
        raise ValueError("bad clip")

    with pytest.raises(ValueError, match="bad clip"):
        worker.call(boom, Priority.BACKGROUND)
    assert worker.call(lambda: 42, Priority.BACKGROUND) == 42
    worker.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        worker.submit(lambda: 1, Priority.REALTIME)


def test_lanes_give_each_stream_the_least_used_lane_and_take_it_back() -> None:
    worker = ModelWorker("lanes")
    try:
        lanes = Lanes([OnWorker("a", worker, Priority.REALTIME), OnWorker("b", worker, Priority.REALTIME)])
        with lanes.lease() as one, lanes.lease() as two:
            assert {one.run(lambda m: m), two.run(lambda m: m)} == {"a", "b"}
            assert lanes.users() == [1, 1]
            with lanes.lease() as three:
                assert three.run(lambda m: m) == "a"
                assert lanes.users() == [2, 1]
        assert lanes.users() == [0, 0]
        with pytest.raises(ValueError):
            Lanes([])
    finally:
        worker.stop()


class _Batching:
    """Records the streams of each call; text is 'stream:chunk number' from the cache."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def _one(self, step: StreamStep) -> str:
        step.cache["n"] = int(step.cache.get("n", 0)) + 1  # type: ignore[call-overload]
        return f"{step.cache['name']}:{step.cache['n']}"

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> str:
        self.calls.append([str(cache["name"])])
        return self._one(StreamStep(chunk, cache, is_final))

    def step_many(self, steps: Sequence[StreamStep]) -> list[str]:
        names = [str(s.cache["name"]) for s in steps]
        self.calls.append(names)
        if self.fail_on in names:
            raise RuntimeError("model crashed")
        return [self._one(s) for s in steps]


def _step_all(batcher: StepBatcher, worker: ModelWorker, names: list[str]) -> dict[str, object]:
    """Hold the worker, let every stream queue its step, release: return each stream's outcome."""
    gate = threading.Event()
    blocker = worker.submit(gate.wait, Priority.REALTIME)
    outcomes: dict[str, object] = {}
    caches: dict[str, dict[str, object]] = {name: {"name": name} for name in names}

    def run(name: str) -> None:
        try:
            outcomes[name] = batcher.step(np.zeros(4, np.float32), caches[name], False)
        except RuntimeError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    with batcher._ready:  # notified on every step queued
        assert batcher._ready.wait_for(lambda: len(batcher._pending) == len(names), timeout=10)
    gate.set()
    blocker.result(timeout=10)
    for thread in threads:
        thread.join(timeout=10)
    return outcomes


def test_steps_queued_while_the_model_is_busy_run_as_one_call() -> None:
    worker = ModelWorker("batch")
    model = _Batching()
    batcher = StepBatcher(model, worker, Priority.REALTIME, max_streams=3)
    try:
        outcomes = _step_all(batcher, worker, ["a", "b", "c", "d"])
        assert outcomes == {"a": "a:1", "b": "b:1", "c": "c:1", "d": "d:1"}
        assert sorted(len(call) for call in model.calls) == [1, 3]  # capped at max_streams
        # a lone stream is not held back waiting for company
        assert batcher.step(np.zeros(4, np.float32), {"name": "e"}, False) == "e:1"
        assert model.calls[-1] == ["e"]
    finally:
        worker.stop()


def test_a_failed_batched_call_fails_its_streams_and_the_batcher_goes_on() -> None:
    worker = ModelWorker("batch-fail")
    model = _Batching(fail_on="b")
    batcher = StepBatcher(model, worker, Priority.REALTIME)
    try:
        outcomes = _step_all(batcher, worker, ["a", "b"])
        assert all(isinstance(o, RuntimeError) for o in outcomes.values())
        assert batcher.step(np.zeros(4, np.float32), {"name": "c"}, False) == "c:1"
    finally:
        worker.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        batcher.step(np.zeros(4, np.float32), {"name": "d"}, False)


class _FakeClock(Clock):
    """Time moves only when a model call or the test moves it; every gathering wait is counted.

    A wait ends when the batcher is notified (another stream brings its step); one that nobody ends
    within a generous real timeout lets the waited-for span pass, so a wrong wait fails an assertion
    instead of hanging the test.
    """

    def __init__(self) -> None:
        self.t = 0.0
        self.waits = 0
        self.waiting = threading.Event()

    def now(self) -> float:
        return self.t

    def wait(self, condition: threading.Condition, timeout: float) -> bool:
        self.waits += 1
        self.waiting.set()  # set with the batcher's lock held: a step submitted now finds it waiting
        if condition.wait(10):
            return True
        self.t += timeout
        return False


class _Timed(_Batching):
    """Each call takes `seconds` of the fake clock, like a real model on CPU."""

    def __init__(self, clock: _FakeClock, seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> str:
        self.clock.t += self.seconds
        return super().step(chunk, cache, is_final)

    def step_many(self, steps: Sequence[StreamStep]) -> list[str]:
        self.clock.t += self.seconds
        return super().step_many(steps)


def _step(batcher: StepBatcher, name: str, caches: dict[str, dict[str, object]]) -> str:
    return batcher.step(np.zeros(4, np.float32), caches.setdefault(name, {"name": name}), False)


def test_a_call_waits_briefly_for_the_other_active_streams() -> None:
    worker = ModelWorker("gather")
    clock = _FakeClock()
    model = _Timed(clock, 1.5)
    batcher = StepBatcher(model, worker, Priority.REALTIME, gather_s=5.0, recent_s=2.5, clock=clock)
    caches: dict[str, dict[str, object]] = {}
    texts: list[str] = []
    try:
        _step(batcher, "b", caches)  # "b" is active, and a call took 1.5 s
        assert clock.waits == 0  # a lone stream never waits
        model.calls.clear()
        first = threading.Thread(target=lambda: texts.append(_step(batcher, "a", caches)))
        first.start()
        assert clock.waiting.wait(10)  # "a" is held for "b" ...
        assert not texts  # ... and not served meanwhile
        texts.append(_step(batcher, "b", caches))
        first.join(timeout=10)
        assert model.calls == [["a", "b"]]
        assert sorted(texts) == ["a:1", "b:2"]
        assert clock.waits == 1
        clock.t += 2.6  # neither has stepped lately (parked, or finished): nobody to wait for
        assert _step(batcher, "c", caches) == "c:1"
        assert clock.waits == 1  # the call itself, no wait on top
    finally:
        worker.stop()


def test_no_waiting_for_company_when_calls_are_cheap() -> None:
    worker = ModelWorker("cheap")
    clock = _FakeClock()
    model = _Batching()  # calls take no time: waiting would only add latency
    batcher = StepBatcher(model, worker, Priority.REALTIME, gather_s=5.0, clock=clock)
    caches: dict[str, dict[str, object]] = {}
    try:
        _step(batcher, "b", caches)
        assert _step(batcher, "a", caches) == "a:1"  # "b" is active but not waited for
        assert clock.waits == 0
        assert model.calls == [["b"], ["a"]]
    finally:
        worker.stop()
