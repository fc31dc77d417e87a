"""Benchmark clients: live recordings over Socket.IO and file uploads over REST, with their figures."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.measure import percentiles
from tests.socket_client import SENTENCE_EVENTS, RecordingClient

BYTES_PER_MS = 32


@dataclass
class StreamFigures:
    """What one live client saw."""

    audio_s: float
    frame_ms: int
    first_partial_ms: float
    lag_p50_ms: float
    lag_p95_ms: float
    final_after_stop_ms: float
    partials: int
    lost_ms: int  # audio sent but missing from the final duration
    out_of_order: int  # transcription events whose seq or time went backwards or skipped
    disconnects: int
    resumes: int = 0
    errors: list[str] = field(default_factory=list)
    lags: list[float] = field(default_factory=list, repr=False)
    sentence_finals: int = 0
    # sentence_final after the audio of its end was sent (paced audio only): includes the VAD's
    # wait for silence, so it is what a user sees
    sentence_lags: list[float] = field(default_factory=list, repr=False)
    # sentence_final after the segment's speech_end event: the second pass and hotwords only
    sentence_after_close: list[float] = field(default_factory=list, repr=False)


class LiveRecording:
    """One client recording `pcm`: the head sent ahead of real time, the rest paced."""

    def __init__(self, url: str, pcm: bytes, frame_ms: int = 100, paced_tail_s: float | None = None) -> None:
        self.url, self.pcm, self.frame_ms = url, pcm, frame_ms
        self.frame = frame_ms * BYTES_PER_MS
        tail = len(pcm) if paced_tail_s is None else int(paced_tail_s * 1000) * BYTES_PER_MS
        head = max(0, len(pcm) - tail)
        self.head = head - head % self.frame
        self.sent_at: dict[int, float] = {}  # audio ms completed by a paced frame -> when sent
        self.disconnects = 0  # connections lost without the client closing them
        self.resumes = 0
        self._closed: set[int] = set()  # clients this side closed on purpose
        self.client = self._connect()

    def _connect(self) -> RecordingClient:
        client = RecordingClient(self.url, events=SENTENCE_EVENTS)  # a client of this version

        def dropped(*_reason: object) -> None:
            if id(client) not in self._closed:
                self.disconnects += 1

        client.sio.on("disconnect", dropped)
        return client

    def start(self) -> None:
        """Connect and start recording."""
        self.client.wait_for("connected")
        self.client.sio.emit("start_recording", {})
        self.client.wait_for("recording_started")

    def send(self, until: int | None = None, drop_at: int | None = None) -> None:
        """Send the head ahead, then paced frames; optionally drop and resume at byte `drop_at`."""
        if self.head:
            self.client.send_ahead(self.pcm[: self.head], self.frame)
        paced_from = time.monotonic()
        offset, end = self.head, len(self.pcm) if until is None else until
        while offset < end:
            if drop_at is not None and offset >= drop_at:
                offset = self._drop_and_resume()
                drop_at = None
                continue
            target = paced_from + (offset - self.head) / BYTES_PER_MS / 1000
            time.sleep(max(0.0, target - time.monotonic()))
            self.client.sio.emit("audio_data", self.pcm[offset : offset + self.frame])
            offset += self.frame
            self.sent_at[min(offset, len(self.pcm)) // BYTES_PER_MS] = time.monotonic()

    def _drop_and_resume(self) -> int:
        """Vanish without a goodbye, reconnect, resume; returns the byte offset to resend from."""
        token = self.client.payloads("recording_started")[-1]["resume_token"]
        previous = self.client
        self._closed.add(id(previous))
        previous.sio.eio.disconnect(abort=True)  # like a network drop: no disconnect packet
        self.client = self._connect()
        self.client.wait_for("connected")
        self.client.sio.emit("resume_recording", {"resume_token": token})
        result = self.client.wait_for("resume_result")
        with self.client._cond:  # keep one event history across the two connections
            self.client.events[:0] = previous.events
            self.client.arrivals[:0] = previous.arrivals
        self.resumes += 1
        return int(result["received_bytes"])

    def stop(self) -> StreamFigures:
        """Stop, wait for the final result and summarise."""
        stop_at = time.monotonic()
        self.client.sio.emit("stop_recording")
        final = self.client.wait_for("final_result", 3600)
        final_ms = (time.monotonic() - stop_at) * 1000
        self._closed.add(id(self.client))
        self.client.close()
        return self._figures(final, final_ms)

    def _figures(self, final: dict[str, Any], final_ms: float) -> StreamFigures:
        events = list(zip(self.client.arrivals, self.client.events, strict=True))
        partials = [
            (t, p)
            for t, (n, p) in events
            if n == "transcription" and p["vad_event"] is None and not p["is_final"]
        ]
        lags = [
            (t - self.sent_at[p["current_time_ms"]]) * 1000
            for t, p in partials
            if p["current_time_ms"] in self.sent_at
        ]
        sentence_lags, after_close = self._sentence_latencies(events)
        first = partials[0][0] if partials else None
        first_ref = self.sent_at.get(600) if not self.head else None
        p50, p95 = percentiles(lags, 50, 95)
        return StreamFigures(
            audio_s=round(len(self.pcm) / BYTES_PER_MS / 1000, 1),
            frame_ms=self.frame_ms,
            first_partial_ms=round((first - first_ref) * 1000, 1) if first and first_ref else float("nan"),
            lag_p50_ms=p50,
            lag_p95_ms=p95,
            final_after_stop_ms=round(final_ms, 1),
            partials=len(partials),
            lost_ms=len(self.pcm) // BYTES_PER_MS - int(final["duration_ms"]),
            out_of_order=_out_of_order(
                [p for _t, (n, p) in events if n == "transcription"], self.resumes > 0
            ),
            disconnects=self.disconnects,
            resumes=self.resumes,
            errors=[p["code"] for p in self.client.payloads("error")],
            lags=lags,
            sentence_finals=len(self.client.payloads("sentence_final")),
            sentence_lags=sentence_lags,
            sentence_after_close=after_close,
        )

    def _sentence_latencies(
        self, events: list[tuple[float, tuple[str, Any]]]
    ) -> tuple[list[float], list[float]]:
        """Each sentence_final's delay (ms) after its end's audio was sent, and after its speech_end."""
        sent = sorted(self.sent_at)
        ends = [
            (p["current_time_ms"], t)
            for t, (n, p) in events
            if n == "transcription" and p["vad_event"] == "speech_end"
        ]
        from_audio: list[float] = []
        from_close: list[float] = []
        for arrived, (name, payload) in events:
            if name != "sentence_final":
                continue
            end_ms = int(payload["end_ms"])
            at = bisect.bisect_left(sent, end_ms)
            if at < len(sent):
                from_audio.append((arrived - self.sent_at[sent[at]]) * 1000)
            closed = next((t for heard, t in ends if heard >= end_ms), None)
            if closed is not None and closed <= arrived:
                from_close.append((arrived - closed) * 1000)
        return from_audio, from_close


def _out_of_order(transcriptions: list[dict[str, Any]], resumed: bool = False) -> int:
    """Events whose seq or time went backwards or repeated, or (unless resumed) skipped a number.

    Events of a parked session are never sent, so after a resume a forward jump is expected.
    """
    bad, seq, heard = 0, 0, 0
    for payload in transcriptions:
        skipped = payload["seq"] > seq + 1 and not resumed
        if payload["seq"] <= seq or skipped or payload["current_time_ms"] < heard:
            bad += 1
        seq, heard = max(seq, payload["seq"]), max(heard, payload["current_time_ms"])
    return bad


def record(url: str, pcm: bytes, frame_ms: int = 100, paced_tail_s: float | None = None) -> StreamFigures:
    """One complete live recording."""
    rec = LiveRecording(url, pcm, frame_ms, paced_tail_s)
    rec.start()
    rec.send()
    return rec.stop()


def run_parallel(jobs: list[Callable[[], Any]], stagger_s: float = 0.0) -> list[Any]:
    """Run the jobs on threads at once (optionally staggered); results in job order, errors as values."""
    results: list[Any] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            results[index] = jobs[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
        time.sleep(stagger_s)
    for thread in threads:
        thread.join()
    return results


@dataclass
class UploadFigures:
    """One REST transcription."""

    audio_s: float
    wall_s: float
    rtf: float
    status: int
    error: str = ""


def upload(url: str, path: Path, audio_s: float, words: bool = False) -> UploadFigures:
    """POST one file to /api/asr/transcribe (with word times if `words`) and time it."""
    form = {"word_timestamps": "true"} if words else {}
    began = time.monotonic()
    with path.open("rb") as fh:
        response = requests.post(
            f"{url}/api/asr/transcribe", files={"file": (path.name, fh)}, data=form, timeout=3600
        )
    wall = time.monotonic() - began
    body = response.json()
    return UploadFigures(
        round(audio_s, 1),
        round(wall, 2),
        round(wall / audio_s, 4),
        response.status_code,
        "" if body.get("success") else str(body.get("code")),
    )
