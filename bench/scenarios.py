"""The service runs of the suite: each returns a JSON-able dict of figures."""

from __future__ import annotations

import functools
import random
import statistics
import threading
import time
from dataclasses import asdict
from typing import Any

from bench.clients import LiveRecording, StreamFigures, UploadFigures, record, run_parallel, upload
from bench.measure import CpuMeter, RssSampler, percentiles, rss_mb
from bench.speech import SpeechSource
from tests.conftest import LiveServer


def _streams_summary(figures: list[Any]) -> dict[str, Any]:
    """Aggregate of several clients' figures (exceptions count as errors and disconnects)."""
    ok = [f for f in figures if isinstance(f, StreamFigures)]
    failed = [repr(f) for f in figures if not isinstance(f, StreamFigures)]
    lags = [lag for f in ok for lag in f.lags]
    p50, p95 = percentiles(lags, 50, 95)
    finals = [f.final_after_stop_ms for f in ok]
    return {
        **_sentence_summary(ok),
        "streams": len(figures),
        "lost_ms": sum(max(f.lost_ms, 0) for f in ok),
        "out_of_order": sum(f.out_of_order for f in ok),
        "disconnects": sum(f.disconnects for f in ok) + len(failed),
        "errors": [e for f in ok for e in f.errors] + failed,
        "lag_p50_ms": p50,
        "lag_p95_ms": p95,
        "final_after_stop_ms_max": max(finals) if finals else float("nan"),
        "final_after_stop_ms_median": round(statistics.median(finals), 1) if finals else float("nan"),
        "first_partial_ms_median": round(statistics.median([f.first_partial_ms for f in ok]), 1)
        if ok
        else float("nan"),
    }


def _sentence_summary(figures: list[StreamFigures]) -> dict[str, Any]:
    """sentence_final latencies over every stream: after the end's audio was sent, after its speech_end."""
    sent = percentiles([x for f in figures for x in f.sentence_lags], 50, 95)
    closed = percentiles([x for f in figures for x in f.sentence_after_close], 50, 95)
    return {
        "sentence_finals": sum(f.sentence_finals for f in figures),
        "sentence_lag_p50_ms": sent[0],
        "sentence_lag_p95_ms": sent[1],
        "sentence_after_close_p50_ms": closed[0],
        "sentence_after_close_p95_ms": closed[1],
    }


def single_stream(
    server: LiveServer, speech: SpeechSource, seconds: float, frame_ms: int, paced_tail_s: float | None = None
) -> dict[str, Any]:
    """One client; the server's CPU per audio second over the whole recording and its final pass."""
    pid = server.process.pid
    rss_before = rss_mb(pid)
    meter = CpuMeter(pid).start()
    figures = record(server.url, speech.pcm(seconds), frame_ms, paced_tail_s)
    meter.stop()
    out = asdict(figures)
    for series in ("lags", "sentence_lags", "sentence_after_close"):
        out.pop(series)
    return {
        **out,
        **_sentence_summary([figures]),
        "server_cpu_s": round(meter.cpu_s, 2),
        "server_cpu_per_audio_s": round(meter.cpu_s / seconds, 4),
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_mb(pid), 1),
    }


def paced_streams(
    server: LiveServer, speech: SpeechSource, streams: int, seconds: float, frame_ms: int = 100
) -> dict[str, Any]:
    """`streams` clients recording in real time at once (starts spread over one frame)."""
    pcm = speech.pcm(seconds)
    meter = CpuMeter(server.process.pid).start()
    figures = run_parallel(
        [lambda: record(server.url, pcm, frame_ms) for _ in range(streams)],
        stagger_s=frame_ms / 1000 / streams,
    )
    meter.stop()
    summary = _streams_summary(figures)
    summary["server_cores"] = round(meter.cpu_s / meter.wall_s, 3)
    summary["passes"] = (
        summary["lost_ms"] == 0
        and summary["disconnects"] == 0
        and not summary["errors"]
        and summary["out_of_order"] == 0
        and summary["lag_p95_ms"] <= 600
    )
    return summary


def capacity(
    server: LiveServer, speech: SpeechSource, start: int, seconds: float, search: bool
) -> dict[str, Any]:
    """Most paced streams with no lost frames, p95 lag ≤ 600 ms and no disconnects.

    Tries `start` streams; with `search`, adds one stream at a time until a run fails
    (or goes down from `start` when it fails at once).
    """
    trials: dict[int, dict[str, Any]] = {}
    n = max(1, start)
    while True:
        trials[n] = paced_streams(server, speech, n, seconds)
        if not search:
            break
        if trials[n]["passes"]:
            if n + 1 in trials:
                break
            n += 1
        else:
            if n - 1 < 1 or n - 1 in trials:
                break
            n -= 1
    passing = [k for k, v in trials.items() if v["passes"]]
    best = max(passing) if passing else 0
    return {"capacity": best, "at_capacity": trials.get(best), "trials": trials}


