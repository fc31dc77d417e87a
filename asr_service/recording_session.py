"""One live recording's life: audio in and spooled, its thread running both passes, events out."""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial

from . import metrics
from .audio_intake import AudioIntake
from .audio_units import SAMPLE_RATE
from .correction import Corrector, TextCorrection
from .errors import SessionError
from .events import ErrorEvent, EventSink, FinalResult, LiveEvent, ProgressEvent, SessionSnapshot
from .first_pass import VAD_CHUNK, LiveTranscript
from .live_types import LiveModels, SessionLimits, SessionOptions, SessionState
from .results import ResultStore, token_digest
from .second_pass import CorrectionHooks, SecondPass
from .sentence_log import SentenceLog
from .session_thread import SessionThread, ThreadHooks
from .spool import RecordingStore

log = logging.getLogger(__name__)


def new_session_id() -> str:
    """An unguessable 32-hex-digit id (also names the backup recording)."""
    return uuid.uuid4().hex


class RecordingSession:
    """Audio in, events out; all model work is driven from this session's thread, in arrival order."""

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
        self.final_result: FinalResult | None = None
        self.detached_at: float | None = None  # when the last client went away
        self._models, self._recordings, self._results, self._limits = models, recordings, results, limits
        self._on_done, self._corrector = on_done, corrector
        self._correction: TextCorrection | None = None
        self._sink: EventSink | None = None
        self._lock = threading.RLock()
        self._stopped_at: float | None = None
        self._audio = AudioIntake(limits, self.session_id)
        self._last_audio_at = time.monotonic()  # when audio last came (or a client took the recording)
        self._thread: SessionThread | None = None
        self._transcript = LiveTranscript()
        # sentences go out under the lock that binds a client, so a resume gets each exactly once
        self._sentences = SentenceLog(self._emit, self._lock)

    # ----- called from socket handlers (any thread) -----

    def start(self, options: SessionOptions, sink: EventSink) -> None:
        """Begin recording; audio frames are accepted from now on."""
        with self._lock:
            if self.state is not SessionState.IDLE:
                raise SessionError(
                    "already_recording",
                    "a recording is already running on this connection; "
                    "stop it first (or reconnect and resume it)",
                )
            self.options, self._sink = options, sink
            self._start_correction()
            self._audio.open(self._recordings.create(self.session_id))
            self.state = SessionState.RECORDING
            self._last_audio_at = time.monotonic()
            self._start_thread()

    def feed(self, data: bytes) -> None:
        """Accept one frame of s16le PCM; an odd trailing byte waits for the next frame."""
        with self._lock:
            if self.state is not SessionState.RECORDING or self._thread is None:
                raise SessionError(
                    "not_recording",
                    "audio_data received but no recording is running; send start_recording first",
                )
            before = self._audio.received
            too_long = self._audio.accept(data)
            received = self._audio.received
            if received != before:
                self._last_audio_at = time.monotonic()
                # the first pass works in whole VAD chunks, so waking its thread more often is wasted
                if received // VAD_CHUNK != before // VAD_CHUNK:
                    self._thread.audio(received)
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
        assert self._thread is not None
        self.state = SessionState.FINALIZING
        self._stopped_at = time.monotonic()
        self._thread.stop(self._audio.received)

    def adopt(self, options: SessionOptions) -> None:
        """Take over a recording another process spooled: replay its audio silently, then accept more.

        Raises SpoolBusy while a live process still writes it, FileNotFoundError when it has no audio.
        """
        with self._lock:
            if self.state is not SessionState.IDLE:
                raise RuntimeError(f"session {self.session_id} is {self.state.value}, not idle")
            self._audio.open(self._recordings.reopen(self.session_id))
            self.options = options
            self._start_correction()  # the same hotwords and LLM as the process it came from
            self.state, self.detached_at = SessionState.PARKED, time.monotonic()
            self._start_thread(replay_to=self._audio.received).audio(self._audio.received)

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Wait until replayed audio has been processed; True when it has."""
        thread = self._thread
        return thread is None or thread.caught_up.wait(timeout_s)

    def hand_off(self, message: str) -> bool:
        """Shutdown: stop a running recording without finalising it, so it resumes elsewhere.

        The client gets `error {code: "server_restarting"}`; the spool is closed, which releases it.
        Returns False when the session was not recording.
        """
        with self._lock:
            if self.state not in (SessionState.RECORDING, SessionState.PARKED) or self._thread is None:
                return False
            self.state = SessionState.PARKED
            self._thread.hand_off()
        self._emit(ErrorEvent("server_restarting", message))
        with self._lock:
            self._sink = None
        return True

    def detach(self) -> None:
        """The client went away: stop sending it events; a recording waits to be resumed.

        Only the connection bound to the session may call it (connections.Connections decides).
        """
        with self._lock:
            self._sink = None
            self.detached_at = time.monotonic()
            if self.state is SessionState.RECORDING:
                self.state = SessionState.PARKED

    def attach(self, sink: EventSink) -> tuple[SessionSnapshot, FinalResult | None]:
        """Bind a new connection; returns resume_result and the final result if it was already sent.
        Under the lock sentences go out under: later ones go to `sink`, none in the snapshot again."""
        with self._lock:
            self._sink = sink
            self.detached_at = None
            if self.state is SessionState.PARKED:
                self.state = SessionState.RECORDING
                self._last_audio_at = time.monotonic()  # the idle time starts again for this client
            return self.snapshot(), self.final_result

    def wait_done(self, timeout_s: float) -> bool:
        """Wait for the session thread (if any) to finish; True when it has."""
        thread = self._thread
        return thread is None or thread.join(timeout_s)

    def snapshot(self) -> SessionSnapshot:
        """Where the recording stands, for resume_result."""
        return SessionSnapshot(
            session_id=self.session_id,
            state=self.state,
            current_text=self._transcript.full_text(),
            received_samples=self._audio.received,
            pending_bytes=self._audio.pending_bytes,
            last_seq=self._transcript.seq,
            sentences=self._sentences.snapshot(),
        )

    # ----- the session thread's hooks -----

    def _start_correction(self) -> None:
        if self._corrector is not None:
            self._correction = self._corrector.start(self.options.hotwords, self.options.llm_correct)

    def _start_thread(self, replay_to: int = 0) -> SessionThread:
        """The session thread, started with this recording's second pass (and correction, if any)."""
        check, done = partial(self._stop_if_idle, self._limits.idle_timeout_s), partial(self._on_done, self)
        hooks = ThreadHooks(self._emit, self._idle_wait_s, check, self._publish, self._fail, done)
        thread = SessionThread(self.session_id, self._models, self._transcript, self._audio, hooks, replay_to)
        correction = None
        if self._correction is not None:
            llm = self.options.llm_correct and self._corrector is not None and self._corrector.llm is not None
            llm_wait = (lambda: self._emit(ProgressEvent(1.0, "llm_correction"))) if llm else None
            correction = CorrectionHooks(self._correction, llm_wait)
        recognise = (self._models.offline, self._audio.read, self.options, self._limits.max_sentence_ms)
        second = SecondPass(*recognise, correction, self._sentences, thread.recognised)
        self._thread = thread
        thread.start(second, self.options.language, self.options.full_text)
        return thread

    def _emit(self, event: LiveEvent) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception:
            log.warning("session %s: could not emit %s", self.session_id, event.name, exc_info=True)

    def _idle_wait_s(self) -> float | None:
        """How long the inbox may stay empty before the idle check: None, no limit."""
        limit = self._limits.idle_timeout_s
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
                self._audio.received / SAMPLE_RATE,
            )
            self._stop_locked()
        message = (
            f"no audio received for {limit:g} s; the recording was stopped and its final result is coming"
        )
        self._emit(ErrorEvent("idle_timeout", message))

    def _publish(self, result: FinalResult) -> None:
        """Store the result, then send it (a client attaching later gets it from attach())."""
        self._results.save_digest(self.session_id, self.token_sha256, result.to_wire())
        # closed after the result is stored: the spool's lock tells other processes it is still ours
        self._audio.close()
        if self._stopped_at is not None:
            metrics.observe_stage("final", time.monotonic() - self._stopped_at)
        with self._lock:
            self.final_result = result
            self.state = SessionState.DONE
            sink = self._sink
        if sink is not None:
            sink(ProgressEvent(1.0, "done"))
            sink(result)

    def _fail(self) -> None:
        message = f"the recording could not be processed; its audio is kept as backup {self.session_id}"
        self._emit(ErrorEvent("recording_failed", message))
        self._audio.close()
        with self._lock:
            self.state = SessionState.DONE
