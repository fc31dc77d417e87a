"""Stand-in live models with known timing and text, and a live session built on them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asr_service.live_types import LiveModels, SessionLimits, SessionOptions
from asr_service.recording_session import RecordingSession
from asr_service.results import ResultStore
from asr_service.roles import Heard, RecognitionOptions
from asr_service.scheduler import ModelWorker, OnWorker, Priority, StepBatcher
from asr_service.spool import RecordingStore

from .fakes import EventSink

RATE = 16000


class ClockVad:
    """Speech from 1.0 s to 2.6 s and from 4.0 s on, reported like FSMN-VAD does."""

    SPANS: tuple[tuple[int, int], ...] = ((1000, 2600), (4000, 10**9))

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


class PeriodicVad(ClockVad):
    """Speech for 1.2 s of every 2 s from 1.0 s on: a segment closes every 2 s, for 10 minutes."""

    SPANS = tuple((start, start + 1200) for start in range(1000, 600_000, 2000))


class CountingAsr:
    """One letter per chunk, 'z' on the final call; records chunk sizes."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def step(self, chunk: np.ndarray, cache: dict[str, Any], is_final: bool) -> str:
        self.sizes.append(len(chunk))
        return "z" if is_final else chr(ord("a") + len(self.sizes) % 26)


class BracketPunc:
    def punctuate(self, text: str, cache: dict[str, Any]) -> str:
        return f"[{text}]"


class SlowRecognizer:
    """Counts calls; can be held to show the second pass runs during recording."""

    def __init__(self) -> None:
        self.calls = 0
        self.called = threading.Event()

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        self.calls += 1
        self.called.set()
        return [Heard(f"s{len(c) * 1000 // RATE}") for c in clips]


def live_models(
    workers: list[ModelWorker],
    recognizer: Any = None,
    asr: CountingAsr | None = None,
    vad: ClockVad | None = None,
) -> LiveModels:
    """The stand-ins on the four workers (VAD, ASR, punctuation, offline)."""
    return LiveModels(
        vad=OnWorker(vad or ClockVad(), workers[0], Priority.REALTIME),
        asr=StepBatcher(asr or CountingAsr(), workers[1], Priority.REALTIME),
        punc=OnWorker(BracketPunc(), workers[2], Priority.REALTIME),
        offline=OnWorker(recognizer or SlowRecognizer(), workers[3], Priority.SECOND_PASS),
    )


def live_session(
    tmp_path: Path,
    workers: list[ModelWorker],
    limits: SessionLimits | None = None,
    recognizer: Any = None,
    asr: CountingAsr | None = None,
    vad: ClockVad | None = None,
    options: SessionOptions | None = None,
) -> tuple[RecordingSession, list[tuple[str, Any]], CountingAsr]:
    """A started session on the stand-ins; `session.done` is set by its final result."""
    asr = asr or CountingAsr()
    session = RecordingSession(
        live_models(workers, recognizer, asr, vad),
        RecordingStore(tmp_path / "rec", 3600),
        ResultStore(tmp_path / "res", 3600),
        limits or SessionLimits(),
    )
    sink = EventSink()
    session.start(options or SessionOptions(), sink)
    session.done = sink.done  # type: ignore[attr-defined]
    return session, sink.events, asr


def pcm(seconds: float) -> bytes:
    """A tone as s16le PCM."""
    n = int(seconds * RATE)
    return (np.sin(np.arange(n) / 7.0) * 8000).astype("<i2").tobytes()


def record(session: RecordingSession, audio: bytes, sizes: Sequence[int]) -> None:
    """Feed `audio` in frames of the given sizes (in turn), stop, and wait for the final result."""
    position = 0
    i = 0
    while position < len(audio):
        size = sizes[i % len(sizes)]
        session.feed(audio[position : position + size])
        position += size
        i += 1
    session.stop()
    assert session.done.wait(30)  # type: ignore[attr-defined]


def transcriptions(events: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """The transcription events without `partial_text`, which depends on when second passes finish."""
    return [{k: v for k, v in p.items() if k != "partial_text"} for e, p in events if e == "transcription"]


def observed(events: list[tuple[str, Any]]) -> tuple[list[Any], dict[str, Any]]:
    """The transcription events (see `transcriptions`) and the final result, without the session's ids."""
    final = next(p for e, p in events if e == "final_result")
    ids = ("session_id", "backup_audio_id")
    return transcriptions(events), {k: v for k, v in final.items() if k not in ids}


class SentenceView:
    """The sentences a client holds: a resume snapshot, then sentence events applied in order; each
    event is checked against the rules of docs/websocket.md (each index once, revisions one up)."""

    def __init__(self, snapshot: Sequence[dict[str, Any]] = ()) -> None:
        self.sentences: dict[int, dict[str, Any]] = {s["index"]: s for s in snapshot}
        assert sorted(self.sentences) == list(range(len(snapshot))), "the snapshot has gaps"
        self.finals = 0  # sentence_final events applied

    def apply(self, events: Sequence[tuple[str, Any]]) -> SentenceView:
        """Apply every sentence event of `events`, in order; returns the view."""
        for name, payload in events:
            index = payload.get("index") if isinstance(payload, dict) else None
            if name == "sentence_final":
                assert index == len(self.sentences) and payload["revision"] == 0, (payload, self.sentences)
                self.sentences[index] = payload
                self.finals += 1
            elif name == "sentence_update":
                assert index in self.sentences and payload["reason"] == "llm", payload
                assert payload["revision"] == self.sentences[index]["revision"] + 1, payload
                self.sentences[index] = payload
        return self

    def timestamps(self) -> list[dict[str, Any]]:
        """The sentences as final_result.timestamps has them."""
        drop = ("index", "revision", "reason")
        return [{k: v for k, v in self.sentences[i].items() if k not in drop} for i in sorted(self.sentences)]


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Wait (polling) until `condition()` holds; fail after a generous `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.005)


def named(events: list[tuple[str, Any]], name: str) -> list[Any]:
    """The payloads of the events called `name`."""
    return [p for e, p in list(events) if e == name]
