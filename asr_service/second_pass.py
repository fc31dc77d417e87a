"""The live second pass: closed segments to SenseVoice while recording goes on, their sentences to
correction and to the client (sentence_final, sentence_update) in order, and the final result."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import metrics
from .audio_units import ms_to_samples, samples_to_ms
from .correction import CorrectedText
from .events import FinalResult, RealtimeSegment
from .first_pass import LiveSegment, LiveTranscript
from .live_types import SessionOptions
from .pipeline import Sentence, spoken_language
from .roles import Heard, RecognitionOptions, Span, SpeechRecognizer
from .scheduler import OnWorker
from .segments import join_texts, split_long_spans
from .sentence_log import SentenceLog


class SentenceCorrection(Protocol):
    """One transcript's correction (correction.TextCorrection): sentences in order, then the result."""

    def add(self, sentences: Sequence[Sentence], references: Sequence[str] | None = None) -> None:
        """Sentences in time order, each with the first-pass text of the same audio."""

    def current(self) -> list[Sentence]:
        """Every sentence added so far, as corrected so far (LLM windows done, else hotwords replaced)."""

    def watch(self, on_window_done: Callable[[], None]) -> None:
        """Call `on_window_done` (on another thread) whenever an LLM window finishes."""

    def finish(self) -> CorrectedText:
        """The corrected transcript."""


@dataclass(frozen=True)
class CorrectionHooks:
    """A recording's correction, and how the second pass tells the session about it."""

    correction: SentenceCorrection
    on_llm_wait: Callable[[], None] | None = None  # the final result now waits for the last LLM windows


@dataclass
class _Recognition:
    """A segment's pieces (each at most max_sentence_ms) and the offline model's texts for them."""

    pieces: list[Span] = field(default_factory=list)
    future: Future[list[Heard]] | None = None


