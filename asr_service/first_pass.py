"""The live first pass: streaming VAD, streaming Paraformer and punctuation, and the transcript they grow."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import metrics
from .audio_units import SAMPLE_RATE, samples_to_ms
from .events import TranscriptionEvent
from .roles import Punctuator, StreamingDetector
from .scheduler import OnWorker, StepBatcher

VAD_CHUNK = SAMPLE_RATE // 5  # 200 ms, the streaming VAD's window
ASR_CHUNK = SAMPLE_RATE * 6 // 10  # 600 ms, chunk_size [0, 10, 5] at 60 ms per frame
PUNC_TRIGGER_CHARS = 20


@dataclass
class LiveSegment:
    """A VAD segment: its bounds (end -1 while open) and the text punctuated while it was the latest."""

    index: int
    start_ms: int
    end_ms: int = -1
    text: str = ""


@dataclass
class LiveTranscript:
    """First-pass text as it grows: punctuated part, raw pending part, segments, events numbered."""

    raw_text: str = ""
    punc_text: str = ""
    pending: str = ""
    segments: list[LiveSegment] = field(default_factory=list)
    seq: int = 0
    covered: int = 0  # segments, from the first, whose sentences the client has been sent

    def full_text(self) -> str:
        """Everything recognised so far, punctuated where punctuation has run."""
        return self.punc_text + self.pending

    def partial_text(self) -> str:
        """The text of the audio no sentence sent covers yet: the segments from `covered` on (before the
        first is covered, text heard before any segment too) and the text not punctuated yet."""
        if self.covered == 0:
            return self.full_text()
        return "".join(s.text for s in self.segments[self.covered :]) + self.pending

    def next_seq(self) -> int:
        """The next transcription event's number (1, 2, 3, ...)."""
        self.seq += 1
        return self.seq


class SegmentQueue(Protocol):
    """Where the first pass sends the segments the VAD closes (the second pass)."""

    def queue(self, segment: LiveSegment) -> None:
        """A segment the VAD has just closed, in order."""

    def queue_ahead(self, start_ms: int, end_ms: int) -> None:
        """A segment the stop's VAD read-ahead found; `queue` gets it again when its turn comes."""


