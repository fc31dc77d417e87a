"""The first pass: chunking whatever the frame sizes, event order, punctuation, the stop's VAD read-ahead."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from asr_service.events import TranscriptionEvent
from asr_service.first_pass import FirstPass, LiveSegment, LiveTranscript
from asr_service.live_types import SessionOptions
from asr_service.scheduler import ModelWorker, StepBatcher

from .live_fakes import (
    RATE,
    ClockVad,
    CountingAsr,
    PeriodicVad,
    SlowRecognizer,
    live_models,
    live_session,
    named,
    observed,
    pcm,
    record,
    transcriptions,
    wait_until,
)

PLAIN: dict[str, object] = {"language": None, "emotion": None, "events": []}  # what the fake recognizer hears


class WaitingVad(ClockVad):
    """At each window that ends a 600 ms chunk, waits (up to 2 s) for the streaming model to start it."""

    def __init__(self, asr: CountingAsr) -> None:
        self._asr = asr
        self.chunk_started_first: list[bool] = []

    def step(self, chunk: np.ndarray, cache: dict[str, Any], is_final: bool) -> list[tuple[int, int]]:
        end = int(cache.get("ms", 0)) + len(chunk) * 1000 // RATE
        if not is_final and end % 600 == 0:
            deadline = time.monotonic() + 2
            while len(self._asr.sizes) < end // 600 and time.monotonic() < deadline:
                time.sleep(0.005)
            self.chunk_started_first.append(len(self._asr.sizes) >= end // 600)
        return super().step(chunk, cache, is_final)


class HeldAsr(CountingAsr):
    """Holds its first chunk until released, so most of the recording is still unread at stop;
    at the last whole chunk, notes how many second passes had started (waiting up to 2 s for two)."""

    def __init__(self, recognizer: SlowRecognizer, last_whole_chunk: int) -> None:
        super().__init__()
        self.release = threading.Event()
        self._recognizer, self._last = recognizer, last_whole_chunk
        self.second_passes_before_last_chunk = -1

    def step(self, chunk: np.ndarray, cache: dict[str, Any], is_final: bool) -> str:
        if not self.sizes:
            self.release.wait(10)
        if len(self.sizes) + 1 == self._last:
            deadline = time.monotonic() + 2
            while self._recognizer.calls < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            self.second_passes_before_last_chunk = self._recognizer.calls
        return super().step(chunk, cache, is_final)


def test_frame_sizes_do_not_change_events_or_chunks(tmp_path: Path, workers: list[ModelWorker]) -> None:
    audio = pcm(6.3)
    runs = []
    for index, sizes in enumerate(([19200], [321, 7777, 2], [64000], [1, 3, 5, 999])):
        session, events, asr = live_session(tmp_path / str(index), workers)
        record(session, audio, sizes)
        transcription = transcriptions(events)
        final = next(p for e, p in events if e == "final_result")
        runs.append(
            (
                transcription,
                asr.sizes,
                {k: v for k, v in final.items() if k not in ("session_id", "backup_audio_id")},
            )
        )
    assert all(run == runs[0] for run in runs[1:])
    transcription, sizes, final = runs[0]
    assert sizes == [9600] * 10 + [len(audio) // 2 - 96000]  # 600 ms chunks, the rest with is_final
    assert final["duration_ms"] == 6300
    assert [(s["start_ms"], s["end_ms"]) for s in final["realtime_segments"]] == [(1000, 2600), (4000, 6300)]
    assert final["timestamps"] == [
        {"text": "s1600", "start_ms": 1000, "end_ms": 2600, **PLAIN},
        {"text": "s2300", "start_ms": 4000, "end_ms": 6300, **PLAIN},
    ]
    assert final["paraformer_raw"].endswith("z") and len(final["paraformer_raw"]) == 11
    assert [t["seq"] for t in transcription] == list(range(1, len(transcription) + 1))
    ends = [t for t in transcription if t["vad_event"] == "speech_end"]
    assert [(e["is_final"], e["current_time_ms"]) for e in ends] == [(True, 2600), (True, 6300)]
    partials = [t["current_time_ms"] for t in transcription if t["vad_event"] is None and not t["is_final"]]
    assert partials == [600 * (i + 1) for i in range(10)] + [6300]
    starts = [(t["current_time_ms"], t["segment"]) for t in transcription if t["vad_event"] == "speech_start"]
    assert starts == [(1200, 0), (4200, 1)]  # reported at the end of the VAD chunk that heard it
    times = [t["current_time_ms"] for t in transcription]
    assert times == sorted(times)


def test_punctuation_runs_at_twenty_characters_and_at_speech_end(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    session, events, _ = live_session(tmp_path, workers)
    record(session, pcm(20), [3200])
    final = next(p for e, p in events if e == "final_result")
    pieces = final["paraformer"].strip("[]").split("][")
    # first commit at the speech end (2.6 s: 4 chunks of text), then every 20 characters, then the rest
    assert [len(p) for p in pieces] == [4, 20, 10]
    assert "".join(pieces) == final["paraformer_raw"]


def test_at_stop_second_passes_start_before_the_chunks_still_due(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    audio = pcm(6.3)  # segments 1.0-2.6 s and 4.0 s to the end; 10 whole chunks, then 300 ms
    recognizer = SlowRecognizer()
    asr = HeldAsr(recognizer, last_whole_chunk=10)
    session, events, _ = live_session(tmp_path / "held", workers, recognizer=recognizer, asr=asr)
    for start in range(0, len(audio), 3200):
        session.feed(audio[start : start + 3200])
    session.stop()
    asr.release.set()
    assert session.done.wait(30)  # type: ignore[attr-defined]
    # both segments went to the second pass while the streaming model still had chunks to run
    assert asr.second_passes_before_last_chunk == 2
    assert recognizer.calls == 2  # and only once each

    # the same events and result as a recording whose audio was all heard before the stop
    calm, calm_events, calm_asr = live_session(tmp_path / "calm", workers)
    for start in range(0, len(audio), 3200):
        calm.feed(audio[start : start + 3200])
    deadline = time.monotonic() + 10
    while len(calm_asr.sizes) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    calm.stop()
    assert calm.done.wait(30)  # type: ignore[attr-defined]
    assert asr.sizes == calm_asr.sizes == [9600] * 10 + [4800]
    assert observed(events) == observed(calm_events)


def test_a_whole_chunk_starts_before_the_vad_window_that_ends_with_it(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    asr = CountingAsr()
    vad = WaitingVad(asr)
    session, events, _ = live_session(tmp_path / "overlap", workers, asr=asr, vad=vad)
    audio = pcm(3.0)
    for start in range(0, len(audio), 3200):  # 100 ms frames
        session.feed(audio[start : start + 3200])
    deadline = time.monotonic() + 20
    while len(asr.sizes) < 5 and time.monotonic() < deadline:  # all heard: no read-ahead at stop
        time.sleep(0.01)
    session.stop()
    assert session.done.wait(30)  # type: ignore[attr-defined]
    assert vad.chunk_started_first == [True] * 5
    # and the events keep their documented order: the speech start found in the window ending
    # at 1200 ms comes before the partial of the chunk ending at 1200 ms
    kinds = [(p["current_time_ms"], p["vad_event"]) for e, p in events if e == "transcription"]
    assert kinds[:4] == [(600, None), (1200, "speech_start"), (1200, None), (1800, None)]


class Segments:
    """The second pass's side of the first pass: notes each call, and how many events came before it."""

    def __init__(self, events: list[TranscriptionEvent]) -> None:
        self._events = events
        self.calls: list[tuple[str, int, int, int]] = []  # (kind, start_ms, end_ms, events so far)

    def queue(self, segment: LiveSegment) -> None:
        self.calls.append(("closed", segment.start_ms, segment.end_ms, len(self._events)))

    def queue_ahead(self, start_ms: int, end_ms: int) -> None:
        self.calls.append(("ahead", start_ms, end_ms, len(self._events)))


