"""A live session with stand-in models: chunking, ordering, second pass during recording, limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr_service.errors import SessionError
from asr_service.results import ResultStore
from asr_service.scheduler import ModelWorker, OnWorker, Priority, StepBatcher
from asr_service.spool import RecordingStore
from asr_service.streaming import LiveModels, RecordingSession, SessionLimits, SessionOptions, SessionState

from .fakes import EventSink

RATE = 16000


class ClockVad:
    """Speech from 1.0 s to 2.6 s and from 4.0 s on, reported like FSMN-VAD does."""

    SPANS = ((1000, 2600), (4000, 10**9))

    def step(self, chunk: np.ndarray, cache: dict[str, Any], is_final: bool) -> list[tuple[int, int]]:
        start = int(cache.get("ms", 0))
        end = start + len(chunk) * 1000 // RATE
        cache["ms"] = end
        events = []
        for begin, finish in self.SPANS:
            if start <= begin < end:
                events.append((begin, -1))
            if start < finish <= end:
                events.append((-1, finish))
        return events


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


class CountingAsr:
    """One letter per chunk, 'z' on the final call; records chunk sizes."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def step(self, chunk: np.ndarray, cache: dict[str, Any], is_final: bool) -> str:
        self.sizes.append(len(chunk))
        return "z" if is_final else chr(ord("a") + len(self.sizes) % 26)


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


class BracketPunc:
    def punctuate(self, text: str, cache: dict[str, Any]) -> str:
        return f"[{text}]"


class SlowRecognizer:
    """Counts calls; can be held to show the second pass runs during recording."""

    def __init__(self) -> None:
        self.calls = 0
        self.called = threading.Event()

    def recognize(self, clips: Sequence[np.ndarray], language: str, use_itn: bool) -> list[str]:
        self.calls += 1
        self.called.set()
        return [f"s{len(c) * 1000 // RATE}" for c in clips]


def _session(
    tmp_path: Path,
    workers: list[ModelWorker],
    limits: SessionLimits | None = None,
    recognizer: SlowRecognizer | None = None,
    asr: CountingAsr | None = None,
    vad: ClockVad | None = None,
) -> tuple[RecordingSession, list[tuple[str, Any]], CountingAsr]:
    asr = asr or CountingAsr()
    models = LiveModels(
        vad=OnWorker(vad or ClockVad(), workers[0], Priority.REALTIME),
        asr=StepBatcher(asr, workers[1], Priority.REALTIME),
        punc=OnWorker(BracketPunc(), workers[2], Priority.REALTIME),
        offline=OnWorker(recognizer or SlowRecognizer(), workers[3], Priority.SECOND_PASS),
    )
    session = RecordingSession(
        models,
        RecordingStore(tmp_path / "rec", 3600),
        ResultStore(tmp_path / "res", 3600),
        limits or SessionLimits(),
    )
    sink = EventSink()
    session.start(SessionOptions(), sink)
    session.done = sink.done  # type: ignore[attr-defined]
    return session, sink.events, asr


def _pcm(seconds: float) -> bytes:
    n = int(seconds * RATE)
    return (np.sin(np.arange(n) / 7.0) * 8000).astype("<i2").tobytes()


def _run(session: RecordingSession, pcm: bytes, sizes: Sequence[int]) -> None:
    position = 0
    i = 0
    while position < len(pcm):
        size = sizes[i % len(sizes)]
        session.feed(pcm[position : position + size])
        position += size
        i += 1
    session.stop()
    assert session.done.wait(30)  # type: ignore[attr-defined]