def stress(server: LiveServer, speech: SpeechSource, streams: int, seconds: float) -> dict[str, Any]:
    """Clients sending as fast as the server keeps up: throughput and correctness under overload."""
    pcm = speech.pcm(seconds)

    def unpaced() -> StreamFigures:
        return record(server.url, pcm, 100, paced_tail_s=0.0)

    began = time.monotonic()
    figures = run_parallel([unpaced for _ in range(streams)])
    wall = time.monotonic() - began
    summary = _streams_summary(figures)
    summary["audio_s_per_wall_s"] = round(streams * seconds / wall, 3)
    for key in ("lag_p50_ms", "lag_p95_ms", "first_partial_ms_median"):
        summary.pop(key)
    return summary


def word_time_uploads(
    server: LiveServer, speech: SpeechSource, seconds: float, rounds: int
) -> dict[str, Any]:
    """The same file without and with word_timestamps, alternating; the best of each counts."""
    path = speech.wav(seconds)
    upload(server.url, path, seconds, words=True)  # the alignment's first call warms up
    plain, timed = [], []
    for _ in range(rounds):
        plain.append(upload(server.url, path, seconds))
        timed.append(upload(server.url, path, seconds, words=True))
    errors = [f.error or str(f.status) for f in [*plain, *timed] if f.status != 200]
    best, best_words = min(f.rtf for f in plain), min(f.rtf for f in timed)
    return {
        "audio_s": seconds,
        "rounds": rounds,
        "rtf": best,
        "rtf_words": best_words,
        "ratio": round(best_words / best, 3),
        "errors": errors,
    }


def uploads(server: LiveServer, speech: SpeechSource, seconds: float, repeats: int) -> dict[str, Any]:
    """REST transcription of one file: alone (`repeats` times, best kept) and two at a time."""
    path = speech.wav(seconds)
    upload(server.url, path, seconds)  # first request pays for lazy initialisation
    single = [upload(server.url, path, seconds) for _ in range(repeats)]
    began = time.monotonic()
    pair = run_parallel([lambda: upload(server.url, path, seconds) for _ in range(2)])
    pair_wall = time.monotonic() - began
    best = min(single, key=lambda f: f.wall_s)
    errors = [
        f.error or str(f.status)
        for f in [*single, *pair]
        if not isinstance(f, UploadFigures) or f.status != 200
    ]
    return {
        "audio_s": seconds,
        "single": [asdict(f) for f in single],
        "rtf": best.rtf,
        "pair_wall_s": round(pair_wall, 2),
        "throughput_one": round(seconds / best.wall_s, 3),
        "throughput_two": round(2 * seconds / pair_wall, 3),
        "errors": errors,
    }


def live_during_upload(
    server: LiveServer, speech: SpeechSource, streams: int, seconds: float, upload_s: float
) -> dict[str, Any]:
    """Paced streams while a long file is being transcribed."""
    path = speech.wav(upload_s)
    result: dict[str, Any] = {}

    def long_upload() -> None:
        result["upload"] = asdict(upload(server.url, path, upload_s))

    thread = threading.Thread(target=long_upload, daemon=True)
    thread.start()
    time.sleep(3.0)  # the upload is decoded and its recognition is running
    live = paced_streams(server, speech, streams, seconds)
    live["upload_still_running"] = thread.is_alive()
    thread.join()
    return {"live": live, **result}


def soak(
    server: LiveServer, speech: SpeechSource, slots: int, minutes: float, seed: int = 7
) -> dict[str, Any]:
    """`slots` clients recording back to back for `minutes`: random lengths, every third drops and resumes."""
    rng = random.Random(seed)
    deadline = time.monotonic() + minutes * 60
    figures: list[Any] = []
    lock = threading.Lock()

    def slot(index: int) -> None:
        count = 0
        while time.monotonic() < deadline:
            seconds = rng.uniform(10, 60)
            pcm = speech.pcm(seconds)
            try:
                rec = LiveRecording(server.url, pcm)
                rec.start()
                drop = (len(pcm) // 2) // 3200 * 3200 if (index + count) % 3 == 2 else None
                rec.send(drop_at=drop)
                result: Any = rec.stop()
            except Exception as exc:
                result = exc
            with lock:
                figures.append(result)
            count += 1

    with RssSampler(server.process.pid, every_s=10.0) as rss:
        run_parallel([functools.partial(slot, i) for i in range(slots)], stagger_s=2.0)
    samples = [mb for _t, mb in rss.samples]
    warm = samples[max(1, len(samples) // 10)]  # after the first tenth: models and caches warmed up
    summary = _streams_summary(figures)
    summary.update(
        slots=slots,
        recordings=len(figures),
        resumes=sum(f.resumes for f in figures if isinstance(f, StreamFigures)),
        rss_mb=rss.samples,
        rss_warm_mb=warm,
        rss_end_mb=samples[-1],
        rss_growth=round(samples[-1] / warm - 1, 4),
    )
    return summary


def transport_only(server: LiveServer, speech: SpeechSource, streams: int, seconds: float) -> dict[str, Any]:
    """Paced streams against the no-op-model server: the framework's CPU per stream."""
    idle = CpuMeter(server.process.pid).start()
    time.sleep(5.0)
    idle.stop()
    live = paced_streams(server, speech, streams, seconds)
    idle_cores = idle.cpu_s / idle.wall_s
    return {
        **live,
        "idle_cores": round(idle_cores, 4),
        "cores_per_stream": round((live["server_cores"] - idle_cores) / streams, 4),
    }
