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


@dataclass(frozen=True)
class RecognitionOptions:
    """Per-request choices for the offline model."""

    language: str = "auto"  # a hint: auto, zh, en, yue, ja, ko
    use_itn: bool = True
    word_timestamps: bool = False


@dataclass(frozen=True)
class Word:
    """One recognised word with its time: a CJK character, a Latin word or a punctuation mark."""

    text: str
    start_ms: int
    end_ms: int

    def as_dict(self) -> dict[str, object]:
        """The wire form, an entry of a sentence's `words`."""
        return {"text": self.text, "start_ms": self.start_ms, "end_ms": self.end_ms}


@dataclass(frozen=True)
class Heard:
    """What the offline model heard in one clip: clean text, and what it tells about the audio."""

    text: str
    language: str | None = None  # zh, en, yue, ja, ko; None when the model names none
    emotion: str | None = None  # happy, sad, angry, neutral, fearful, disgusted, surprised
    events: tuple[str, ...] = ()  # music, applause, laughter, crying, sneeze, breath, cough
    words: tuple[Word, ...] | None = None  # clip-relative ms; None unless word_timestamps was asked


class SpeechRecognizer(Protocol):
    """Turns speech clips into clean text, with language, emotion, events and maybe word times."""

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        """One Heard per clip, in order; its text has tags and emoji removed."""
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


class SpeakerEmbedder(Protocol):
    """Speaker embeddings (CAM++): one vector per window of speech, close for the same voice."""

    def embed(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """A float32 array N×D (D=192 for CAM++), one row per 16 kHz mono float32 window, in order."""
        ...
