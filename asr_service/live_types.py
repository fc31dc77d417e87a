"""The vocabulary of a live recording: its states, the client's options, the service's caps, its models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

from .audio_units import PCM_BYTES_PER_S
from .roles import Punctuator, SpeechRecognizer, StreamingDetector
from .scheduler import Lanes, OnWorker, StepBatcher


class SessionState(str, Enum):
    """Where a session is in its life."""

    IDLE = "idle"
    RECORDING = "recording"
    PARKED = "parked"
    FINALIZING = "finalizing"
    DONE = "done"


@dataclass(frozen=True)
class SessionOptions:
    """What the client asked for in start_recording."""

    language: str = "auto"
    use_itn: bool = True
    hotwords: tuple[str, ...] = ()
    llm_correct: bool = False
    word_timestamps: bool = False
    full_text: bool = False  # transcription events carry the whole transcript so far (old clients)


@dataclass(frozen=True)
class SessionLimits:
    """Caps that protect the service from one client."""

    max_frame_bytes: int = 2 * PCM_BYTES_PER_S
    max_session_s: float = 4 * 3600.0
    max_sentence_ms: int = 15000
    idle_timeout_s: float = 60.0  # a recording that gets no audio this long is ended (0: never)


@dataclass
class LiveModels:
    """The models a live session uses, each behind its worker (the streaming model maybe in lanes)."""

    vad: OnWorker[StreamingDetector]
    asr: StepBatcher | Lanes[StepBatcher]
    punc: OnWorker[Punctuator]
    offline: OnWorker[SpeechRecognizer]

    @contextmanager
    def asr_lane(self) -> Iterator[StepBatcher]:
        """The streaming model for one stream, leased for as long as the block runs."""
        if isinstance(self.asr, Lanes):
            with self.asr.lease() as lane:
                yield lane
        else:
            yield self.asr
