"""A cap on uploads transcribed at once (ASR_MAX_UPLOADS): the next one is told `busy` at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import Busy


class UploadSlots:
    """At most `limit` holders at a time; never waits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One slot for the duration of the block, or Busy when none is free."""
        if not self._free.acquire(blocking=False):
            raise Busy(
                f"{self.limit} uploads are already being transcribed (ASR_MAX_UPLOADS); "
                "send the file again in a moment"
            )
        try:
            yield
        finally:
            self._free.release()
