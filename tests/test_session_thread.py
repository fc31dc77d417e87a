"""A live session's thread on its own, with recording hooks and the stand-in models: announced audio
drives the first pass, stop brings recording_stopped, progress and the final result through `finished`,
a hand-off ends without a final pass, a failing model ends in `failed`, replayed audio is silent, and
every way out ends in `ended`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr_service.audio_intake import AudioIntake
from asr_service.audio_units import SAMPLE_RATE, ms_to_samples, samples_to_bytes
from asr_service.correction import CorrectedText
from asr_service.events import FinalResult, ProgressEvent, RecordingStopped, TranscriptionEvent
from asr_service.first_pass import LiveTranscript
from asr_service.live_types import LiveModels, SessionLimits, SessionOptions
from asr_service.pipeline import Sentence
from asr_service.scheduler import Lanes, ModelWorker, Priority, StepBatcher
from asr_service.second_pass import CorrectionHooks, SecondPass
from asr_service.session_thread import SessionThread, ThreadHooks
from asr_service.spool import RecordingStore, is_being_written

from .fakes import ExplodingRecognizer
from .live_fakes import CountingAsr, live_models, pcm

SESSION_ID = "5e55101d" * 4
WAIT_S = 30.0
Workers = list[ModelWorker]


class Hooks:
    """Records every hook call in one timeline, in order; `wait` blocks until a condition on it holds."""

    def __init__(self, idle_wait_s: float | None = None) -> None:
        self.timeline: list[tuple[str, Any]] = []
        self.idle_wait = idle_wait_s
        self._changed = threading.Condition()

    def _record(self, name: str, value: Any = None) -> None:
        with self._changed:
            self.timeline.append((name, value))
            self._changed.notify_all()

    def thread_hooks(self) -> ThreadHooks:
        return ThreadHooks(
            emit=lambda event: self._record("emit", event),
            idle_wait_s=lambda: self.idle_wait,
            check_idle=lambda: self._record("check_idle"),
            finished=lambda result: self._record("finished", result),
            failed=lambda: self._record("failed"),
            ended=lambda: self._record("ended"),
        )

    def wait(self, condition: Callable[[], bool]) -> None:
        with self._changed:
            assert self._changed.wait_for(condition, WAIT_S), self.timeline

    def wait_ended(self) -> None:
        self.wait(lambda: ("ended", None) in self.timeline)

    def names(self) -> list[str]:
        """The hooks called, an emitted event by its event name."""
        return [value.name if name == "emit" else name for name, value in self.timeline]

    def emitted(self, kind: type[Any]) -> list[Any]:
        return [value for name, value in self.timeline if name == "emit" and isinstance(value, kind)]

    def heard_up_to(self, ms: int) -> Callable[[], bool]:
        return lambda: any(e.current_time_ms >= ms for e in self.emitted(TranscriptionEvent))

    def result(self) -> FinalResult:
        [result] = [value for name, value in self.timeline if name == "finished"]
        assert isinstance(result, FinalResult)
        return result


class RecordingCorrection:
    """A correction that keeps the sentences handed to it and returns them unchanged."""

    def __init__(self) -> None:
        self.added: list[tuple[list[Sentence], list[str]]] = []
        self.got_some = threading.Event()

    def add(self, sentences: Sequence[Sentence], references: Sequence[str] | None = None) -> None:
        self.added.append((list(sentences), list(references or [])))
        self.got_some.set()

    def current(self) -> list[Sentence]:
        return [s for added, _ in self.added for s in added]

    def watch(self, on_window_done: Callable[[], None]) -> None:
        pass

    def finish(self) -> CorrectedText:
        sentences = [s for added, _ in self.added for s in added]
        return CorrectedText(sentences, sentences, [], "recorded", [])


@dataclass
class Recording:
    """A session thread on a spool, as a session would drive it."""

    thread: SessionThread
    audio: AudioIntake
    hooks: Hooks
    transcript: LiveTranscript
    spool_path: Path

    def spool(self, seconds: float) -> int:
        """Append audio to the spool without telling the thread."""
        return _spool(self.audio, seconds)

    def record(self, seconds: float) -> int:
        """Spool audio and tell the thread, as a connection thread does."""
        received = self.spool(seconds)
        self.thread.audio(received)
        return received


def _spool(audio: AudioIntake, seconds: float) -> int:
    """Append `seconds` of a tone in 1 s frames; the samples now spooled."""
    data = pcm(seconds)
    frame = samples_to_bytes(SAMPLE_RATE)
    for start in range(0, len(data), frame):
        audio.accept(data[start : start + frame])
    return audio.received


def _recording(
    tmp_path: Path,
    models: LiveModels,
    hooks: Hooks | None = None,
    replayed_s: float = 0.0,
    correction: RecordingCorrection | None = None,
    language: str = "auto",
) -> Recording:
    """A started session thread; `replayed_s` of audio were spooled "by another process" before it."""
    store = RecordingStore(tmp_path / "rec", 3600)
    limits = SessionLimits()
    audio = AudioIntake(limits, SESSION_ID)
    audio.open(store.create(SESSION_ID))
    hooks = hooks or Hooks()
    transcript = LiveTranscript()
    replay_to = _spool(audio, replayed_s) if replayed_s else 0
    thread = SessionThread(SESSION_ID, models, transcript, audio, hooks.thread_hooks(), replay_to)
    hand_over = CorrectionHooks(correction) if correction is not None else None
    second = SecondPass(
        models.offline,
        audio.read,
        SessionOptions(),
        limits.max_sentence_ms,
        hand_over,
        None,
        thread.recognised,
    )
    thread.start(second, language)
    return Recording(thread, audio, hooks, transcript, store.path(SESSION_ID))


def test_announced_audio_goes_through_the_first_pass_while_recording(
    tmp_path: Path, workers: Workers
) -> None:
    rec = _recording(tmp_path, live_models(workers))
    rec.record(3.0)
    rec.hooks.wait(rec.hooks.heard_up_to(3000))
    assert set(rec.hooks.names()) == {"transcription"}  # no stop yet: no final pass
    events = rec.hooks.emitted(TranscriptionEvent)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    times = [e.current_time_ms for e in events]
    assert times == sorted(times)
    starts = [e for e in events if e.vad_event == "speech_start"]
    assert [e.current_time_ms for e in starts] == [1200]  # ClockVad: speech from 1.0 s, in the 200 ms window
    rec.thread.stop(rec.audio.received)
    rec.hooks.wait_ended()


def test_the_thread_reads_only_the_audio_it_was_told_of(tmp_path: Path, workers: Workers) -> None:
    asr = CountingAsr()
    rec = _recording(tmp_path, live_models(workers, asr=asr))
    rec.spool(3.0)
    rec.thread.audio(ms_to_samples(1200))
    rec.thread.stop(ms_to_samples(1800))  # the spool holds more: it is not the thread's to read
    rec.hooks.wait_ended()
    assert sum(asr.sizes) == ms_to_samples(1800)
    assert max(e.current_time_ms for e in rec.hooks.emitted(TranscriptionEvent)) == 1800


def test_stop_sends_recording_stopped_and_progress_then_the_final_result_through_finished(
    tmp_path: Path, workers: Workers
) -> None:
    rec = _recording(tmp_path, live_models(workers), language="en")
    received = rec.record(5.0)
    rec.thread.stop(received)
    rec.hooks.wait_ended()
    names = rec.hooks.names()
    first_after = len(names) - names[::-1].index("transcription")
    assert names[first_after:] == [
        "recording_stopped",
        "processing_progress",
        "processing_progress",
        "finished",
        "ended",
    ]
    assert rec.hooks.emitted(RecordingStopped) == [RecordingStopped(SESSION_ID, ms_to_samples(5000))]
    assert rec.hooks.emitted(ProgressEvent) == [
        ProgressEvent(0.5, "second_pass"),
        ProgressEvent(1.0, "second_pass"),
    ]
    result = rec.hooks.result()
    assert (result.session_id, result.duration_ms, result.language_requested) == (SESSION_ID, 5000, "en")
    assert result.language is None  # the fake recogniser names no language
    # ClockVad: speech 1.0-2.6 s and 4.0 s to the end; SlowRecognizer names each clip by its length
    assert list(result.timestamps) == [Sentence("s1600", 1000, 2600), Sentence("s1000", 4000, 5000)]
    assert result.paraformer_raw == rec.transcript.raw_text and result.paraformer_raw.endswith("z")
    assert rec.thread.caught_up.is_set() and rec.thread.join(WAIT_S)


def test_a_recording_without_audio_still_gets_its_final_result(tmp_path: Path, workers: Workers) -> None:
    rec = _recording(tmp_path, live_models(workers))
    rec.thread.stop(0)
    rec.hooks.wait_ended()
    names = rec.hooks.names()
    assert names[-3:] == ["recording_stopped", "finished", "ended"] and "processing_progress" not in names
    assert rec.hooks.result().duration_ms == 0 and rec.hooks.result().timestamps == ()


def test_hand_off_ends_without_a_final_pass_and_closes_the_spool(tmp_path: Path, workers: Workers) -> None:
    rec = _recording(tmp_path, live_models(workers))
    rec.record(3.0)
    assert is_being_written(rec.spool_path)
    rec.thread.hand_off()
    rec.hooks.wait_ended()
    assert set(rec.hooks.names()) == {"transcription", "ended"} and rec.hooks.names()[-1] == "ended"
    assert not is_being_written(rec.spool_path)  # another process may take the recording over
    assert rec.thread.join(WAIT_S)


class ExplodingStream:
    """A streaming model that crashes on its first chunk."""

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> str:
        raise RuntimeError("streaming model crashed")


def test_a_failing_second_pass_fails_the_recording_after_recording_stopped(
    tmp_path: Path, workers: Workers, caplog: pytest.LogCaptureFixture
) -> None:
    rec = _recording(tmp_path, live_models(workers, recognizer=ExplodingRecognizer()))
    rec.thread.stop(rec.record(3.0))
    rec.hooks.wait_ended()
    assert rec.hooks.names()[-3:] == ["recording_stopped", "failed", "ended"]
    assert "finished" not in rec.hooks.names()
    assert f"session {SESSION_ID} failed" in caplog.text


def test_a_failing_streaming_model_fails_the_recording_at_once_and_frees_its_lane(
    tmp_path: Path, workers: Workers
) -> None:
    lanes = Lanes([StepBatcher(ExplodingStream(), workers[1], Priority.REALTIME)])
    models = replace(live_models(workers), asr=lanes)
    rec = _recording(tmp_path, models)
    rec.record(1.0)  # no stop: the first chunk's failure ends the thread
    rec.hooks.wait_ended()
    assert rec.hooks.names() == ["failed", "ended"]
    assert lanes.users() == [0]
    assert rec.thread.caught_up.is_set()


def test_replayed_audio_is_processed_silently_until_caught_up(tmp_path: Path, workers: Workers) -> None:
    asr = CountingAsr()
    rec = _recording(tmp_path, live_models(workers, asr=asr), replayed_s=3.0)
    assert not rec.thread.caught_up.is_set()
    rec.thread.audio(rec.audio.received)  # as a resumed session does: replay what the spool holds
    assert rec.thread.caught_up.wait(WAIT_S)
    assert rec.hooks.names() == []  # 3 s went through the first pass without a word to the client
    received = rec.record(2.0)
    rec.hooks.wait(rec.hooks.heard_up_to(4800))
    heard = rec.hooks.emitted(TranscriptionEvent)
    assert min(e.current_time_ms for e in heard) > 3000
    assert heard[0].seq > 1  # numbered after the replayed events, which the other process sent
    rec.thread.stop(received)
    rec.hooks.wait_ended()
    assert rec.hooks.result().duration_ms == 5000
    assert len(rec.hooks.result().paraformer_raw) == len(asr.sizes)  # the replayed chunks' text too


def test_caught_up_is_set_even_when_a_replay_is_handed_off(tmp_path: Path, workers: Workers) -> None:
    rec = _recording(tmp_path, live_models(workers), replayed_s=2.0)
    rec.thread.hand_off()
    rec.hooks.wait_ended()
    assert rec.thread.caught_up.is_set() and rec.hooks.names() == ["ended"]


def test_a_new_recording_is_caught_up_from_the_start(tmp_path: Path, workers: Workers) -> None:
    rec = _recording(tmp_path, live_models(workers))
    assert rec.thread.caught_up.is_set()
    rec.thread.stop(0)
    rec.hooks.wait_ended()


def test_an_empty_inbox_asks_the_session_to_check_for_idleness(tmp_path: Path, workers: Workers) -> None:
    hooks = Hooks(idle_wait_s=0.01)
    rec = _recording(tmp_path, live_models(workers), hooks)
    hooks.wait(lambda: hooks.names().count("check_idle") >= 3)  # again and again while nothing comes
    rec.thread.stop(0)  # and the thread still takes what comes next
    hooks.wait_ended()
    assert hooks.names()[-3:] == ["recording_stopped", "finished", "ended"]


def test_recognised_segments_go_to_the_correction_while_recording(tmp_path: Path, workers: Workers) -> None:
    correction = RecordingCorrection()
    rec = _recording(tmp_path, live_models(workers), correction=correction)
    rec.record(3.0)  # the first segment (1.0-2.6 s) closes, and its second pass runs
    assert correction.got_some.wait(WAIT_S)  # before any stop
    [(sentences, references)] = correction.added
    assert sentences == [Sentence("s1600", 1000, 2600)]
    assert references == [rec.transcript.segments[0].text]
    rec.thread.stop(rec.audio.received)
    rec.hooks.wait_ended()
    assert rec.hooks.result().llm_status == "recorded"
    assert [s for added, _ in correction.added for s in added] == [Sentence("s1600", 1000, 2600)]
