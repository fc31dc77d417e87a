"""Recordings on disk: PCM appended to a WAV file as it arrives, kept as the backup afterwards."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import struct
import threading
from pathlib import Path

import numpy as np

from .retention import checked_id, sweep
from .segments import SAMPLE_RATE

log = logging.getLogger(__name__)

_HEADER_BYTES = 44
_UNKNOWN_SIZE = 0xFFFFFFFF  # what a WAV header says while the recording is still growing


def wav_header(data_bytes: int) -> bytes:
    """A 44-byte header for 16 kHz mono s16le; `_UNKNOWN_SIZE` marks a file still being written."""
    riff = _UNKNOWN_SIZE if data_bytes == _UNKNOWN_SIZE else 36 + data_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        SAMPLE_RATE,
        SAMPLE_RATE * 2,
        2,
        16,
        b"data",
        data_bytes,
    )


class SpoolBusy(Exception):
    """Another process (or spool object) is writing this recording."""


def _lock_exclusively(fd: int, path: Path) -> None:
    """Hold the writer's lock on `fd`; the kernel drops it when the process dies, however it dies."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise SpoolBusy(str(path)) from exc
        raise


class AudioSpool:
    """One recording's audio file: appended from one thread, read back by range from any.

    The writer holds an exclusive flock on the file for as long as it is open, so several service
    processes sharing ASR_DATA_DIR never write one recording at once.
    """

    def __init__(self, path: Path, resume: bool = False) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY if resume else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        self._fd = os.open(path, flags, 0o640)
        try:
            _lock_exclusively(self._fd, path)
            self._bytes = _audio_bytes(path) if resume else 0
            # a resumed file keeps its samples; the header says "still growing" again until close
            os.ftruncate(self._fd, _HEADER_BYTES + self._bytes)
            os.pwrite(self._fd, wav_header(_UNKNOWN_SIZE), 0)
            os.lseek(self._fd, 0, os.SEEK_END)
        except BaseException:
            os.close(self._fd)
            raise
        self._reader = os.open(path, os.O_RDONLY)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def samples(self) -> int:
        """Samples written so far."""
        return self._bytes // 2

    def append(self, pcm: bytes) -> None:
        """Write s16le bytes (an even count) straight to the OS, so a crash keeps them."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the recording is closed")
            view = memoryview(pcm)
            try:
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError:
                # drop the partial write so the file and the sample count stay aligned
                os.ftruncate(self._fd, _HEADER_BYTES + self._bytes)
                os.lseek(self._fd, 0, os.SEEK_END)
                raise
            self._bytes += len(pcm)

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) as float32 in [-1, 1)."""
        start, end = max(0, start), min(end, self.samples)
        if end <= start:
            return np.zeros(0, dtype=np.float32)
        raw = os.pread(self._reader, (end - start) * 2, _HEADER_BYTES + start * 2)
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0

    def close(self) -> None:
        """Write the final sizes into the header; the file is then a plain WAV."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.pwrite(self._fd, wav_header(self._bytes), 0)
            os.fsync(self._fd)
            os.close(self._fd)
            os.close(self._reader)


def _audio_bytes(path: Path) -> int:
    """Whole samples' bytes after the header (a killed writer may have left half a sample)."""
    size = max(0, path.stat().st_size - _HEADER_BYTES)
    return size - size % 2


def is_being_written(path: Path) -> bool:
    """Whether some live spool (in any process) holds this recording's writer lock."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        _lock_exclusively(fd, path)
    except SpoolBusy:
        return True
    finally:
        os.close(fd)  # also drops the lock if we got it
    return False


class RecordingStore:
    """The folder of recordings: one WAV per session id, removed after the retention time."""

    def __init__(self, directory: Path, retention_s: float) -> None:
        # absolute, so the spool's writer and a download (send_file resolves relative paths against
        # the package, not the working directory) name the same file
        self.directory = directory.resolve()
        self.retention_s = retention_s
        self.directory.mkdir(parents=True, exist_ok=True)

    def create(self, recording_id: str) -> AudioSpool:
        """A new spool for `recording_id`."""
        return AudioSpool(self.path(recording_id))

    def reopen(self, recording_id: str) -> AudioSpool:
        """Continue writing an existing recording; FileNotFoundError if none, SpoolBusy if it is live."""
        return AudioSpool(self.path(recording_id), resume=True)

    def path(self, recording_id: str) -> Path:
        """Where a recording lives; KeyError for ids that are not ours (never a path outside)."""
        return self.directory / f"{checked_id(recording_id)}.wav"

    def existing(self, recording_id: str) -> Path | None:
        """The file of a recording that exists, else None."""
        try:
            path = self.path(recording_id)
        except KeyError:
            return None
        return path if path.is_file() else None

    def delete(self, recording_id: str) -> bool:
        """Remove a recording; False when there was none."""
        path = self.existing(recording_id)
        if path is None:
            return False
        path.unlink(missing_ok=True)
        return True

    def sweep(self, now: float | None = None, keep: set[str] | None = None) -> int:
        """Delete recordings older than the retention time, except ids in `keep`; returns the count."""
        return sweep(self.directory, "*.wav", self.retention_s, now, keep)

    def recover(self) -> list[str]:
        """Fix the headers of recordings a crash left open, so they play as WAV; returns their ids."""
        fixed = []
        for path in self.directory.glob("*.wav"):
            if is_being_written(path):  # live in another process sharing ASR_DATA_DIR
                continue
            with path.open("r+b") as fh:
                head = fh.read(_HEADER_BYTES)
                if len(head) < _HEADER_BYTES or struct.unpack("<I", head[40:44])[0] != _UNKNOWN_SIZE:
                    continue
                size = path.stat().st_size - _HEADER_BYTES
                size -= size % 2
                fh.seek(0)
                fh.write(wav_header(size))
            fixed.append(path.stem)
            log.warning("recovered interrupted recording %s (%.1f s)", path.stem, size / 2 / SAMPLE_RATE)
        return fixed
