"""Offline transcription: VAD spans, cut to sentence length, recognised clip by clip.

The audio is a SampleSource read in windows (a VAD chunk, one span, one batch of clips), so
memory does not grow with the recording's length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .file_vad import ArraySource, SampleSource
from .roles import Span, SpeechDetector, SpeechRecognizer
from .segments import SAMPLE_RATE, clamp_spans, join_texts, split_long_spans

ProgressFn = Callable[[float, str], None]


@runtime_checkable
class SourceDetector(Protocol):
    """Offline VAD that reads the audio itself, window by window (file_vad.WindowedVad)."""

    def detect_source(self, source: SampleSource) -> list[Span]:
        """Speech spans in ms, sorted and non-overlapping."""
        ...


@dataclass(frozen=True)
class Sentence:
    """One timed piece of the transcript."""

    text: str
    start_ms: int
    end_ms: int

    def as_dict(self) -> dict[str, object]:
        """The wire form used in REST and Socket.IO results."""
        return {"text": self.text, "start_ms": self.start_ms, "end_ms": self.end_ms}


@dataclass(frozen=True)
class Transcript:
    """Text of a whole recording with its sentences."""

    text: str
    sentences: list[Sentence]
    duration_ms: int


@dataclass(frozen=True)
class RecognitionOptions:
    """Per-request choices for the offline model."""

    language: str = "auto"
    use_itn: bool = True


class OfflinePipeline:
    """Transcribes whole recordings; models are injected so tests can use small ones."""

    def __init__(
        self,
        detector: SpeechDetector | SourceDetector,
        recognizer: SpeechRecognizer,
        max_sentence_ms: int,
        clips_per_call: int,
    ) -> None:
        self._detector = detector
        self._recognizer = recognizer
        self._max_sentence_ms = max_sentence_ms
        self._clips_per_call = max(1, clips_per_call)

    def transcribe(
        self,
        audio: np.ndarray | SampleSource,
        options: RecognitionOptions,
        progress: ProgressFn | None = None,
    ) -> Transcript:
        """Sentences with integer-ms times inside the audio, in order; silence gives none."""
        source = ArraySource(audio) if isinstance(audio, np.ndarray) else audio
        report = progress or (lambda _fraction, _stage: None)
        duration_ms = len(source) * 1000 // SAMPLE_RATE
        report(0.0, "vad")
        spans = clamp_spans(self._detect(source), duration_ms)
        spans = [piece for span in spans for piece in self._split(source, span)]
        sentences: list[Sentence] = []
        for first in range(0, len(spans), self._clips_per_call):
            batch = spans[first : first + self._clips_per_call]
            clips = [
                source.read(s.start_ms * SAMPLE_RATE // 1000, s.end_ms * SAMPLE_RATE // 1000) for s in batch
            ]
            texts = self._recognizer.recognize(clips, options.language, options.use_itn)
            sentences += [Sentence(t, s.start_ms, s.end_ms) for s, t in zip(batch, texts, strict=True) if t]
            report((first + len(batch)) / len(spans), "recognize")
        report(1.0, "done")
        return Transcript(join_texts([s.text for s in sentences]), sentences, duration_ms)

    def _detect(self, source: SampleSource) -> list[Span]:
        if isinstance(self._detector, SourceDetector):
            return self._detector.detect_source(source)
        return self._detector.detect(source.read(0, len(source)))  # detectors that want it whole

    def _split(self, source: SampleSource, span: Span) -> list[Span]:
        """One span cut to sentence length, reading only that span's audio."""
        if span.duration_ms <= self._max_sentence_ms:
            return [span]
        audio = source.read(span.start_ms * SAMPLE_RATE // 1000, span.end_ms * SAMPLE_RATE // 1000)
        return split_long_spans(audio, [span], self._max_sentence_ms, origin_ms=span.start_ms)
