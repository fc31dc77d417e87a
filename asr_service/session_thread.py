"""A live session's thread: it waits on the session's inbox, runs the spooled audio through both passes, and
builds the final result; it reaches its session only through the hooks it is given."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .audio_intake import AudioIntake
from .audio_units import SAMPLE_RATE, samples_to_ms
from .correction import CorrectedText
from .events import FinalResult, LiveEvent, ProgressEvent, RecordingStopped, TranscriptionEvent
from .first_pass import FirstPass, LiveTranscript
from .live_types import LiveModels
from .logs import set_session_id
from .second_pass import SecondPass, final_result

log = logging.getLogger(__name__)

# The thread reads audio back from the spool file in blocks of this size, so a client sending
# faster than real time fills the disk, not memory.
READ_BLOCK_SAMPLES = SAMPLE_RATE
# At stop, the VAD reads this much of the audio still unprocessed ahead of the streaming model, so
# the last segments' second passes start at once; more than this is first processed as usual.
STOP_LOOKAHEAD_SAMPLES = SAMPLE_RATE * 60


class _Stop:
    """Marks the end of the audio in a session's inbox."""


class _HandOff:
    """Tells a session's thread to stop without a final pass: another process will continue it."""


class _Recognised:
    """Tells the session thread that a segment's second pass or an LLM window finished: what is done
    goes to the correction and to the client."""


_STOP = _Stop()
_HAND_OFF = _HandOff()
_RECOGNISED = _Recognised()
_InboxItem = int | _Stop | _HandOff | _Recognised  # an int: the samples the spool holds


@dataclass(frozen=True)
class ThreadHooks:
    """What the thread needs from its session."""

    emit: Callable[[LiveEvent], None]  # an event for the session's client, if one is bound
    idle_wait_s: Callable[[], float | None]  # how long the inbox may stay empty before check_idle
    check_idle: Callable[[], None]  # stop the recording if its client sent no audio for too long
    finished: Callable[[FinalResult], None]  # store and send the result
    failed: Callable[[], None]  # the recording could not be processed (logged already)
    ended: Callable[[], None]  # the thread is about to end, whatever happened


class SessionThread:
    """Audio announced in the inbox goes through the first pass, in order; after the stop, the final pass."""

    def __init__(
        self,
        session_id: str,
        models: LiveModels,
        transcript: LiveTranscript,
        audio: AudioIntake,
        hooks: ThreadHooks,
        replay_to: int = 0,
    ) -> None:
        """`replay_to`: samples spooled by another process, processed without transcription events."""
        self._session_id, self._models, self._transcript = session_id, models, transcript
        self._audio, self._hooks, self._replay_to = audio, hooks, replay_to
        # the thread is told how much audio the spool holds; it reads the audio from disk
        self._inbox: queue.SimpleQueue[_InboxItem] = queue.SimpleQueue()
        self.caught_up = threading.Event()  # clear while audio spooled elsewhere is replayed
        if not replay_to:
            self.caught_up.set()
        self._stop_position: int | None = None  # samples received when stop_recording came
        self._thread = threading.Thread(target=self._run, name=f"session-{session_id[:8]}", daemon=True)
        self._second: SecondPass | None = None
        self._language = ""
        self._full_text = False
        self._ready = threading.Event()  # a second pass or LLM window finished since the last hand-over

    def start(self, second: SecondPass, language: str, full_text: bool = False) -> None:
        """Start the thread; `second` is the recording's second pass, `language` goes in its result;
        `full_text`: transcription events carry the whole transcript (start_recording's option)."""
        self._second, self._language, self._full_text = second, language, full_text
        self._thread.start()

    def audio(self, received: int) -> None:
        """The spool now holds `received` samples."""
        self._inbox.put(received)

    def stop(self, received: int) -> None:
        """No more audio after `received` samples: finish it, then run the final pass."""
        self._stop_position = received
        self._inbox.put(received)  # the audio since the last whole VAD chunk
        self._inbox.put(_STOP)

    def hand_off(self) -> None:
        """Stop at the next item without a final pass (the recording continues elsewhere)."""
        self._inbox.put(_HAND_OFF)

    def recognised(self) -> None:
        """A segment's second pass or an LLM window finished: hand on and push what is done."""
        self._ready.set()  # seen between blocks of a backlog of audio, too
        self._inbox.put(_RECOGNISED)

    def join(self, timeout_s: float) -> bool:
        """Wait for the thread to end; True when it has."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        set_session_id(self._session_id)
        assert self._second is not None
        try:
            with self._models.asr_lane() as asr:  # the lane is free again once the audio is done
                models = self._models
                first = FirstPass(
                    models.vad, asr, models.punc, self._transcript, self._second, self._heard, self._full_text
                )
                handed_off = self._consume(first, self._second)
            if handed_off:
                return
            self.caught_up.set()
            self._hooks.emit(RecordingStopped(self._session_id, self._audio.received))
            self._hooks.finished(self._result(self._second))
        except Exception:
            log.exception("session %s failed", self._session_id)
            self._hooks.failed()
        finally:
            self.caught_up.set()
            self._hooks.ended()

    def _heard(self, event: TranscriptionEvent) -> None:
        if self.caught_up.is_set():  # replayed audio is processed silently
            self._hooks.emit(event)

    def _consume(self, first: FirstPass, second: SecondPass) -> bool:
        """Run the audio through the first pass until stop (then flush) or hand-off (True)."""
        done = 0
        while True:
            item = self._next_item()
            if isinstance(item, _Stop):
                break
            if isinstance(item, _Recognised):
                self._hand_over(second)
                continue
            if isinstance(item, _HandOff):
                second.abandon()
                self._audio.close()
                return True
            while done < item:
                block = min(item, done + READ_BLOCK_SAMPLES)
                stop = self._stop_position
                if stop is not None and stop - done <= STOP_LOOKAHEAD_SAMPLES:
                    first.append(self._audio.read(done, block))  # finish() runs it, VAD first
                else:
                    first.push(self._audio.read(done, block))
                done = block
                if self._ready.is_set():
                    self._hand_over(second)
            if done >= self._replay_to:
                self.caught_up.set()
        first.finish()
        return False

    def _hand_over(self, second: SecondPass) -> None:
        """Push the sentences done; the live partial text leaves out the segments they cover."""
        self._ready.clear()
        second.hand_over(self._transcript.segments)
        self._transcript.covered = second.handed

    def _next_item(self) -> _InboxItem:
        """The next inbox item; meanwhile, the session checks whether its client went quiet."""
        while True:
            try:
                return self._inbox.get(timeout=self._hooks.idle_wait_s())
            except queue.Empty:
                self._hooks.check_idle()

    def _result(self, second: SecondPass) -> FinalResult:
        """Wait for the second passes (a failed one fails the recording) and the correction."""
        segments = self._transcript.segments
        for share in second.collect(segments):
            self._hand_over(second)  # each sentence goes out as soon as its segment is recognised
            self._hooks.emit(ProgressEvent(share, "second_pass"))
        corrected: CorrectedText = second.corrected(segments)
        duration_ms = samples_to_ms(self._audio.received)
        return final_result(self._session_id, self._transcript, corrected, duration_ms, self._language)
