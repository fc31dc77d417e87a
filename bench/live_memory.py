"""Memory of one long live recording, in process: RSS and what each per-session structure holds.

    python bench/live_memory.py --hours 4            # the full 4-hour recording (tiny test models)
    python bench/live_memory.py --hours 1 --every-min 10 --trace

Speech (espeak-ng, with pauses) is fed in 1 s frames, at most `--ahead-s` ahead of the audio the
session reports as heard, through the real engine (workers, VAD, Paraformer, punctuation,
SenseVoice per segment). Every `--every-min` minutes of audio it samples the process's RSS and
the sizes of the session's growing structures; growth per hour is the least-squares slope after
the first sample. Writes bench/results/live_memory-<hours>h.json.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import test_model_dirs  # noqa: E402

from asr_service.config import Settings  # noqa: E402
from asr_service.data_stores import open_stores  # noqa: E402
from asr_service.engine import engine_from_models  # noqa: E402
from asr_service.events import ErrorEvent, FinalResult, LiveEvent, TranscriptionEvent  # noqa: E402
from asr_service.first_pass import FirstPass  # noqa: E402
from asr_service.live_types import SessionOptions  # noqa: E402
from asr_service.model_loading import load_models  # noqa: E402
from asr_service.recording_session import RecordingSession  # noqa: E402
from asr_service.second_pass import SecondPass  # noqa: E402
from bench.measure import rss_mb  # noqa: E402
from bench.speech import RATE, SpeechSource  # noqa: E402


class Progress:
    """A sink that keeps only what the bench needs: how far the session has heard, and the result."""

    def __init__(self) -> None:
        self.heard_ms = 0
        self.events = 0
        self.event_bytes = 0  # the last transcription event as JSON: what the transport sends
        self.final: dict[str, Any] | None = None
        self.done = threading.Event()

    def __call__(self, event: LiveEvent) -> None:
        self.events += 1
        if isinstance(event, TranscriptionEvent):
            self.heard_ms = max(self.heard_ms, event.current_time_ms)
            self.event_bytes = len(json.dumps(event.to_wire()))  # encoded as Socket.IO does, per event
        elif isinstance(event, FinalResult):
            self.final = event.to_wire()
            self.done.set()
        elif isinstance(event, ErrorEvent):
            print("error event:", event.to_wire(), flush=True)


def _tensor_bytes(value: Any, seen: set[int]) -> int:  # noqa: PLR0911
    """Bytes of tensors, arrays, strings and lists reachable from a cache dict (approximate)."""
    if id(value) in seen:
        return 0
    seen.add(id(value))
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if hasattr(value, "element_size") and hasattr(value, "nelement"):
        return int(value.element_size() * value.nelement())
    if isinstance(value, str):
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return sum(_tensor_bytes(v, seen) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sys.getsizeof(value) + sum(_tensor_bytes(v, seen) for v in value)
    if hasattr(value, "__dict__"):
        return _tensor_bytes(vars(value), seen)
    return 0


def footprint(session: RecordingSession) -> dict[str, int]:
    """Bytes held by each per-session structure that could grow with the recording."""
    live = session._transcript
    # the passes belong to the session's thread: found among the live objects by the transcript they share
    first = next((o for o in gc.get_objects() if isinstance(o, FirstPass) and o._live is live), None)
    second = first._segments if first is not None else None
    jobs = list(second._jobs.values()) if isinstance(second, SecondPass) else []
    sizes = {
        "transcript_text": sum(sys.getsizeof(t) for t in (live.raw_text, live.punc_text, live.pending)),
        "segments": len(live.segments),
        "segment_text": sum(sys.getsizeof(s.text) for s in live.segments),
        "second_pass_results": sum(
            sum(sys.getsizeof(t) for t in j.future.result())
            for j in jobs
            if j.future is not None and j.future.done() and j.future.exception() is None
        ),
    }
    if first is not None:
        for name in ("_vad_cache", "_asr_cache", "_punc_cache"):
            sizes[name.strip("_")] = _tensor_bytes(getattr(first, name), set())
        sizes["first_pass_buffer"] = int(first._buffer.nbytes)
    if isinstance(second, SecondPass):
        sizes["early_segments"] = len(second._early)
    return sizes


def _slope_mb_per_h(points: list[tuple[float, float]]) -> float:
    """Least-squares MB per hour of audio, from (audio hours, MB) points."""
    if len(points) < 2:
        return float("nan")
    x, y = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    return round(float(np.polyfit(x, y, 1)[0]), 2)


def run(hours: float, every_min: float, ahead_s: float, trace: bool, size: str) -> dict[str, Any]:
    """Record `hours` of speech in one session; return the samples and growth figures."""
    work = Path(tempfile.mkdtemp(prefix="live-memory-"))
    env = {**test_model_dirs.model_env(test_model_dirs.ensure_test_models(size)), "ASR_DATA_DIR": str(work)}
    env.update({"ASR_WARMUP": "1", "HOTWORDS_FILE": str(work / "none.json"), "ASR_IDLE_TIMEOUT_S": "0"})
    env["ASR_MAX_SESSION_S"] = str(int(hours * 3600) + 60)
    settings = Settings.from_env(env)
    engine = engine_from_models(settings, load_models(settings), open_stores(settings))
    clip = SpeechSource(work).clip
    session = engine.sessions.create()
    progress = Progress()
    engine.sessions.begin(session, SessionOptions(), progress)
    total = int(hours * 3600 * RATE)
    step = int(every_min * 60 * RATE)
    samples: list[dict[str, Any]] = []
    snapshot0 = None
    if trace:
        tracemalloc.start(1)
    sent, started = 0, time.monotonic()
    while sent < total:
        frame = np.resize(np.roll(clip, -(sent % len(clip))), min(RATE, total - sent))
        while sent - progress.heard_ms * RATE // 1000 > ahead_s * RATE:
            time.sleep(0.05)
        session.feed(frame.astype("<i2").tobytes())
        sent += len(frame)
        if sent % step == 0 or sent == total:
            gc.collect()
            sample: dict[str, Any] = {
                "audio_h": round(sent / RATE / 3600, 4),
                "wall_s": round(time.monotonic() - started, 1),
                "rss_mb": round(rss_mb_self(), 1),
                "rss_trimmed_mb": round(_trimmed_rss_mb(), 1),
                "transcription_event_bytes": progress.event_bytes,
                **footprint(session),
            }
            if trace:
                current, _peak = tracemalloc.get_traced_memory()
                sample["python_heap_mb"] = round(current / 2**20, 2)
                if snapshot0 is None:
                    snapshot0 = tracemalloc.take_snapshot()
                else:
                    diff = tracemalloc.take_snapshot().compare_to(snapshot0, "lineno")
                    sample["top_growth"] = [f"{d.traceback} {d.size_diff / 1024:+.0f} KiB" for d in diff[:5]]
            samples.append(sample)
            print(json.dumps(sample, ensure_ascii=False), flush=True)
    session.stop()
    progress.done.wait(3600)
    final = progress.final or {}
    after_final = round(rss_mb_self(), 1)
    engine.close()
    points = [(s["audio_h"], s["rss_mb"]) for s in samples[1:]]
    trimmed = [(s["audio_h"], s["rss_trimmed_mb"]) for s in samples[1:]]
    return {
        "hours": hours,
        "samples": samples,
        "rss_after_final_mb": after_final,
        "rss_growth_mb": round(max(p[1] for p in points) - samples[0]["rss_mb"], 1) if points else None,
        "rss_mb_per_audio_h": _slope_mb_per_h(points),
        "rss_trimmed_mb_per_audio_h": _slope_mb_per_h(trimmed),
        "rss_trimmed_growth_mb": round(max(p[1] for p in trimmed) - samples[0]["rss_trimmed_mb"], 1)
        if trimmed
        else None,
        "transcription_event_bytes_at_end": samples[-1]["transcription_event_bytes"],
        "transcript_bytes_per_audio_h": _slope_mb_per_h(
            [
                (s["audio_h"], (s["transcript_text"] + s["segment_text"] + s["second_pass_results"]) / 1e6)
                for s in samples[1:]
            ]
        ),
        "final_duration_ms": final.get("duration_ms"),
        "final_sentences": len(final.get("timestamps", [])),
        "wall_s": round(time.monotonic() - started, 1),
    }


def _trimmed_rss_mb() -> float:
    """RSS after glibc returns its free pages: what is still allocated, without the allocator's cache."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb_self()


def rss_mb_self() -> float:
    """This process's RSS in MB."""
    import os

    return rss_mb(os.getpid())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--every-min", type=float, default=15.0, help="sample every this much audio")
    parser.add_argument("--ahead-s", type=float, default=10.0, help="most audio sent ahead of heard")
    parser.add_argument("--trace", action="store_true", help="tracemalloc (slower): top Python growth")
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    args = parser.parse_args()
    report = run(args.hours, args.every_min, args.ahead_s, args.trace, args.size)
    out = ROOT / "bench" / "results" / f"live_memory-{args.hours:g}h.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    summary = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