class SecondPass:
    """Recognises each segment the VAD closes, at second-pass priority, and hands results on in order."""

    def __init__(
        self,
        offline: OnWorker[SpeechRecognizer],
        read_samples: Callable[[int, int], np.ndarray],
        options: SessionOptions,
        max_sentence_ms: int,
        hooks: CorrectionHooks | None = None,
        sentences: SentenceLog | None = None,
        on_recognised: Callable[[], None] | None = None,
    ) -> None:
        """`read_samples(start, end)` gives recorded audio; without `hooks` there is no correction.
        `sentences` pushes them to the client; `on_recognised` (called on a model or LLM thread) wakes
        the session thread to hand on a finished segment or to push an LLM window's corrections."""
        self._offline, self._read, self._options = offline, read_samples, options
        self._max_sentence_ms, self._hooks = max_sentence_ms, hooks
        self._log = sentences if sentences is not None else SentenceLog(lambda _event: None)
        self._on_recognised = on_recognised
        if hooks is not None and on_recognised is not None:
            hooks.correction.watch(on_recognised)
        self._jobs: dict[int, _Recognition] = {}  # by segment index
        # segments found by the stop's VAD read-ahead, second pass queued, by (start_ms, end_ms)
        self._early: dict[tuple[int, int], _Recognition] = {}
        self._handed = 0  # segments handed on (to the correction and the client) so far, in order
        self._recognised: list[Sentence] = []  # without correction: the sentences handed on
        self._closed_at: dict[int, float] = {}  # when the first pass closed each segment not handed on

    @property
    def handed(self) -> int:
        """How many segments, from the first, have had their sentences pushed to the client."""
        return self._handed

    def queue(self, segment: LiveSegment) -> None:
        """Recognise a closed segment now (unless the stop's read-ahead did), while recording goes on."""
        self._closed_at[segment.index] = time.monotonic()
        job = self._early.pop((segment.start_ms, segment.end_ms), None)
        self._jobs[segment.index] = (
            job if job is not None else self._recognise(segment.start_ms, segment.end_ms)
        )

    def queue_ahead(self, start_ms: int, end_ms: int) -> None:
        """Recognise a segment the VAD will close, before the first pass gets to it."""
        job = self._early.pop((start_ms, end_ms), None)
        self._early[(start_ms, end_ms)] = job if job is not None else self._recognise(start_ms, end_ms)

    def abandon(self) -> None:
        """Cancel work not started yet (the recording continues in another process)."""
        for job in self._jobs.values():
            if job.future is not None:
                job.future.cancel()

    def _recognise(self, start_ms: int, end_ms: int) -> _Recognition:
        if end_ms <= start_ms:
            return _Recognition()
        audio = self._read(ms_to_samples(start_ms), ms_to_samples(end_ms))
        span = Span(start_ms, start_ms + samples_to_ms(len(audio)))
        pieces = split_long_spans(audio, [span], self._max_sentence_ms, start_ms)
        clips = [
            audio[ms_to_samples(p.start_ms - start_ms) : ms_to_samples(p.end_ms - start_ms)] for p in pieces
        ]
        asked = self._options
        options = RecognitionOptions(asked.language, asked.use_itn, asked.word_timestamps)
        queued = time.monotonic()
        future = self._offline.submit(lambda m: m.recognize(clips, options))
        on_recognised = self._on_recognised
        if on_recognised is not None:
            future.add_done_callback(lambda _f: on_recognised())

        def observe(done: Future[list[Heard]]) -> None:
            if not done.cancelled():
                metrics.observe_stage("second_pass", time.monotonic() - queued)

        future.add_done_callback(observe)
        return _Recognition(pieces, future)

    def hand_over(self, segments: Sequence[LiveSegment]) -> None:
        """Hand on every segment whose second pass is done, in order (to the correction, so LLM windows
        start early), then push to the client what changed: new sentences, and LLM corrections."""
        closed_at: list[float] = []  # when the segments whose sentences go out now were closed
        while self._handed < len(segments):
            segment = segments[self._handed]
            future = self._job(segment).future
            if segment.end_ms < 0 or (future is not None and not future.done()):
                break  # still open, or still being recognised
            if future is not None and future.exception() is not None:
                break  # collect() raises it
            sentences, references = self.sentences(segment)
            if self._hooks is not None:
                self._hooks.correction.add(sentences, references)
            else:
                self._recognised += sentences
            closed = self._closed_at.pop(segment.index, None)
            if sentences and closed is not None:
                closed_at.append(closed)
            self._handed += 1
        self._log.sync(self._hooks.correction.current() if self._hooks is not None else self._recognised)
        now = time.monotonic()
        for closed in closed_at:
            metrics.observe_stage("sentence_final", now - closed)

    def collect(self, segments: Sequence[LiveSegment]) -> Iterator[float]:
        """Wait for each segment's second pass in turn, yielding the share done; a failure raises."""
        for done, segment in enumerate(segments, start=1):
            future = self._job(segment).future
            if future is not None:
                future.result()
            yield done / len(segments)

    def corrected(self, segments: Sequence[LiveSegment]) -> CorrectedText:
        """Hotword replacement and, if asked for, the LLM's last windows (the others ran while recording);
        every difference from what the client was sent is pushed to it before this returns."""
        self.hand_over(segments)
        if self._hooks is None:
            sentences = [s for segment in segments for s in self.sentences(segment)[0]]
            self._log.sync(sentences)
            return CorrectedText(sentences, sentences, [], "disabled", [])
        if self._hooks.on_llm_wait is not None:
            self._hooks.on_llm_wait()
        corrected = self._hooks.correction.finish()
        self._log.sync(corrected.sentences)
        return corrected

    def sentences(self, segment: LiveSegment) -> tuple[list[Sentence], list[str]]:
        """A recognised segment's non-empty sentences, each with the share of first-pass text of its time."""
        job = self._job(segment)
        heard = job.future.result() if job.future is not None else []
        span = max(segment.end_ms - segment.start_ms, 1)
        first_pass = segment.text
        sentences: list[Sentence] = []
        references: list[str] = []
        for piece, clip in zip(job.pieces, heard, strict=True):
            if clip.text:
                sentences.append(Sentence.from_heard(clip, piece))
                lo = len(first_pass) * (piece.start_ms - segment.start_ms) // span
                hi = len(first_pass) * (piece.end_ms - segment.start_ms) // span
                references.append(first_pass[lo:hi] if len(job.pieces) > 1 else first_pass)
        return sentences, references

    def _job(self, segment: LiveSegment) -> _Recognition:
        job = self._jobs.get(segment.index)
        return job if job is not None else _Recognition()  # a segment never closed


def final_result(
    session_id: str, transcript: LiveTranscript, corrected: CorrectedText, duration_ms: int, language: str
) -> FinalResult:
    """The finished recording: both passes' transcripts, corrected sentences, the first pass's segments."""
    return FinalResult(
        session_id=session_id,
        paraformer=transcript.punc_text,
        paraformer_raw=transcript.raw_text,
        sensevoice=join_texts([s.text for s in corrected.replaced]),
        llm_merged=join_texts([s.text for s in corrected.sentences]),
        llm_status=corrected.llm_status,
        timestamps=tuple(corrected.sentences),
        corrections=tuple(corrected.corrections),
        llm_windows=tuple(corrected.llm_windows),
        realtime_segments=tuple(
            RealtimeSegment(s.index, s.text, s.start_ms, s.end_ms) for s in transcript.segments
        ),
        duration_ms=duration_ms,
        language=spoken_language(corrected.sentences),
        language_requested=language,
    )
