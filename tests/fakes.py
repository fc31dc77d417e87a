"""Tiny stand-ins for the model roles, so core logic is tested without FunASR."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asr_service.connections import Connections
from asr_service.events import LiveEvent
from asr_service.handoff import HandoffStore, SharedData
from asr_service.live_types import LiveModels, SessionLimits
from asr_service.recording_session import RecordingSession
from asr_service.registry import SessionRegistry
from asr_service.results import ResultStore
from asr_service.roles import Heard, RecognitionOptions, Span
from asr_service.scheduler import ModelWorker, OnWorker, Priority, StepBatcher
from asr_service.segments import SAMPLE_RATE
from asr_service.spool import RecordingStore
from asr_service.takeover import HandoffWriter, Takeover


class FixedDetector:
    """Reports the spans it was given."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans

    def detect(self, audio: np.ndarray) -> list[Span]:
        return list(self.spans)


class LengthRecognizer:
    """Names each clip by its length, so tests can see which audio reached the model."""

    def __init__(self, silent_below_ms: int = 0) -> None:
        self.calls: list[int] = []
        self.silent_below_ms = silent_below_ms

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        self.calls.append(len(clips))
        lengths = [len(c) * 1000 // SAMPLE_RATE for c in clips]
        return [Heard("" if ms < self.silent_below_ms else f"clip{ms}") for ms in lengths]


class ExplodingRecognizer:
    """Fails like a crashing model."""

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        raise RuntimeError("model crashed")


class NoSpeechStream:
    """Streaming VAD that never hears speech."""

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> list[tuple[int, int]]:
        return []


class SilentStream:
    """Streaming ASR that never hears words."""

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> str:
        return ""


class PlainPunctuator:
    """Adds no punctuation."""

    def punctuate(self, text: str, cache: dict[str, object]) -> str:
        return text


def silent_live_models(worker: ModelWorker) -> LiveModels:
    """Live models that hear no speech and no words, all on one worker."""
    return LiveModels(
        vad=OnWorker(NoSpeechStream(), worker, Priority.REALTIME),
        asr=StepBatcher(SilentStream(), worker, Priority.REALTIME),
        punc=OnWorker(PlainPunctuator(), worker, Priority.REALTIME),
        offline=OnWorker(LengthRecognizer(), worker, Priority.SECOND_PASS),
    )


class EventSink:
    """A session's event sink: keeps (event name, wire payload) in order; `done` is set by final_result."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.done = threading.Event()

    def __call__(self, event: LiveEvent) -> None:
        self.events.append((event.name, event.to_wire()))
        if event.name == "final_result":
            self.done.set()


@dataclass
class LiveCore:
    """One process's live-session core (registry, takeover, connections) on a data directory."""

    registry: SessionRegistry
    takeover: Takeover
    connections: Connections


def live_core(
    data: Path,
    worker: ModelWorker,
    max_active: int = 4,
    grace_s: float = 60.0,
    models: LiveModels | None = None,
) -> LiveCore:
    """The core as the engine wires it, on `models` (silent ones by default); cores on one `data`
    share recordings."""
    models = models or silent_live_models(worker)
    recordings, results = RecordingStore(data / "recordings", 60), ResultStore(data / "results", 60)
    shared = SharedData(HandoffStore(data / "sessions", 60), recordings, results)

    def factory(on_done: Callable[[RecordingSession], None], **identity: str) -> RecordingSession:
        return RecordingSession(
            models, recordings, results, SessionLimits(), on_done=on_done, corrector=None, **identity
        )

    registry = SessionRegistry(factory, max_active, grace_s, publish=HandoffWriter(shared.handoff))
    takeover = Takeover(registry, shared)
    return LiveCore(registry, takeover, Connections(registry, takeover))


class ManualClock:
    """A clock that moves only when a test sets `now`."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
