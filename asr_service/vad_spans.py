"""Speech spans from FSMN-VAD's streaming events, shared by the file and whole-clip detectors."""

from __future__ import annotations

from collections.abc import Iterable

from .roles import Span


class SpanCollector:
    """Turns streaming VAD events ([start, end], [start, -1], [-1, end]) into closed spans."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._open_start: int | None = None

    def add(self, events: Iterable[tuple[int, int]]) -> None:
        """Take one chunk's events; a span opened in one chunk may close in a later one."""
        for start, end in events:
            if start >= 0 and end >= 0:
                self.spans.append(Span(int(start), int(end)))
            elif start >= 0:
                self._open_start = int(start)
            elif self._open_start is not None:
                self.spans.append(Span(self._open_start, int(end)))
                self._open_start = None

    def close(self, end_ms: int) -> list[Span]:
        """All spans, with speech still open at the end of the audio closed at `end_ms`."""
        if self._open_start is not None:
            self.spans.append(Span(self._open_start, end_ms))
            self._open_start = None
        return self.spans
