"""One live recording: spool to disk, first pass (VAD, Paraformer, punctuation), second pass per segment."""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from . import metrics
from .correction import CorrectedText, Corrector, TextCorrection
from .errors import SessionError
from .logs import set_session_id
from .pipeline import Sentence
from .results import ResultStore, token_digest
from .roles import Punctuator, Span, SpeechRecognizer, StreamingDetector
from .scheduler import Lanes, OnWorker, StepBatcher
from .segments import SAMPLE_RATE, join_texts, split_long_spans
from .spool import AudioSpool, RecordingStore

log = logging.getLogger(__name__)

VAD_CHUNK = SAMPLE_RATE // 5  # 200 ms, the streaming VAD's window
ASR_CHUNK = SAMPLE_RATE * 6 // 10  # 600 ms, chunk_size [0, 10, 5] at 60 ms per frame
PUNC_TRIGGER_CHARS = 20
# The session thread reads audio back from the spool file in blocks of this size, so a client
# sending faster than real time fills the disk, not memory.
READ_BLOCK_SAMPLES = SAMPLE_RATE
# At stop, the VAD reads this much of the audio still unprocessed ahead of the streaming model, so
# the last segments' second passes start at once; more than this is first processed as usual.
STOP_LOOKAHEAD_SAMPLES = SAMPLE_RATE * 60

EventSink = Callable[[str, dict[str, Any]], None]


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


@dataclass(frozen=True)
class SessionLimits:
    """Caps that protect the service from one client."""

    max_frame_bytes: int = 2 * SAMPLE_RATE * 2
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


@dataclass
class _Segment:
    """A VAD segment: first-pass text as it arrives, second-pass sentences once recognised."""

    index: int
    start_ms: int
    end_ms: int = -1
    text: str = ""
    pieces: list[Span] = field(default_factory=list)
    future: Future[list[str]] | None = None


class _Stop:
    """Marks the end of the audio in a session's inbox."""


class _HandOff:
    """Tells a session's thread to stop without a final pass: another process will continue it."""


_STOP = _Stop()
_HAND_OFF = _HandOff()


class _Recognised:
    """Tells the session thread that a segment's second pass finished (to start LLM windows early)."""


_RECOGNISED = _Recognised()


def new_session_id() -> str:
    """An unguessable 32-hex-digit id (also names the backup recording)."""
    return uuid.uuid4().hex


