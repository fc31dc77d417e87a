"""A live recording's incoming audio: frames to whole samples on disk, within the caps, read back by range."""

from __future__ import annotations

import logging

import numpy as np

from .audio_units import BYTES_PER_SAMPLE, PCM_BYTES_PER_S, SAMPLE_RATE, samples_to_bytes
from .errors import SessionError
from .live_types import SessionLimits
from .spool import AudioSpool

log = logging.getLogger(__name__)


class AudioIntake:
    """Spools s16le frames of any size; an odd trailing byte waits for the next frame."""

    def __init__(self, limits: SessionLimits, session_id: str) -> None:
        self._max_frame_bytes = limits.max_frame_bytes
        self._max_samples = int(limits.max_session_s * SAMPLE_RATE)
        self._session_id = session_id  # for log lines
        self._spool: AudioSpool | None = None
        self._carry = b""
        self.received = 0  # samples accepted (and spooled)

    def open(self, spool: AudioSpool) -> None:
        """Write to `spool` from now on; the samples it already holds count as received."""
        self._spool = spool
        self.received = spool.samples

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not spooled yet: at most one, the odd byte of the last frame."""
        return len(self._carry)

    def accept(self, data: bytes) -> bool:
        """Spool one frame's whole samples; True when it reached the recording's length cap (the rest is
        dropped). SessionError `frame_too_large` or `storage_error` keeps nothing of the frame."""
        assert self._spool is not None
        cap = self._max_frame_bytes
        if len(data) > cap:
            raise SessionError(
                "frame_too_large",
                f"audio frame of {len(data)} bytes is over the limit of {cap} bytes "
                f"({cap / PCM_BYTES_PER_S:g} s of 16 kHz s16le); send smaller frames",
            )
        pcm = self._carry + data
        carry = pcm[-1:] if len(pcm) % BYTES_PER_SAMPLE else b""
        pcm = pcm[: len(pcm) - len(carry)]
        room = self._max_samples - self.received
        too_long = len(pcm) // BYTES_PER_SAMPLE > room
        pcm = pcm[: samples_to_bytes(max(room, 0))]
        if pcm:
            try:
                self._spool.append(pcm)
            except OSError as exc:
                log.error("session %s: cannot write audio to disk: %s", self._session_id, exc)
                raise SessionError(
                    "storage_error",
                    f"the server could not store this audio frame ({exc.strerror}); "
                    "resend it from received_bytes of resume_result later",
                ) from exc
            self.received += len(pcm) // BYTES_PER_SAMPLE
        self._carry = carry  # only once the frame is kept, so received_bytes stays exact
        return too_long

    def read(self, start: int, end: int) -> np.ndarray:
        """Recorded samples [start, end), read back from the spool."""
        assert self._spool is not None
        return self._spool.read(start, end)

    def close(self) -> None:
        """Close the spool (its file becomes a plain WAV, and other processes may open it)."""
        if self._spool is not None:
            self._spool.close()
