"""Offline transcription: VAD spans, cut to sentence length, recognised clip by clip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .roles import SpeechDetector, SpeechRecognizer
from .segments import SAMPLE_RATE, clamp_spans, join_texts, split_long_spans

ProgressFn = Callable[[float, str], None]


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
        detector: SpeechDetector,
        recognizer: SpeechRecognizer,
        max_sentence_ms: int,
        clips_per_call: int,
    ) -> None:
        self._detector = detector
        self._recognizer = recognizer
        self._max_sentence_ms = max_sentence_ms
        self._clips_per_call = max(1, clips_per_call)

    def transcribe(
        self, audio: np.ndarray, options: RecognitionOptions, progress: ProgressFn | None = None
    ) -> Transcript:
        """Sentences with integer-ms times inside the audio, in order; silence gives none."""
        report = progress or (lambda _fraction, _stage: None)
        duration_ms = len(audio) * 1000 // SAMPLE_RATE
        report(0.0, "vad")
        spans = clamp_spans(self._detector.detect(audio), duration_ms)
        spans = split_long_spans(audio, spans, self._max_sentence_ms)
        sentences: list[Sentence] = []
        for first in range(0, len(spans), self._clips_per_call):
            batch = spans[first : first + self._clips_per_call]
            clips = [audio[s.start_ms * SAMPLE_RATE // 1000 : s.end_ms * SAMPLE_RATE // 1000] for s in batch]
            texts = self._recognizer.recognize(clips, options.language, options.use_itn)
            sentences += [Sentence(t, s.start_ms, s.end_ms) for s, t in zip(batch, texts, strict=True) if t]
            report((first + len(batch)) / len(spans), "recognize")
        report(1.0, "done")
        return Transcript(join_texts([s.text for s in sentences]), sentences, duration_ms)
