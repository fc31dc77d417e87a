"""The benchmark suite's own logic: event-order accounting and target verdicts."""

from __future__ import annotations

import copy
import math
import os
from typing import Any

import numpy as np
import pytest

from bench.clients import LiveRecording, _out_of_order
from bench.measure import CpuMeter, cpu_seconds, percentiles, rss_mb
from bench.targets import evaluate


def _event(seq: int, ms: int) -> dict[str, Any]:
    return {"seq": seq, "current_time_ms": ms}


def test_in_order_events_count_nothing() -> None:
    assert _out_of_order([_event(1, 600), _event(2, 600), _event(3, 1200)]) == 0


def test_skipped_repeated_or_backwards_events_are_counted() -> None:
    events = [_event(1, 600), _event(3, 1200), _event(3, 1200), _event(4, 600)]
    assert _out_of_order(events) == 3


def test_after_a_resume_only_a_forward_jump_is_expected() -> None:
    events = [_event(1, 600), _event(5, 3000), _event(6, 3600)]
    assert _out_of_order(events, resumed=True) == 0
    assert _out_of_order([*events, _event(6, 3600)], resumed=True) == 1


def test_percentiles_of_nothing_are_nan() -> None:
    assert all(math.isnan(v) for v in percentiles([], 50, 95))
    assert percentiles([1.0, 2.0, 3.0], 50) == [2.0]
    assert percentiles([4.0, 1.0, 3.0, 2.0], 50, 100, 0) == [2.5, 4.0, 1.0]  # interpolated, any order
    assert percentiles([1.0, 2.0], 33) == [1.3]  # rounded to 0.1


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def test_cpu_seconds_read_this_process_like_the_kernel_tells_it() -> None:
    tick = 1 / os.sysconf("SC_CLK_TCK")
    before = _own_cpu_s()
    while _own_cpu_s() - before < 0.2:  # burn CPU until the kernel has counted it
        pass
    low = _own_cpu_s()
    measured = cpu_seconds(os.getpid())
    high = _own_cpu_s()
    assert low - 2 * tick <= measured <= high + 2 * tick


def test_the_meter_counts_the_cpu_of_its_span_only() -> None:
    tick = 1 / os.sysconf("SC_CLK_TCK")
    meter = CpuMeter(os.getpid())
    outside = _own_cpu_s()
    while _own_cpu_s() - outside < 0.2:  # spent before start: not counted
        pass
    low = _own_cpu_s()
    meter.start()
    while _own_cpu_s() - low < 0.2:
        pass
    meter.stop()
    high = _own_cpu_s()
    assert 0.2 - 4 * tick <= meter.cpu_s <= high - low + 4 * tick
    assert meter.wall_s > 0


def test_rss_follows_memory_this_process_touches() -> None:
    before = rss_mb(os.getpid())
    block = np.ones(256 << 20, np.uint8)  # 256 MiB, every page written
    grown = rss_mb(os.getpid())
    del block  # a block this large is its own mapping: freeing it returns the pages
    after = rss_mb(os.getpid())
    assert before > 0 and 250 <= grown - before <= 262  # MiB, as the rest of the bench reports
    assert grown - after >= 250  # resident now, not the peak


GOOD: dict[str, Any] = {
    "n_ref": 4.0,
    "direct": {
        "live": {"c_direct": 0.5, "t_chunk_p50_ms": 200.0, "t_final_ms": 800.0},
        "file": {"rtf": 0.1},
    },
    "transport": {"cores_per_stream": 0.005, "passes": True},
    "service": {
        "one_stream_100ms": {
            "server_cpu_per_audio_s": 0.52,
            "first_partial_ms": 250.0,
            "final_after_stop_ms": 900.0,
        },
        "capacity": {"capacity": 3, "at_capacity": {"final_after_stop_ms_max": 1500.0}},
        "uploads": {"rtf": 0.105, "errors": [], "throughput_one": 9.5, "throughput_two": 9.4},
        "live_during_upload": {"live": {"lag_p95_ms": 400.0, "passes": True}},
        "soak": {"errors": [], "disconnects": 0, "lost_ms": 0, "rss_growth": 0.01},
    },
}


def test_a_report_within_every_target_passes_them_all() -> None:
    verdicts = evaluate(GOOD)
    assert len(verdicts) == 10
    assert [v["name"] for v in verdicts if not v["pass"]] == []
    by_name = {v["name"]: v for v in verdicts}
    assert by_name["service CPU per audio second, 1 stream (× direct)"]["measured"] == 1.04
    assert by_name["realtime capacity (streams, × N_ref)"]["measured"] == "3 = 0.75 × N_ref 4.0"


