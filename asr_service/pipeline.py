"""Offline transcription: VAD spans, cut to sentence length, recognised clip by clip.

The audio is a SampleSource read in windows (a VAD chunk, one span, one batch of clips), so
memory does not grow with the recording's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np

from .file_vad import ArraySource, SampleSource
from .roles import Heard, RecognitionOptions, Span, SpeechDetector, SpeechRecognizer, Word
from .segments import SAMPLE_RATE, clamp_spans, join_texts, split_long_spans
from .word_times import retime

ProgressFn = Callable[[float, str], None]


@runtime_checkable
class SourceDetector(Protocol):
    """Offline VAD that reads the audio itself, window by window (file_vad.WindowedVad)."""

    def detect_source(self, source: SampleSource) -> list[Span]:
        """Speech spans in ms, sorted and non-overlapping."""
        ...


@dataclass(frozen=True)
class Sentence:
    """One timed piece of the transcript, with what the model heard in it; times in ms of the recording."""

    text: str
    start_ms: int
    end_ms: int
    language: str | None = None
    emotion: str | None = None
    events: tuple[str, ...] = ()
    words: tuple[Word, ...] | None = None  # inside [start_ms, end_ms], never backwards; None: not asked
    speaker: str | None = None  # "S1", "S2", ... (speaker_turns); None: speakers not asked

    @classmethod
    def from_heard(cls, heard: Heard, span: Span) -> Sentence:
        """The sentence of a clip cut at `span`: word times moved from the clip's to the recording's."""
        words = None if heard.words is None else tuple(_shifted(w, span) for w in heard.words)
        return cls(heard.text, span.start_ms, span.end_ms, heard.language, heard.emotion, heard.events, words)

    @classmethod
    def from_wire(cls, raw: Mapping[str, object]) -> Sentence:
        """The inverse of as_dict (a stored result); fields an older version did not store are left out."""
        words = raw.get("words")
        events = raw.get("events")
        return cls(
            str(raw["text"]),
            _int(raw["start_ms"]),
            _int(raw["end_ms"]),
            _optional_str(raw.get("language")),
            _optional_str(raw.get("emotion")),
            tuple(str(e) for e in events) if isinstance(events, list) else (),
            tuple(
                Word(str(w["text"]), _int(w["start_ms"]), _int(w["end_ms"]))
                for w in words
                if isinstance(w, dict)
            )
            if isinstance(words, list)
            else None,
            _optional_str(raw.get("speaker")),
        )

    def with_text(self, text: str) -> Sentence:
        """The same sentence with edited text; its words retimed to the edit (word_times.retime)."""
        if text == self.text:
            return self
        words = None if self.words is None else retime(self.words, text, self.start_ms, self.end_ms)
        return replace(self, text=text, words=words)

    def as_dict(self) -> dict[str, object]:
        """The wire form used in REST and Socket.IO results; `words` and `speaker` only when asked for."""
        data: dict[str, object] = {
            "text": self.text,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "language": self.language,
            "emotion": self.emotion,
            "events": list(self.events),
        }
        if self.words is not None:
            data["words"] = [w.as_dict() for w in self.words]
        if self.speaker is not None:
            data["speaker"] = self.speaker
        return data


def _shifted(word: Word, span: Span) -> Word:
    """A clip-relative word in ms of the recording, kept inside the clip's span."""
    start, end = (min(span.start_ms + t, span.end_ms) for t in (word.start_ms, word.end_ms))
    return Word(word.text, start, end)


def _int(value: object) -> int:
    return int(value) if isinstance(value, (int, float, str)) else 0


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def spoken_language(sentences: Iterable[Sentence]) -> str | None:
    """The language with the most sentence time (the first such on a tie); None when no sentence has one."""
    time_by_language: dict[str, int] = {}
    for s in sentences:
        if s.language is not None:
            time_by_language[s.language] = time_by_language.get(s.language, 0) + s.end_ms - s.start_ms
    return max(time_by_language, key=lambda k: time_by_language[k]) if time_by_language else None


@dataclass(frozen=True)
class Transcript:
    """Text of a whole recording with its sentences."""

    text: str
    sentences: list[Sentence]
    duration_ms: int


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
            heard = self._recognizer.recognize(clips, options)
            sentences += [Sentence.from_heard(h, s) for s, h in zip(batch, heard, strict=True) if h.text]
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
