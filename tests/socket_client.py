"""A python-socketio test client that records every event it receives, in order."""

from __future__ import annotations

import threading
import time
from typing import Any

import socketio

EVENTS = (
    "connected",
    "recording_started",
    "transcription",
    "recording_stopped",
    "processing_progress",
    "final_result",
    "resume_result",
    "error",
)
SENTENCE_EVENTS = ("sentence_final", "sentence_update")  # newer events: only clients that ask get them


class RecordingClient:
    """Connects over websocket and keeps (event, payload) pairs for assertions."""

    def __init__(self, url: str, auth: dict[str, str] | None = None, events: tuple[str, ...] = ()) -> None:
        """Keeps the events of EVENTS, and `events` too (an old client knows only EVENTS)."""
        self.events: list[tuple[str, Any]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each event, for latency figures
        self.sent_bytes = 0
        self._cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        for name in EVENTS + events:
            self.sio.on(name, self._recorder(name))
        self.sio.connect(url, transports=["websocket"], auth=auth, wait_timeout=20)

    def _recorder(self, name: str) -> Any:
        def record(payload: Any = None) -> None:
            with self._cond:
                self.events.append((name, payload))
                self.arrivals.append(time.monotonic())
                self._cond.notify_all()

        return record

    def wait_for(self, name: str, timeout: float = 60.0, count: int = 1) -> Any:
        """The payload of the `count`-th event called `name`, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [p for n, p in self.events if n == name]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({n for n, _ in self.events})
                    raise AssertionError(
                        f"no {name!r} within {timeout} s ({len(self.events)} events: {seen})"
                    )
                self._cond.wait(left)

    def payloads(self, name: str) -> list[Any]:
        """Every payload of `name` so far."""
        with self._cond:
            return [p for n, p in self.events if n == name]

    def send_audio(self, pcm: bytes, frame_bytes: int) -> None:
        """Send PCM in frames of `frame_bytes` (as fast as the socket takes them)."""
        for start in range(0, len(pcm), frame_bytes):
            self.sio.emit("audio_data", pcm[start : start + frame_bytes])

    def send_ahead(self, pcm: bytes, frame_bytes: int, window_ms: int = 10_000) -> None:
        """Send as fast as the server keeps up: at most `window_ms` beyond its current_time_ms."""
        for start in range(0, len(pcm), frame_bytes):
            sent_ms = self.sent_bytes // 32
            with self._cond:
                while sent_ms - self.heard_ms() > window_ms:
                    if not self._cond.wait(60):
                        raise AssertionError(f"server stuck at {self.heard_ms()} ms of {sent_ms} ms sent")
            self.sio.emit("audio_data", pcm[start : start + frame_bytes])
            self.sent_bytes += len(pcm[start : start + frame_bytes])

    def heard_ms(self) -> int:
        """The latest current_time_ms the server reported (possibly a moment stale)."""
        for name, payload in reversed(self.events):
            if name == "transcription":
                return int(payload["current_time_ms"])
        return 0

    def close(self) -> None:
        """Disconnect if still connected."""
        if self.sio.connected:
            self.sio.disconnect()