@pytest.mark.parametrize(
    ("path", "value", "missed"),
    [
        (("service", "one_stream_100ms", "server_cpu_per_audio_s"), 0.56, "service CPU"),
        (("transport", "cores_per_stream"), 0.03, "transport"),
        (("service", "capacity", "capacity"), 2, "capacity"),
        (("service", "one_stream_100ms", "first_partial_ms"), 301.0, "first partial"),
        (("service", "one_stream_100ms", "final_after_stop_ms"), 1061.0, "1 stream, 1 min"),
        (("service", "uploads", "rtf"), 0.111, "REST"),
        (("service", "uploads", "throughput_two"), 8.5, "2 concurrent"),
        (("service", "soak", "rss_growth"), 0.06, "soak"),
        (("service", "capacity", "at_capacity", "final_after_stop_ms_max"), 1901.0, "at capacity"),
        (("service", "capacity", "at_capacity"), None, "at capacity"),
        (("transport", "passes"), False, "transport"),
        (("service", "uploads", "errors"), ["timeout"], "REST"),
        (("service", "live_during_upload", "live", "passes"), False, "long upload"),
        (("service", "soak", "errors"), ["disconnect"], "soak"),
        (("service", "soak", "disconnects"), 1, "soak"),
        (("service", "soak", "lost_ms"), 100, "soak"),
    ],
)
def test_each_target_misses_just_past_its_bound(path: tuple[str, ...], value: object, missed: str) -> None:
    report = copy.deepcopy(GOOD)
    node = report
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    failing = [v["name"] for v in evaluate(report) if not v["pass"]]
    assert len(failing) == 1 and missed in failing[0]


def test_a_long_recording_adds_its_own_final_latency_target() -> None:
    report = copy.deepcopy(GOOD)
    report["service"]["one_stream_long"] = {"audio_s": 1800.0, "final_after_stop_ms": 1100.0}
    verdicts = evaluate(report)
    assert len(verdicts) == 11
    assert [v["name"] for v in verdicts if not v["pass"]] == ["final after stop, 1 stream, 30 min (ms)"]


def test_word_time_targets_miss_just_past_ten_percent() -> None:
    report = copy.deepcopy(GOOD)
    report["word_times"] = {"ratio": 1.10}
    report["service"]["word_time_uploads"] = {"ratio": 1.09, "errors": []}
    verdicts = {v["name"]: v["pass"] for v in evaluate(report)}
    assert len(verdicts) == 12 and all(verdicts.values())
    report["word_times"]["ratio"] = 1.3  # FunASR's own cost is reported, not judged
    report["service"]["word_time_uploads"]["ratio"] = 1.101
    failing = [v["name"] for v in evaluate(report) if not v["pass"]]
    assert failing == ["word times: REST real-time factor with word_timestamps (× without)"]
    report["service"]["word_time_uploads"] = {"ratio": 1.0, "errors": ["500"]}
    assert len([v for v in evaluate(report) if not v["pass"]]) == 1


def test_sentence_latencies_are_reported_for_runs_that_had_sentences() -> None:
    report = copy.deepcopy(GOOD)
    report["service"]["one_stream_100ms"].update(
        sentence_finals=4,
        sentence_lag_p50_ms=900.0,
        sentence_lag_p95_ms=1400.0,
        sentence_after_close_p50_ms=150.0,
        sentence_after_close_p95_ms=300.0,
    )
    reported = [v for v in evaluate(report) if v["target"] == "reported"]
    assert [v["measured"] for v in reported] == ["900.0/1400.0; 150.0/300.0"]
    assert "1 stream" in reported[0]["name"]


def test_sentence_latency_counts_from_the_audio_of_its_end_and_from_its_speech_end() -> None:
    rec = LiveRecording.__new__(LiveRecording)
    rec.sent_at = {1000: 10.0, 1100: 10.1, 1200: 10.2}  # audio ms completed -> when sent
    events = [
        (10.5, ("transcription", {"vad_event": "speech_end", "current_time_ms": 1200})),
        (10.8, ("sentence_final", {"end_ms": 1050})),  # its end went out with the 1100 ms frame
        (11.0, ("sentence_final", {"end_ms": 5000})),  # past the audio sent: no figure
    ]
    from_audio, from_close = rec._sentence_latencies(events)
    assert [round(x) for x in from_audio] == [700]
    assert [round(x) for x in from_close] == [300]  # no speech_end has been heard past 5000 ms