class FirstPass:
    """Feeds VAD and Paraformer their fixed-size chunks in time order, whatever the frame sizes."""

    def __init__(
        self,
        vad: OnWorker[StreamingDetector],
        asr: StepBatcher,
        punc: OnWorker[Punctuator],
        transcript: LiveTranscript,
        segments: SegmentQueue,
        emit: Callable[[TranscriptionEvent], None],
        full_text: bool = False,
    ) -> None:
        """`asr` is this stream's lane of the streaming model; `transcript` is grown here, read elsewhere;
        `full_text`: the events carry the whole transcript so far too (costly: old clients)."""
        self._vad, self._asr, self._punc = vad, asr, punc
        self._live, self._segments, self._emit = transcript, segments, emit
        self._full_text = full_text
        self._vad_cache: dict[str, object] = {}
        self._asr_cache: dict[str, object] = {}
        self._punc_cache: dict[str, object] = {}
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # sample index of _buffer[0]
        self._vad_pos = 0
        self._asr_pos = 0
        self._speech_start: int | None = None
        self._finishing = False
        self._asr_running: tuple[Future[str], float] | None = None  # the next chunk's step, if started
        self._ahead: deque[list[tuple[int, int]]] = deque()  # the stop's read-ahead, window by window

    def append(self, samples: np.ndarray) -> None:
        """Buffer audio without running the models yet (the recording is stopping: see finish)."""
        self._buffer = np.concatenate((self._buffer, samples)) if self._buffer.size else samples

    def push(self, samples: np.ndarray) -> None:
        """Append audio and run every chunk it completes."""
        self.append(samples)
        self._run_due(self._buffer_start + len(self._buffer))
        self._trim()

    def _run_due(self, end: int) -> None:
        """Every VAD window and whole chunk that ends by `end`, in the order of the events."""
        while True:
            vad_end, asr_end = self._vad_pos + VAD_CHUNK, self._asr_pos + ASR_CHUNK
            if vad_end <= end and vad_end <= asr_end:
                if asr_end <= end and self._asr_running is None:
                    # the chunk is whole: the streaming model starts on it while the VAD windows
                    # that come before it in the events run (the model needs nothing from them)
                    self._asr_running = self._start_asr(self._slice(self._asr_pos, asr_end), final=False)
                chunk = self._slice(self._vad_pos, vad_end)
                self._vad_pos = vad_end
                self._vad_step(chunk, final=False)
            elif asr_end <= end:
                self._asr_step(self._slice(self._asr_pos, asr_end), final=False, position=asr_end)
                self._asr_pos = asr_end
            else:
                break

    def finish(self) -> None:
        """Run the audio left with is_final on both models, then punctuate the rest.

        The VAD reads to the end first, so the second pass of every segment it closes (the slowest
        step of the final result) starts while the streaming model works through the chunks still
        due; the events are then produced in the order of the audio, as during the recording.
        """
        end = self._buffer_start + len(self._buffer)
        last = self._detect_ahead(end)
        self._run_due(end)  # its VAD windows come from the read-ahead
        self._finishing = True
        self._vad_pos = end  # the VAD's final window comes after the last whole chunk, as ever
        self._apply_vad(last)
        if self._speech_start is not None:  # speech ran to the very end
            self._close_segment(samples_to_ms(end))
        self._asr_step(self._slice(self._asr_pos, end), final=True, position=end)
        self._asr_pos = end
        if self._live.pending:
            self._commit_pending()
            self._emit_transcription("", is_final=True, position=end, vad_event=None)

    def _detect_ahead(self, end: int) -> list[tuple[int, int]]:
        """Run the VAD over the rest of the audio now, keeping its events for their turn, and queue
        the second pass of every segment it closes; returns the events of the final window."""
        position = self._vad_pos
        while position + VAD_CHUNK <= end:
            self._ahead.append(self._detect(self._slice(position, position + VAD_CHUNK), False))
            position += VAD_CHUNK
        last = self._detect(self._slice(position, end), True)
        start = self._speech_start
        for events in [*self._ahead, last]:
            for event_start, event_end in events:
                if event_start >= 0:
                    start = event_start
                if event_end >= 0 and start is not None:
                    self._segments.queue_ahead(start, max(event_end, start))
                    start = None
        if start is not None:
            self._segments.queue_ahead(start, max(samples_to_ms(end), start))
        return last

    def _slice(self, start: int, end: int) -> np.ndarray:
        return self._buffer[start - self._buffer_start : end - self._buffer_start]

    def _trim(self) -> None:
        done = min(self._vad_pos, self._asr_pos) - self._buffer_start
        if done > 0:
            self._buffer = self._buffer[done:].copy()
            self._buffer_start += done

    def _vad_step(self, chunk: np.ndarray, final: bool) -> None:
        self._apply_vad(self._ahead.popleft() if self._ahead else self._detect(chunk, final))

    def _detect(self, chunk: np.ndarray, final: bool) -> list[tuple[int, int]]:
        return self._vad.run(lambda m: m.step(chunk, self._vad_cache, final))

    def _apply_vad(self, events: list[tuple[int, int]]) -> None:
        for start, end in events:
            if start >= 0:
                self._open_segment(start)
            if end >= 0:
                self._close_segment(end)

    def _open_segment(self, start_ms: int) -> None:
        self._speech_start = start_ms
        self._live.segments.append(LiveSegment(len(self._live.segments), start_ms))
        self._emit_transcription("", is_final=False, position=self._vad_pos, vad_event="speech_start")

    def _close_segment(self, end_ms: int) -> None:
        if self._speech_start is None or not self._live.segments:
            return
        segment = self._live.segments[-1]
        segment.end_ms = max(end_ms, segment.start_ms)
        self._speech_start = None
        self._segments.queue(segment)  # first, so the offline worker starts while we punctuate
        if not self._finishing:  # at the end, the last chunk's text is punctuated with the rest
            self._commit_pending()
        self._emit_transcription("", is_final=True, position=self._vad_pos, vad_event="speech_end")

    def _start_asr(self, chunk: np.ndarray, final: bool) -> tuple[Future[str], float]:
        return self._asr.submit(chunk, self._asr_cache, final), time.monotonic()

    def _asr_step(self, chunk: np.ndarray, final: bool, position: int) -> None:
        """The text of the chunk ending at `position` (started already, or now), then its events."""
        running, self._asr_running = self._asr_running, None
        future, started = running or self._start_asr(chunk, final)
        text = future.result()
        metrics.observe_stage("first_pass_chunk", time.monotonic() - started)
        metrics.add_audio("live", len(chunk) / SAMPLE_RATE)
        self._live.raw_text += text
        self._live.pending += text
        if len(self._live.pending) >= PUNC_TRIGGER_CHARS:
            self._commit_pending()
        self._emit_transcription(text, is_final=False, position=position, vad_event=None)

    def _commit_pending(self) -> None:
        """Punctuate the raw text waiting since the last commit and add it to the segment it belongs to."""
        pending = self._live.pending
        if not pending.strip():
            self._live.pending = ""
            return
        punctuated = self._punc.run(lambda m: m.punctuate(pending, self._punc_cache))
        self._live.punc_text += punctuated
        self._live.pending = ""
        if self._live.segments:
            self._live.segments[-1].text += punctuated

    def _emit_transcription(self, text: str, is_final: bool, position: int, vad_event: str | None) -> None:
        """One `transcription` event; `position` is the sample up to which audio has been heard."""
        live = self._live
        self._emit(
            TranscriptionEvent(
                text=text,
                partial_text=live.partial_text(),
                is_final=is_final,
                vad_event=vad_event,
                is_speech_active=self._speech_start is not None,
                segment=len(live.segments) - 1,
                current_time_ms=samples_to_ms(position),
                seq=live.next_seq(),
                punc_text=live.punc_text if self._full_text else None,
                full_text=live.full_text() if self._full_text else None,
            )
        )