class RecordingSession:
    """Audio in, events out; all model work runs on this session's thread, in arrival order."""

    def __init__(
        self,
        models: LiveModels,
        recordings: RecordingStore,
        results: ResultStore,
        limits: SessionLimits,
        on_done: Callable[[RecordingSession], None] = lambda _s: None,
        corrector: Corrector | None = None,
        session_id: str | None = None,
        resume_token: str | None = None,
        token_sha256: str | None = None,
    ) -> None:
        self.session_id = session_id or new_session_id()
        # a recording taken over without its client knows only the token's digest (see handoff.py)
        self.resume_token = resume_token or ("" if token_sha256 else secrets.token_urlsafe(32))
        self.token_sha256 = token_sha256 or token_digest(self.resume_token)
        self.state = SessionState.IDLE
        self.options = SessionOptions()
        self.final_result: dict[str, Any] | None = None
        self.detached_at: float | None = None  # when the last client went away
        self._models, self._recordings, self._results, self._limits = models, recordings, results, limits
        self._on_done = on_done
        self._corrector = corrector
        self._correction: TextCorrection | None = None
        self._corrected_segments = 0  # segments handed to the correction so far, in order
        self._sink: EventSink | None = None
        self._owner: object = None  # the connection the events go to; only it may detach the session
        self._lock = threading.RLock()
        # the session thread is told how much audio the spool holds; it reads the audio from disk
        self._inbox: queue.SimpleQueue[int | _Stop | _HandOff | _Recognised] = queue.SimpleQueue()
        self._caught_up = threading.Event()  # cleared while audio spooled elsewhere is replayed
        self._caught_up.set()
        self._replay_to = 0
        self._stopped_at: float | None = None
        self._stop_position: int | None = None  # samples received when stop_recording came
        self._spool: AudioSpool | None = None
        self._carry = b""
        self._received = 0  # samples accepted (and spooled)
        self._last_audio_at = time.monotonic()  # when audio last came (or a client took the recording)
        self._thread: threading.Thread | None = None
        self._live = _LiveTranscript()

    # ----- called from socket handlers (any thread) -----

    def start(self, options: SessionOptions, sink: EventSink, owner: object = None) -> None:
        """Begin recording; audio frames are accepted from now on."""
        with self._lock:
            if self.state is not SessionState.IDLE:
                raise SessionError(
                    "already_recording",
                    "a recording is already running on this connection; "
                    "stop it first (or reconnect and resume it)",
                )
            self.options, self._sink, self._owner = options, sink, owner
            if self._corrector is not None:
                self._correction = self._corrector.start(options.hotwords, options.llm_correct)
            self._spool = self._recordings.create(self.session_id)
            self.state = SessionState.RECORDING
            self._last_audio_at = time.monotonic()
            self._thread = threading.Thread(
                target=self._run, name=f"session-{self.session_id[:8]}", daemon=True
            )
            self._thread.start()

    def feed(self, data: bytes) -> None:
        """Accept one frame of s16le PCM; an odd trailing byte waits for the next frame."""
        with self._lock:
            if self.state is not SessionState.RECORDING or self._spool is None:
                raise SessionError(
                    "not_recording",
                    "audio_data received but no recording is running; send start_recording first",
                )
            cap = self._limits.max_frame_bytes
            if len(data) > cap:
                raise SessionError(
                    "frame_too_large",
                    f"audio frame of {len(data)} bytes is over the limit of {cap} bytes "
                    f"({cap / 32000:g} s of 16 kHz s16le); send smaller frames",
                )
            pcm = self._carry + data
            carry = pcm[-1:] if len(pcm) % 2 else b""
            pcm = pcm[: len(pcm) - len(carry)]
            room = int(self._limits.max_session_s * SAMPLE_RATE) - self._received
            too_long = len(pcm) // 2 > room
            pcm = pcm[: max(room, 0) * 2]
            if pcm:
                try:
                    self._spool.append(pcm)
                except OSError as exc:
                    log.error("session %s: cannot write audio to disk: %s", self.session_id, exc)
                    raise SessionError(
                        "storage_error",
                        f"the server could not store this audio frame ({exc.strerror}); "
                        "resend it from received_bytes of resume_result later",
                    ) from exc
                before = self._received
                self._received += len(pcm) // 2
                self._last_audio_at = time.monotonic()
                # the first pass works in whole VAD chunks, so waking its thread more often is wasted
                if self._received // VAD_CHUNK != before // VAD_CHUNK:
                    self._inbox.put(self._received)
            self._carry = carry  # only once the frame is kept, so received_bytes stays exact
            if too_long:
                self._stop_locked()
                raise SessionError(
                    "session_too_long",
                    f"the recording reached the limit of "
                    f"{self._limits.max_session_s:g} s; it was stopped and is being finalised",
                )

    def stop(self) -> None:
        """Stop recording; the session thread finishes the audio it has, then runs the final pass."""
        with self._lock:
            if self.state is SessionState.FINALIZING:
                raise SessionError(
                    "not_recording", "stop_recording received twice; the final result is coming"
                )
            if self.state not in (SessionState.RECORDING, SessionState.PARKED):
                raise SessionError("not_recording", "stop_recording received but no recording is running")
            self._stop_locked()

    def _stop_locked(self) -> None:
        self.state = SessionState.FINALIZING
        self._stopped_at = time.monotonic()
        self._stop_position = self._received
        self._inbox.put(self._received)  # the audio since the last whole VAD chunk
        self._inbox.put(_STOP)

    def adopt(self, options: SessionOptions) -> None:
        """Take over a recording another process spooled: replay its audio silently, then accept more.

        Raises SpoolBusy while a live process still writes it, FileNotFoundError when it has no audio.
        """
        with self._lock:
            if self.state is not SessionState.IDLE:
                raise RuntimeError(f"session {self.session_id} is {self.state.value}, not idle")
            self._spool = self._recordings.reopen(self.session_id)
            self.options = options
            self._received = self._replay_to = self._spool.samples
            if self._received:
                self._caught_up.clear()
            self.state, self.detached_at = SessionState.PARKED, time.monotonic()
            self._thread = threading.Thread(
                target=self._run, name=f"session-{self.session_id[:8]}", daemon=True
            )
            self._thread.start()
            self._inbox.put(self._received)

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Wait until replayed audio has been processed; True when it has."""
        return self._caught_up.wait(timeout_s)

    def hand_off(self, message: str) -> bool:
        """Shutdown: stop a running recording without finalising it, so it resumes elsewhere.

        The client gets `error {code: "server_restarting"}`; the spool is closed, which releases it.
        Returns False when the session was not recording.
        """
        with self._lock:
            if self.state not in (SessionState.RECORDING, SessionState.PARKED):
                return False
            self.state = SessionState.PARKED
            self._inbox.put(_HAND_OFF)
        self._emit("error", {"code": "server_restarting", "message": message})
        with self._lock:
            self._sink, self._owner = None, None
        return True

    def detach(self, owner: object = None) -> None:
        """The client went away: stop sending it events; a recording waits to be resumed.

        A connection that was already replaced by a resume (`owner` no longer current) changes nothing.
        """
        with self._lock:
            if owner is not None and self._owner is not None and owner != self._owner:
                return
            self._sink, self._owner = None, None
            self.detached_at = time.monotonic()
            if self.state is SessionState.RECORDING:
                self.state = SessionState.PARKED

    def attach(self, sink: EventSink, owner: object = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Bind a new connection; returns resume_result and the final result if it was already sent."""
        with self._lock:
            self._sink, self._owner = sink, owner
            self.detached_at = None
            if self.state is SessionState.PARKED:
                self.state = SessionState.RECORDING
                self._last_audio_at = time.monotonic()  # the idle time starts again for this client
            return self.snapshot(), self.final_result

    def wait_done(self, timeout_s: float) -> bool:
        """Wait for the session thread (if any) to finish; True when it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return thread is None or not thread.is_alive()

    def snapshot(self) -> dict[str, Any]:
        """Where the recording stands, for resume_result."""
        return {
            "success": True,
            "session_id": self.session_id,
            "state": self.state.value,
            "current_text": self._live.full_text(),
            "duration_s": round(self._received / SAMPLE_RATE, 3),
            "received_ms": self._received * 1000 // SAMPLE_RATE,
            "received_bytes": self._received * 2 + len(self._carry),
            "last_seq": self._live.seq,
        }

    # ----- the session thread -----

    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        sink = self._sink
        if sink is None or (event == "transcription" and not self._caught_up.is_set()):
            return
        try:
            sink(event, payload)
        except Exception:
            log.warning("session %s: could not emit %s", self.session_id, event, exc_info=True)

    def _run(self) -> None:
        set_session_id(self.session_id)
        try:
            with self._models.asr_lane() as asr:  # the lane is free again once the audio is done
                handed_off = self._first_pass(_FirstPass(self, asr))
            if handed_off:
                return
            self._caught_up.set()
            self._emit(
                "recording_stopped",
                {"session_id": self.session_id, "duration_s": round(self._received / SAMPLE_RATE, 3)},
            )
            self._finalize()
        except Exception:
            log.exception("session %s failed", self.session_id)
            self._emit(
                "error",
                {
                    "code": "recording_failed",
                    "message": "the recording could not be processed; "
                    f"its audio is kept as backup {self.session_id}",
                },
            )
            self._close_spool()
            with self._lock:
                self.state = SessionState.DONE
        finally:
            self._caught_up.set()
            self._on_done(self)

    def _first_pass(self, processor: _FirstPass) -> bool:
        """Run the audio through the first pass until stop (then flush) or hand-off (True)."""
        done = 0
        while True:
            item = self._next_item()
            if isinstance(item, _Stop):
                break
            if isinstance(item, _Recognised):
                self.hand_over_segments()
                continue
            if isinstance(item, _HandOff):
                processor.abandon()
                self._close_spool()
                return True
            while done < item:
                block = min(item, done + READ_BLOCK_SAMPLES)
                stop = self._stop_position
                if stop is not None and stop - done <= STOP_LOOKAHEAD_SAMPLES:
                    processor.append(self._spool_read(done, block))  # finish() runs it, VAD first
                else:
                    processor.push(self._spool_read(done, block))
                done = block
            if done >= self._replay_to:
                self._caught_up.set()
        processor.finish()
        return False

    def _next_item(self) -> int | _Stop | _HandOff | _Recognised:
        """The next inbox item; meanwhile, a recording without audio for idle_timeout_s is stopped."""
        limit = self._limits.idle_timeout_s
        while True:
            try:
                return self._inbox.get(timeout=self._idle_wait_s(limit))
            except queue.Empty:
                self._stop_if_idle(limit)

    def _idle_wait_s(self, limit: float) -> float | None:
        """How long the inbox may stay empty before the idle check: None, no limit."""
        if limit <= 0:
            return None
        if self.state is not SessionState.RECORDING:
            return limit  # parked or replaying: its resume window applies; look again later
        return max(self._last_audio_at + limit - time.monotonic(), 0.05)

    def _stop_if_idle(self, limit: float) -> None:
        """Stop and finalise a recording whose client has sent no audio for `limit` seconds."""
        with self._lock:
            idle_s = time.monotonic() - self._last_audio_at
            if self.state is not SessionState.RECORDING or idle_s < limit:
                return  # audio came meanwhile, or the recording is parked (its resume window applies)
            log.info(
                "session %s: no audio for %.0f s after %.1f s recorded; stopping it",
                self.session_id,
                idle_s,
                self._received / SAMPLE_RATE,
            )
            self._stop_locked()
        self._emit(
            "error",
            {
                "code": "idle_timeout",
                "message": f"no audio received for {limit:g} s; the recording was stopped and "
                "its final result is coming",
            },
        )

    def _finalize(self) -> None:
        live = self._live
        segments = live.segments
        total = len(segments)
        for done, segment in enumerate(segments, start=1):
            if segment.future is not None:
                segment.future.result()  # a failed second pass fails the recording
            self._emit("processing_progress", {"progress": round(done / total, 3), "stage": "second_pass"})
        corrected = self._corrected_text()
        sensevoice = join_texts([s.text for s in corrected.replaced])
        merged = join_texts([s.text for s in corrected.sentences])
        result: dict[str, Any] = {
            "session_id": self.session_id,
            "paraformer": live.punc_text,
            "paraformer_raw": live.raw_text,
            "sensevoice": sensevoice,
            "llm_merged": merged,
            "llm_status": corrected.llm_status,
            "timestamps": [s.as_dict() for s in corrected.sentences],
            "corrections": corrected.corrections,
            "llm_windows": corrected.llm_windows,
            "realtime_segments": [
                {"segment": s.index, "text": s.text, "start_ms": s.start_ms, "end_ms": s.end_ms}
                for s in segments
            ],
            "paraformer_length": len(live.punc_text),
            "sensevoice_length": len(sensevoice),
            "llm_merged_length": len(merged),
            "duration_ms": self._received * 1000 // SAMPLE_RATE,
            "backup_audio_id": self.session_id,
            "language": self.options.language,
        }
        self._results.save_digest(self.session_id, self.token_sha256, result)
        # closed after the result is stored: the spool's lock tells other processes it is still ours
        self._close_spool()
        if self._stopped_at is not None:
            metrics.observe_stage("final", time.monotonic() - self._stopped_at)
        with self._lock:
            self.final_result = result
            self.state = SessionState.DONE
            sink = self._sink  # a client attaching after this point gets the result from attach()
        if sink is not None:
            sink("processing_progress", {"progress": 1.0, "stage": "done"})
            sink("final_result", result)

    def _corrected_text(self) -> CorrectedText:
        """Hotword replacement and, if asked for, the LLM's last windows (the others ran while recording)."""
        if self._correction is None:
            sentences = [s for segment in self._live.segments for s in _sentences(segment)[0]]
            return CorrectedText(sentences, sentences, [], "disabled", [])
        self.hand_over_segments()
        if self.options.llm_correct and self._corrector is not None and self._corrector.llm is not None:
            self._emit("processing_progress", {"progress": 1.0, "stage": "llm_correction"})
        return self._correction.finish()

    def hand_over_segments(self) -> None:
        """Give correction every segment whose second pass is done, in order, so LLM windows start early."""
        if self._correction is None:
            return
        segments = self._live.segments
        while self._corrected_segments < len(segments):
            segment = segments[self._corrected_segments]
            if segment.end_ms < 0 or (segment.future is not None and not segment.future.done()):
                return  # still open, or still being recognised
            if segment.future is not None and segment.future.exception() is not None:
                return  # _finalize raises it
            sentences, references = _sentences(segment)
            self._correction.add(sentences, references)
            self._corrected_segments += 1

    def _close_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()

    # ----- used by the first pass -----

    def read_audio(self, start_ms: int, end_ms: int) -> np.ndarray:
        """Recorded audio between two times, read back from the spool."""
        return self._spool_read(start_ms * SAMPLE_RATE // 1000, end_ms * SAMPLE_RATE // 1000)

    def _spool_read(self, start: int, end: int) -> np.ndarray:
        assert self._spool is not None
        return self._spool.read(start, end)


def _sentences(segment: _Segment) -> tuple[list[Sentence], list[str]]:
    """A recognised segment's non-empty sentences, each with the share of first-pass text of its time."""
    texts = segment.future.result() if segment.future is not None else []
    span = max(segment.end_ms - segment.start_ms, 1)
    first_pass = segment.text
    sentences: list[Sentence] = []
    references: list[str] = []
    for piece, text in zip(segment.pieces, texts, strict=True):
        if text:
            sentences.append(Sentence(text, piece.start_ms, piece.end_ms))
            lo = len(first_pass) * (piece.start_ms - segment.start_ms) // span
            hi = len(first_pass) * (piece.end_ms - segment.start_ms) // span
            references.append(first_pass[lo:hi] if len(segment.pieces) > 1 else first_pass)
    return sentences, references


class _LiveTranscript:
    """First-pass text as it grows: punctuated part, raw pending part, segments."""

    def __init__(self) -> None:
        self.raw_text = ""
        self.punc_text = ""
        self.pending = ""
        self.segments: list[_Segment] = []
        self.seq = 0

    def full_text(self) -> str:
        """Everything recognised so far, punctuated where punctuation has run."""
        return self.punc_text + self.pending

    def next_seq(self) -> int:
        """The next transcription event's number (1, 2, 3, ...)."""
        self.seq += 1
        return self.seq


class _FirstPass:
    """Feeds VAD and Paraformer their fixed-size chunks in time order, whatever the frame sizes."""

    def __init__(self, session: RecordingSession, asr: StepBatcher) -> None:
        self._s = session
        self._m = session._models
        self._asr = asr  # this stream's lane of the streaming model
        self._live = session._live
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
        # segments closed by the stop's VAD read-ahead, second pass queued, by (start_ms, end_ms)
        self._early: dict[tuple[int, int], _Segment] = {}

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

    def abandon(self) -> None:
        """Cancel second-pass work not started yet (the recording continues in another process)."""
        for segment in self._live.segments:
            if segment.future is not None:
                segment.future.cancel()

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
            self._close_segment(end * 1000 // SAMPLE_RATE)
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
                    self._queue_early(_Segment(-1, start, max(event_end, start)))
                    start = None
        if start is not None:
            self._queue_early(_Segment(-1, start, max(end * 1000 // SAMPLE_RATE, start)))
        return last

    def _queue_early(self, segment: _Segment) -> None:
        self._queue_second_pass(segment)
        self._early[(segment.start_ms, segment.end_ms)] = segment

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
        return self._m.vad.run(lambda m: m.step(chunk, self._vad_cache, final))

    def _apply_vad(self, events: list[tuple[int, int]]) -> None:
        for start, end in events:
            if start >= 0:
                self._open_segment(start)
            if end >= 0:
                self._close_segment(end)

    def _open_segment(self, start_ms: int) -> None:
        self._speech_start = start_ms
        self._live.segments.append(_Segment(len(self._live.segments), start_ms))
        self._emit_transcription("", is_final=False, position=self._vad_pos, vad_event="speech_start")

    def _close_segment(self, end_ms: int) -> None:
        if self._speech_start is None or not self._live.segments:
            return
        segment = self._live.segments[-1]
        segment.end_ms = max(end_ms, segment.start_ms)
        self._speech_start = None
        self._queue_second_pass(segment)  # first, so the offline worker starts while we punctuate
        if not self._finishing:  # at the end, the last chunk's text is punctuated with the rest
            self._commit_pending()
        self._emit_transcription("", is_final=True, position=self._vad_pos, vad_event="speech_end")

    def _queue_second_pass(self, segment: _Segment) -> None:
        """Recognise a closed segment now, at second-pass priority, while recording goes on."""
        early = self._early.pop((segment.start_ms, segment.end_ms), None)
        if early is not None:  # queued already when the stop's VAD read ahead
            segment.pieces, segment.future = early.pieces, early.future
            return
        if segment.end_ms <= segment.start_ms:
            return
        audio = self._s.read_audio(segment.start_ms, segment.end_ms)
        span = Span(segment.start_ms, segment.start_ms + len(audio) * 1000 // SAMPLE_RATE)
        segment.pieces = split_long_spans(audio, [span], self._s._limits.max_sentence_ms, segment.start_ms)
        clips = [
            audio[
                (p.start_ms - segment.start_ms) * SAMPLE_RATE // 1000 : (p.end_ms - segment.start_ms)
                * SAMPLE_RATE
                // 1000
            ]
            for p in segment.pieces
        ]
        options = self._s.options
        queued = time.monotonic()
        segment.future = self._m.offline.submit(
            lambda m: m.recognize(clips, options.language, options.use_itn)
        )
        if self._s._correction is not None:
            segment.future.add_done_callback(lambda _f: self._s._inbox.put(_RECOGNISED))

        def observe(future: Future[list[str]]) -> None:
            if not future.cancelled():
                metrics.observe_stage("second_pass", time.monotonic() - queued)

        segment.future.add_done_callback(observe)

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
        punctuated = self._m.punc.run(lambda m: m.punctuate(pending, self._punc_cache))
        self._live.punc_text += punctuated
        self._live.pending = ""
        if self._live.segments:
            self._live.segments[-1].text += punctuated

    def _emit_transcription(self, text: str, is_final: bool, position: int, vad_event: str | None) -> None:
        """One `transcription` event; `position` is the sample up to which audio has been heard."""
        live = self._live
        payload = {
            "text": text,
            "punc_text": live.punc_text,
            "full_text": live.full_text(),
            "is_final": is_final,
            "vad_event": vad_event,
            "is_speech_active": self._speech_start is not None,
            "segment": len(live.segments) - 1,
            "current_time_ms": position * 1000 // SAMPLE_RATE,
            "seq": live.next_seq(),
        }
        self._s._emit("transcription", payload)
