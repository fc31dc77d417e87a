"""Model workers: one job at a time, by priority then arrival, failures isolated."""

from __future__ import annotations

import threading

import pytest

from asr_service.scheduler import Lanes, ModelWorker, OnWorker, Priority


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
