"""What the core needs from each model role; model_adapters.py implements these with FunASR."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Span:
    """A stretch of audio in milliseconds from the start of the recording."""

    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        """Length of the span."""
        return self.end_ms - self.start_ms


class SpeechDetector(Protocol):
    """Finds the speech in a whole recording (offline VAD)."""

    def detect(self, audio: np.ndarray) -> list[Span]:
        """Speech spans of 16 kHz mono float32 audio, sorted and non-overlapping."""
        ...


class SpeechRecognizer(Protocol):
    """Turns speech clips into clean text (offline ASR)."""

    def recognize(self, clips: Sequence[np.ndarray], language: str, use_itn: bool) -> list[str]:
        """One clean text per clip (tags and emoji removed), in order."""
        ...


class StreamingDetector(Protocol):
    """Speech detection fed chunk by chunk (streaming FSMN-VAD); `cache` holds one stream's state."""

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> list[tuple[int, int]]:
        """Events for this chunk in ms: (start, -1) speech began, (-1, end) ended, (start, end) both."""
        ...


class StreamingRecognizer(Protocol):
    """Live ASR fed 600 ms chunks (streaming Paraformer); `cache` holds one stream's state."""

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> str:
        """New text decoded from this chunk (may be empty)."""
        ...


@dataclass
class StreamStep:
    """One stream's next chunk for the streaming recognizer, with that stream's state."""

    chunk: np.ndarray
    cache: dict[str, object]
    is_final: bool


@runtime_checkable
class BatchStreamingRecognizer(StreamingRecognizer, Protocol):
    """A streaming recognizer that can run several streams' steps in one call."""

    def step_many(self, steps: Sequence[StreamStep]) -> list[str]:
        """What `step` would return for each, in order; each cache advances as with `step`."""
        ...


class Punctuator(Protocol):
    """Realtime punctuation; `cache` carries the unfinished sentence between calls."""

    def punctuate(self, text: str, cache: dict[str, object]) -> str:
        """`text` with punctuation added; never raises on empty or one-token input."""
        ...
