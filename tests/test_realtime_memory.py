"""Flat memory: a 30-minute recording streamed as fast as possible barely moves the server's RSS.

"As fast as possible" means as fast as the server works through it: the client stays at most 10 s
ahead of the audio the server reports as heard (docs/websocket.md, replaying recorded audio).
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from .conftest import LiveServer
from .socket_client import RecordingClient

LIMIT_MB = 50


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_thirty_minute_recording_keeps_memory_flat(live_server: LiveServer, speech_wav: Path) -> None:
    samples, _ = sf.read(speech_wav, dtype="int16")
    clip = samples.tobytes()
    repeats = int(30 * 60 * 32000 / len(clip)) + 1
    client = RecordingClient(live_server.url)
    client.wait_for("connected")
    client.sio.emit("start_recording", {})
    client.wait_for("recording_started")
    warm = 3 * 60 * 32000 // len(clip)  # the first three minutes settle caches and allocator pools
    client.send_ahead(clip * warm, 3200)
    baseline = _rss_mb(live_server.process.pid)
    peak = baseline
    for _ in range(warm, repeats, 10):
        client.send_ahead(clip * 10, 3200)
        peak = max(peak, _rss_mb(live_server.process.pid))
    client.sio.emit("stop_recording")
    final = client.wait_for("final_result", 600)
    peak = max(peak, _rss_mb(live_server.process.pid))
    client.close()
    sent = warm + len(range(warm, repeats, 10)) * 10
    assert final["duration_ms"] == sent * len(clip) // 32 >= 30 * 60 * 1000
    assert len(final["timestamps"]) >= sent
    print(f"\n30-minute recording: server RSS {baseline:.1f} MB -> peak {peak:.1f} MB")
    assert peak - baseline < LIMIT_MB, f"RSS grew {peak - baseline:.1f} MB (baseline {baseline:.1f} MB)"
