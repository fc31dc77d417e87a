"""A live session's life with stand-in models: frames and limits, states, failure, the idle timeout."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr_service.errors import SessionError
from asr_service.live_types import SessionLimits, SessionOptions, SessionState
from asr_service.results import ResultStore
from asr_service.roles import Heard, RecognitionOptions
from asr_service.scheduler import ModelWorker

from .fakes import EventSink
from .live_fakes import (
    RATE,
    PeriodicVad,
    SentenceView,
    SlowRecognizer,
    live_session,
    named,
    pcm,
    wait_until,
)


def test_odd_bytes_wait_for_the_next_frame(tmp_path: Path, workers: list[ModelWorker]) -> None:
    session, _, _ = live_session(tmp_path, workers)
    audio = pcm(1.0)
    session.feed(audio[:101])
    assert session.snapshot().to_wire()["received_ms"] == 50 * 1000 // RATE
    assert session.snapshot().to_wire()["received_bytes"] == 101
    session.feed(audio[101:])
    session.stop()
    assert session.done.wait(10)  # type: ignore[attr-defined]
    assert (tmp_path / "rec" / f"{session.session_id}.wav").read_bytes()[44:] == audio


def test_limits_and_states(tmp_path: Path, workers: list[ModelWorker]) -> None:
    limits = SessionLimits(max_frame_bytes=1000, max_session_s=1.0)
    session, events, _ = live_session(tmp_path, workers, limits)
    with pytest.raises(SessionError) as info:
        session.feed(b"\0" * 1002)
    assert info.value.code == "frame_too_large"
    with pytest.raises(SessionError) as info:
        session.start(SessionOptions(), lambda _event: None)
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
    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        raise RuntimeError("second pass crashed")


def test_a_failed_recording_says_so_and_keeps_its_audio(tmp_path: Path, workers: list[ModelWorker]) -> None:
    session, events, _ = live_session(tmp_path, workers, recognizer=BrokenRecognizer())
    audio = pcm(3.0)
    session.feed(audio[:48000])
    session.feed(audio[48000:])
    session.stop()
    assert session.wait_done(10)
    errors = [p for e, p in events if e == "error"]
    assert [e["code"] for e in errors] == ["recording_failed"]
    assert session.session_id in errors[0]["message"]
    assert (tmp_path / "rec" / f"{session.session_id}.wav").read_bytes()[44:] == audio


def test_a_recording_without_audio_is_stopped_and_finalised(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    session, events, _ = live_session(tmp_path, workers, SessionLimits(idle_timeout_s=0.5))
    audio = pcm(3.0)  # speech from 1.0 s, still running when the audio stops coming
    for start in range(0, len(audio), 3200):
        session.feed(audio[start : start + 3200])
    assert session.done.wait(30), "a client that stopped sending audio kept its recording"  # type: ignore[attr-defined]
    names = [e for e, _ in events]
    errors = [p for e, p in events if e == "error"]
    assert [e["code"] for e in errors] == ["idle_timeout"]
    assert names.index("error") < names.index("recording_stopped") < names.index("final_result")
    final = next(p for e, p in events if e == "final_result")
    assert final["duration_ms"] == 3000  # everything received was recognised and kept
    assert [(s["start_ms"], s["end_ms"]) for s in final["realtime_segments"]] == [(1000, 2600)]
    assert final["timestamps"] == [
        {"text": "s1600", "start_ms": 1000, "end_ms": 2600, "language": None, "emotion": None, "events": []}
    ]
    assert (tmp_path / "res").is_dir() and any((tmp_path / "res").iterdir())  # the result is stored
    with pytest.raises(SessionError) as info:
        session.feed(audio[:3200])
    assert info.value.code == "not_recording"


def test_a_parked_recording_is_left_to_its_resume_window(tmp_path: Path, workers: list[ModelWorker]) -> None:
    session, _, _ = live_session(tmp_path, workers, SessionLimits(idle_timeout_s=60))
    session.feed(pcm(1.0))
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


def test_the_final_result_is_kept_stored_and_given_to_a_late_client(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    session, events, _ = live_session(tmp_path, workers)
    audio = pcm(3.0)
    for start in range(0, len(audio), 32000):
        session.feed(audio[start : start + 32000])
    session.stop()
    assert session.done.wait(30)  # type: ignore[attr-defined]
    sent = next(p for e, p in events if e == "final_result")
    names = [e for e, _ in events]
    assert names[-2:] == ["processing_progress", "final_result"] and events[-2][1] == {
        "progress": 1.0,
        "stage": "done",
    }
    snapshot, final = session.attach(EventSink())
    assert final is session.final_result and final is not None and final.to_wire() == sent
    assert snapshot.state is SessionState.DONE and snapshot.received_samples == 3 * RATE
    stored = ResultStore(tmp_path / "res", 3600).load(session.session_id, session.resume_token)
    assert stored == sent  # the stored result is the wire form, key for key


def _feed(session: Any, audio: bytes, frame: int = 3200) -> None:
    for start in range(0, len(audio), frame):
        session.feed(audio[start : start + frame])


def test_sentences_are_pushed_while_recording_and_are_the_final_result(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    session, events, _ = live_session(tmp_path, workers, vad=PeriodicVad())
    audio = pcm(12.3)
    _feed(session, audio[: 8 * 2 * RATE])
    wait_until(lambda: len(named(events, "sentence_final")) >= 2)  # segments 1.0-2.2 s, 3.0-4.2 s, ...
    assert session.state is SessionState.RECORDING
    _feed(session, audio[8 * 2 * RATE :])
    session.stop()
    assert session.done.wait(30)  # type: ignore[attr-defined]
    names = [e for e, _ in events]
    final = named(events, "final_result")[0]
    view = SentenceView().apply(events)
    assert view.timestamps() == final["timestamps"] and view.finals == len(final["timestamps"]) == 6
    assert final["timestamps"][0] == {
        "text": "s1200", "start_ms": 1000, "end_ms": 2200, "language": None, "emotion": None, "events": []
    }
    assert max(i for i, e in enumerate(names) if e.startswith("sentence_")) < names.index("final_result")
    # a segment's sentence comes after its speech end, and its text then leaves partial_text
    first = names.index("sentence_final")
    assert "speech_end" in [p["vad_event"] for p in named(events[:first], "transcription")]
    later = named(events[first:], "transcription")
    assert later and not any(
        p["partial_text"].startswith("[") and "]" not in p["partial_text"] for p in later
    )


class GatedRecognizer(SlowRecognizer):
    """Recognises the first two segments at once, the others once `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        if self.calls >= 2:
            self.gate.wait(30)
        return super().recognize(clips, options)


def test_a_resume_mid_recording_gets_a_snapshot_then_the_rest_each_once(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    recognizer = GatedRecognizer()
    session, before, _ = live_session(tmp_path, workers, recognizer=recognizer, vad=PeriodicVad())
    audio = pcm(30.0)
    _feed(session, audio[: 20 * 2 * RATE])
    wait_until(lambda: len(named(before, "sentence_final")) == 2)
    session.detach()  # the client went away; its recording goes on being processed
    recognizer.gate.set()
    pushed = 2
    wait_until(lambda: len(session.snapshot().sentences) > pushed)  # some go out to nobody
    after = EventSink()
    snapshot, final = session.attach(after)
    assert final is None and snapshot.state is SessionState.RECORDING
    sentences = snapshot.to_wire()["sentences"]
    assert sentences[:pushed] == named(before, "sentence_final")  # the snapshot agrees with what was sent
    _feed(session, audio[20 * 2 * RATE :])
    session.stop()
    assert after.done.wait(30)
    view = SentenceView(sentences).apply(after.events)  # fails on any index sent twice or skipped
    assert view.finals > 0, "no sentence came after the snapshot"
    assert view.timestamps() == named(after.events, "final_result")[0]["timestamps"]
    assert len(view.timestamps()) == 15


def test_rebinding_races_with_sentences_and_loses_or_doubles_none(
    tmp_path: Path, workers: list[ModelWorker]
) -> None:
    session, _, _ = live_session(tmp_path, workers, vad=PeriodicVad())
    audio = pcm(40.0)

    def pushed_at_least(count: int) -> Callable[[], bool]:
        return lambda: len(session.snapshot().sentences) >= count

    def feed() -> None:  # 2 s at a time, as the sentences come, so sentences go out while binding
        for second in range(0, 40, 2):
            _feed(session, audio[second * 2 * RATE : (second + 2) * 2 * RATE])
            wait_until(pushed_at_least(second // 2 - 1))
        session.stop()

    feeding = threading.Thread(target=feed, daemon=True)
    feeding.start()
    bound: list[tuple[list[dict[str, Any]], EventSink]] = []
    final = None
    while final is None:  # a new client binds again and again meanwhile, as resumes do
        sink = EventSink()
        resumed, final = session.attach(sink)  # the final result, once it has been sent
        bound.append((resumed.to_wire()["sentences"], sink))
    feeding.join(30)
    for (sentences, sink), (next_sentences, _) in itertools.pairwise(bound):
        assert (
            SentenceView(sentences).apply(sink.events).timestamps()
            == SentenceView(next_sentences).timestamps()
        )
    assert len(bound) > 2 and len({len(s) for s, _ in bound}) > 2  # the snapshots moved along
    timestamps = final.to_wire()["timestamps"]
    assert SentenceView(bound[-1][0]).timestamps() == timestamps and len(timestamps) == 20
    before_last, sink = bound[-2]
    assert named(sink.events, "final_result") == [final.to_wire()]  # the one bound when it was sent
    assert SentenceView(before_last).apply(sink.events).timestamps() == timestamps
