"""A live session's life with stand-in models: frames and limits, states, failure, the idle timeout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from asr_service.errors import SessionError
from asr_service.live_types import SessionLimits, SessionOptions, SessionState
from asr_service.results import ResultStore
from asr_service.roles import Heard, RecognitionOptions
from asr_service.scheduler import ModelWorker

from .fakes import EventSink
from .live_fakes import RATE, SlowRecognizer, live_session, pcm


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
