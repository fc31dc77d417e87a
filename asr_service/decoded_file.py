"""An upload's decoded audio on disk (16 kHz mono float32), read back in windows.

Uploads are decoded here instead of into memory, so what a request holds does not grow with the
recording's length. float32 keeps the samples exactly as the decoder gave them (PCM16 would round).
The file has no name (unlinked on creation), so a process that dies mid-upload leaves nothing behind
and processes sharing ASR_DATA_DIR never see each other's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

_BYTES_PER_SAMPLE = 4


class DecodedFile:
    """Written once with `write`, then read with `read`; removed by `close`."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._samples = 0
        self._writing = True

    def write(self, samples: np.ndarray) -> None:
        """Append float32 samples (decoder output)."""
        self._file.write(np.ascontiguousarray(samples, dtype="<f4").tobytes())
        self._samples += len(samples)

    def finish(self) -> None:
        """Done writing: from now on the file is read."""
        self._file.flush()
        self._writing = False

    def __len__(self) -> int:
        return self._samples

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) clipped to the file, as a new float32 array."""
        start, stop = max(0, start), min(stop, self._samples)
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        if self._writing:
            self.finish()
        self._file.seek(start * _BYTES_PER_SAMPLE)
        data = self._file.read((stop - start) * _BYTES_PER_SAMPLE)
        return np.frombuffer(data, dtype="<f4").astype(np.float32)

    def close(self) -> None:
        """Close the file, which frees its disk space."""
        self._file.close()

    def __enter__(self) -> DecodedFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class DecodeScratch:
    """The directory where uploads are decoded (ASR_DATA_DIR/uploads); one file per running upload."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def new(self) -> DecodedFile:
        """An empty decoded file for one upload."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return DecodedFile(tempfile.TemporaryFile(dir=self.directory))