def _first_pass(
    workers: list[ModelWorker],
) -> tuple[FirstPass, LiveTranscript, Segments, list[TranscriptionEvent]]:
    models = live_models(workers)
    assert isinstance(models.asr, StepBatcher)
    events: list[TranscriptionEvent] = []
    segments = Segments(events)
    transcript = LiveTranscript()
    first = FirstPass(models.vad, models.asr, models.punc, transcript, segments, events.append)
    return first, transcript, segments, events


def _samples(seconds: float) -> np.ndarray:
    return np.frombuffer(pcm(seconds), dtype="<i2").astype(np.float32) / 32768.0


def test_a_closed_segment_goes_to_the_second_pass_before_its_speech_end(workers: list[ModelWorker]) -> None:
    first, transcript, segments, events = _first_pass(workers)
    first.push(_samples(3.0))  # one segment, 1.0-2.6 s, closed in the window ending at 2600 ms
    end = next(i for i, e in enumerate(events) if e.vad_event == "speech_end")
    assert segments.calls == [("closed", 1000, 2600, end)]
    assert [(s.index, s.start_ms, s.end_ms) for s in transcript.segments] == [(0, 1000, 2600)]
    assert events[end].current_time_ms == 2600 and transcript.segments[0].text == events[end].partial_text


def test_at_finish_the_vad_reads_ahead_before_any_chunk_runs(workers: list[ModelWorker]) -> None:
    first, transcript, segments, events = _first_pass(workers)
    first.append(_samples(6.3))  # stopping: nothing has run yet
    first.finish()
    assert segments.calls[:2] == [("ahead", 1000, 2600, 0), ("ahead", 4000, 6300, 0)]
    # then each segment is queued again in its turn, which finds the early recognition
    assert [c[:3] for c in segments.calls[2:]] == [("closed", 1000, 2600), ("closed", 4000, 6300)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1)) and transcript.seq == len(events)
    assert events[-1].current_time_ms == 6300