def test_frame_sizes_do_not_change_events_or_chunks(tmp_path: Path, workers: list[ModelWorker]) -> None:
    pcm = _pcm(6.3)
    runs = []
    for index, sizes in enumerate(([19200], [321, 7777, 2], [64000], [1, 3, 5, 999])):
        session, events, asr = _session(tmp_path / str(index), workers)
        _run(session, pcm, sizes)
        transcription = [p for e, p in events if e == "transcription"]
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
    assert sizes == [9600] * 10 + [len(pcm) // 2 - 96000]  # 600 ms chunks, the rest with is_final
    assert final["duration_ms"] == 6300
    assert [(s["start_ms"], s["end_ms"]) for s in final["realtime_segments"]] == [(1000, 2600), (4000, 6300)]
    assert final["timestamps"] == [
        {"text": "s1600", "start_ms": 1000, "end_ms": 2600},
        {"text": "s2300", "start_ms": 4000, "end_ms": 6300},
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
    session, events, _ = _session(tmp_path, workers)
    _run(session, _pcm(20), [3200])
    final = next(p for e, p in events if e == "final_result")
    pieces = final["paraformer"].strip("[]").split("][")
    # first commit at the speech end (2.6 s: 4 chunks of text), then every 20 characters, then the rest
    assert [len(p) for p in pieces] == [4, 20, 10]
    assert "".join(pieces) == final["paraformer_raw"]


def test_second_pass_starts_while_recording(tmp_path: Path, workers: list[ModelWorker]) -> None:
    recognizer = SlowRecognizer()
    session, _, _ = _session(tmp_path, workers, recognizer=recognizer)
    pcm = _pcm(3.5)
    session.feed(pcm[:56000])
    session.feed(pcm[56000:])
    assert recognizer.called.wait(10), "the closed segment was not recognised before stop"
    assert session.state is SessionState.RECORDING
    session.stop()
    assert session.done.wait(10)  # type: ignore[attr-defined]
    assert recognizer.calls == 1  # the audio ends before the second stretch of speech


def _observed(events: list[tuple[str, Any]]) -> tuple[list[Any], dict[str, Any]]:
    """The transcription events and the final result, without the session's ids."""
    final = next(p for e, p in events if e == "final_result")
    ids = ("session_id", "backup_audio_id")
    return [p for e, p in events if e == "transcription"], {k: v for k, v in final.items() if k not in ids}


def test_at_stop_second_passes_start_before_the_chunks_still_due(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    pcm = _pcm(6.3)  # segments 1.0-2.6 s and 4.0 s to the end; 10 whole chunks, then 300 ms
    recognizer = SlowRecognizer()
    asr = HeldAsr(recognizer, last_whole_chunk=10)
    session, events, _ = _session(tmp_path / "held", workers, recognizer=recognizer, asr=asr)
    for start in range(0, len(pcm), 3200):
        session.feed(pcm[start : start + 3200])
    session.stop()
    asr.release.set()
    assert session.done.wait(30)  # type: ignore[attr-defined]
    # both segments went to the second pass while the streaming model still had chunks to run
    assert asr.second_passes_before_last_chunk == 2
    assert recognizer.calls == 2  # and only once each

    # the same events and result as a recording whose audio was all heard before the stop
    calm, calm_events, calm_asr = _session(tmp_path / "calm", workers)
    for start in range(0, len(pcm), 3200):
        calm.feed(pcm[start : start + 3200])
    deadline = time.monotonic() + 10
    while len(calm_asr.sizes) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    calm.stop()
    assert calm.done.wait(30)  # type: ignore[attr-defined]
    assert asr.sizes == calm_asr.sizes == [9600] * 10 + [4800]
    assert _observed(events) == _observed(calm_events)


def test_a_whole_chunk_starts_before_the_vad_window_that_ends_with_it(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    asr = CountingAsr()
    vad = WaitingVad(asr)
    session, events, _ = _session(tmp_path / "overlap", workers, asr=asr, vad=vad)
    pcm = _pcm(3.0)
    for start in range(0, len(pcm), 3200):  # 100 ms frames
        session.feed(pcm[start : start + 3200])
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


def test_odd_bytes_wait_for_the_next_frame(tmp_path: Path, workers: list[ModelWorker]) -> None:
    session, _, _ = _session(tmp_path, workers)
    pcm = _pcm(1.0)
    session.feed(pcm[:101])
    assert session.snapshot()["received_ms"] == 50 * 1000 // RATE
    assert session.snapshot()["received_bytes"] == 101
    session.feed(pcm[101:])
    session.stop()
    assert session.done.wait(10)  # type: ignore[attr-defined]
    assert (tmp_path / "rec" / f"{session.session_id}.wav").read_bytes()[44:] == pcm


def test_limits_and_states(tmp_path: Path, workers: list[ModelWorker]) -> None:
    limits = SessionLimits(max_frame_bytes=1000, max_session_s=1.0)
    session, events, _ = _session(tmp_path, workers, limits)
    with pytest.raises(SessionError) as info:
        session.feed(b"\0" * 1002)
    assert info.value.code == "frame_too_large"
    with pytest.raises(SessionError) as info:
        session.start(SessionOptions(), lambda e, p: None)
    assert info.value.code == "already_recording"
    with pytest.raises(SessionError) as info:
        for _ in range(40):
            session.feed(b"\1\0" * 500)
    assert info.value.code == "session_too_long"
    assert session.done.wait(10)  # type: ignore[attr-defined]
    assert next(p for e, p in events if e == "final_result")["duration_ms"] == 1000
    for call in (lambda: session.feed(b"\0\0"), session.stop):
        with pytest.raises(SessionError) as info:
            call()
        assert info.value.code == "not_recording"


class BrokenRecognizer(SlowRecognizer):
    def recognize(self, clips: Sequence[np.ndarray], language: str, use_itn: bool) -> list[str]:
        raise RuntimeError("second pass crashed")


def test_a_failed_recording_says_so_and_keeps_its_audio(tmp_path: Path, workers: list[ModelWorker]) -> None:
    session, events, _ = _session(tmp_path, workers, recognizer=BrokenRecognizer())
    pcm = _pcm(3.0)
    session.feed(pcm[:48000])
    session.feed(pcm[48000:])
    session.stop()
    assert session.wait_done(10)
    errors = [p for e, p in events if e == "error"]
    assert [e["code"] for e in errors] == ["recording_failed"]
    assert session.session_id in errors[0]["message"]
    assert (tmp_path / "rec" / f"{session.session_id}.wav").read_bytes()[44:] == pcm


def test_a_recording_without_audio_is_stopped_and_finalised(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    session, events, _ = _session(tmp_path, workers, SessionLimits(idle_timeout_s=0.5))
    pcm = _pcm(3.0)  # speech from 1.0 s, still running when the audio stops coming
    for start in range(0, len(pcm), 3200):
        session.feed(pcm[start : start + 3200])
    assert session.done.wait(30), "a client that stopped sending audio kept its recording"  # type: ignore[attr-defined]
    names = [e for e, _ in events]
    errors = [p for e, p in events if e == "error"]
    assert [e["code"] for e in errors] == ["idle_timeout"]
    assert names.index("error") < names.index("recording_stopped") < names.index("final_result")
    final = next(p for e, p in events if e == "final_result")
    assert final["duration_ms"] == 3000  # everything received was recognised and kept
    assert [(s["start_ms"], s["end_ms"]) for s in final["realtime_segments"]] == [(1000, 2600)]
    assert final["timestamps"] == [{"text": "s1600", "start_ms": 1000, "end_ms": 2600}]
    assert (tmp_path / "res").is_dir() and any((tmp_path / "res").iterdir())  # the result is stored
    with pytest.raises(SessionError) as info:
        session.feed(pcm[:3200])
    assert info.value.code == "not_recording"


def test_a_parked_recording_is_left_to_its_resume_window(tmp_path: Path, workers: list[ModelWorker]) -> None:
    session, _, _ = _session(tmp_path, workers, SessionLimits(idle_timeout_s=60))
    session.feed(_pcm(1.0))
    session.detach()
    session._last_audio_at -= 100  # as if parked for longer than the idle timeout
    session._stop_if_idle(60)
    assert session.state is SessionState.PARKED  # the registry's resume window decides, not this
    resumed = EventSink()
    session.attach(resumed)
    session._stop_if_idle(60)
    assert session.state is SessionState.RECORDING  # a resumed client gets the whole idle time again
    session._last_audio_at -= 100
    session._stop_if_idle(60)
    assert session.state is SessionState.FINALIZING
    assert session.wait_done(30)
    assert [p["code"] for e, p in resumed.events if e == "error"] == ["idle_timeout"]
