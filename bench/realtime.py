"""Live-recording benchmark: N paced Socket.IO clients against a real server on full-size models.

    python bench/realtime.py --streams 1 --minutes 1 --minutes 30
    python bench/realtime.py --quick          # tiny models, seconds: checks the harness itself

Reports first-partial latency, partial lag p50/p95, final latency after stop and server RSS.
A recording longer than --paced-tail-s is sent ahead of real time (at most 10 s ahead of what the
server reports as heard) and its last --paced-tail-s seconds in real time, so the work left at
stop is what a live client leaves, while a 30-minute recording does not take 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import test_model_dirs  # noqa: E402

from tests.conftest import start_server, stop_server  # noqa: E402
from tests.socket_client import RecordingClient  # noqa: E402
from tests.speech_fixtures import make_speech  # noqa: E402

FRAME_MS = 100
BYTES_PER_MS = 32


@dataclass
class StreamResult:
    """What one client saw."""

    minutes: float
    first_partial_ms: float
    lag_p50_ms: float
    lag_p95_ms: float
    final_after_stop_ms: float
    partials: int
    errors: list[str] = field(default_factory=list)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_stream(url: str, pcm: bytes, paced_tail_s: float) -> StreamResult:
    """One recording: fast-forward the head, real time for the tail, then stop and wait."""
    client = RecordingClient(url)
    client.wait_for("connected")
    client.sio.emit("start_recording", {})
    client.wait_for("recording_started")
    tail_start = max(0, len(pcm) - int(paced_tail_s * 1000) * BYTES_PER_MS)
    tail_start -= tail_start % (FRAME_MS * BYTES_PER_MS)
    sent_at: dict[int, float] = {}
    if tail_start:
        client.send_ahead(pcm[:tail_start], FRAME_MS * BYTES_PER_MS)
    paced_from = time.monotonic()
    frame = FRAME_MS * BYTES_PER_MS
    for index, offset in enumerate(range(tail_start, len(pcm), frame)):
        target = paced_from + index * FRAME_MS / 1000
        time.sleep(max(0.0, target - time.monotonic()))
        client.sio.emit("audio_data", pcm[offset : offset + frame])
        sent_at[(offset + frame) // BYTES_PER_MS] = time.monotonic()
    stop_at = time.monotonic()
    client.sio.emit("stop_recording")
    client.wait_for("final_result", 3600)
    final_ms = (time.monotonic() - stop_at) * 1000
    client.close()
    return _summarise(client, sent_at, final_ms, len(pcm) / BYTES_PER_MS / 60000)


def _summarise(
    client: RecordingClient, sent_at: dict[int, float], final_ms: float, minutes: float
) -> StreamResult:
    partials = [
        (t, p)
        for t, (n, p) in zip(client.arrivals, client.events, strict=True)
        if n == "transcription" and p["vad_event"] is None and not p["is_final"]
    ]
    lags = [
        (t - sent_at[p["current_time_ms"]]) * 1000 for t, p in partials if p["current_time_ms"] in sent_at
    ]
    first = next((t for t, p in partials), None)
    return StreamResult(
        minutes=round(minutes, 2),
        # from sending the first 600 ms (when it was sent in real time) to the first partial
        first_partial_ms=round((first - sent_at[600]) * 1000, 1)
        if first and 600 in sent_at
        else float("nan"),
        lag_p50_ms=round(statistics.median(lags), 1) if lags else float("nan"),
        lag_p95_ms=round(float(np.percentile(lags, 95)), 1) if lags else float("nan"),
        final_after_stop_ms=round(final_ms, 1),
        partials=len(partials),
        errors=[p["code"] for p in client.payloads("error")],
    )


def run_concurrently(url: str, pcm: bytes, streams: int, paced_tail_s: float) -> list[StreamResult]:
    """`streams` clients recording the same audio at once."""
    results: list[StreamResult] = []

    def one() -> None:
        results.append(run_stream(url, pcm, paced_tail_s))

    threads = [threading.Thread(target=one) for _ in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def speech_pcm(minutes: float, work: Path, tail_s: float = 60.0) -> bytes:
    """espeak-ng speech with pauses, `minutes` long, as s16le bytes.

    Every recording ends with the same `tail_s` seconds, so the last segment (what the final
    result waits for) is the same whatever the length and final latencies compare fairly.
    """
    clip, _ = sf.read(make_speech(work / "speech"), dtype="int16")
    total, tail = int(minutes * 60 * 16000), int(min(tail_s, minutes * 60) * 16000)
    tiled = np.tile(clip, int(np.ceil(max(total, tail) / len(clip))) + 1)
    audio = np.concatenate((tiled[: total - tail], tiled[:tail]))
    return bytes(audio.tobytes())


def main() -> None:
    """Run the requested recordings and print/save the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1, help="concurrent clients")
    parser.add_argument("--minutes", type=float, action="append", help="recording length (repeatable)")
    parser.add_argument("--paced-tail-s", type=float, default=60.0)
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--quick", action="store_true", help="tiny models, 0.5 and 2 minutes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "realtime.json")
    args = parser.parse_args()
    size = "tiny" if args.quick else args.size
    minutes_list = args.minutes or ([0.5, 2.0] if args.quick else [1.0, 30.0])
    work = Path(tempfile.mkdtemp(prefix="bench-rt-"))
    dirs = test_model_dirs.ensure_test_models(size, calib_wav=make_speech(work / "calib"))
    server = start_server({**test_model_dirs.model_env(dirs), "ASR_THREADS": "1"}, work)
    rows: list[dict[str, Any]] = []
    try:
        for minutes in minutes_list:
            pcm = speech_pcm(minutes, work)
            rss_before = _rss_mb(server.process.pid)
            results = run_concurrently(server.url, pcm, args.streams, args.paced_tail_s)
            rss_after = _rss_mb(server.process.pid)
            for result in results:
                rows.append(
                    {
                        **asdict(result),
                        "streams": args.streams,
                        "rss_before_mb": round(rss_before, 1),
                        "rss_after_mb": round(rss_after, 1),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    finally:
        stop_server(server)
    report = {
        "size": size,
        "streams": args.streams,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "rows": rows,
        "command": " ".join(sys.argv),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