def _heard(events: list[tuple[str, Any]], ms: int) -> Callable[[], bool]:
    return lambda: any(p["current_time_ms"] >= ms for p in named(events, "transcription"))


def _event_bytes(tmp_path: Path, workers: list[ModelWorker], options: SessionOptions) -> list[int]:
    """The JSON size of each transcription event of a 2-minute recording with a sentence every 2 s,
    sent at the pace the session takes it (as a live microphone does)."""
    session, events, _ = live_session(tmp_path, workers, vad=PeriodicVad(), options=options)
    audio = pcm(120.0)
    for second in range(0, 120, 2):
        for start in range(second * 2 * RATE, (second + 2) * 2 * RATE, 3200):
            session.feed(audio[start : start + 3200])
        wait_until(_heard(events, (second + 2) * 1000 - 600))  # up to the last whole chunk
    session.stop()
    assert session.done.wait(30)  # type: ignore[attr-defined]
    assert len(named(events, "sentence_final")) == 60
    return [len(json.dumps(p, ensure_ascii=False).encode()) for p in named(events, "transcription")]


def test_transcription_events_stay_small_however_long_the_recording(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    sizes = _event_bytes(tmp_path / "plain", workers, SessionOptions())
    third = len(sizes) // 3
    # the numbers in them grow by a digit or so; the text stays that of the segments not sent yet
    assert max(sizes[-third:]) <= max(sizes[:third]) + 16, (max(sizes[:third]), max(sizes[-third:]))
    whole = _event_bytes(tmp_path / "full", workers, SessionOptions(full_text=True))
    assert len(whole) == len(sizes)
    # with the whole text asked for, they grow with the transcript (by 1 character per 600 ms here)
    assert whole[-1] > sizes[-1] + 400 and max(whole[-third:]) > max(whole[:third]) + 300
