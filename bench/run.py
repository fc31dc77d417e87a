"""The benchmark suite: the service against FunASR called directly, on the same models and audio.

    python bench/run.py --quick     # every scenario, short: under 10 minutes on 2 cores
    python bench/run.py --full      # the complete suite: 30-minute recording and 30-minute soak

Full-size random-weight models (released dimensions) and the real FSMN-VAD, espeak-ng speech
with pauses. Writes bench/results/<mode>.json and prints each target with its verdict.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import test_model_dirs  # noqa: E402

from asr_service.config import Settings  # noqa: E402
from asr_service.engine import streaming_lane_count  # noqa: E402
from bench import scenarios  # noqa: E402
from bench.speech import SpeechSource  # noqa: E402
from bench.targets import evaluate  # noqa: E402
from tests.conftest import start_server, stop_server  # noqa: E402


@dataclass(frozen=True)
class Plan:
    """Lengths and counts of one suite run."""

    name: str
    live_s: float  # the 1-stream recording and the direct baseline's
    long_minutes: float  # a long recording, head sent ahead, last minute paced (0: none)
    short_s: float  # each stream of multi-stream runs
    capacity_search: bool
    stress_streams: int
    upload_s: float
    upload_repeats: int
    long_upload_s: float
    soak_minutes: float
    soak_slots: int
    transport_streams: int


QUICK = Plan("quick", 60, 0, 30, True, 2, 70, 1, 180, 1.5, 2, 8)
FULL = Plan("full", 60, 30, 60, True, 4, 120, 3, 600, 30, 3, 20)


def machine(threads: int) -> dict[str, Any]:
    """Hardware, threads and versions the figures were taken on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    versions = {p: metadata.version(p) for p in ("torch", "funasr", "flask-socketio", "python-socketio")}
    settings = Settings.from_env({**os.environ, "ASR_THREADS": str(threads)})  # as the service gets it
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads_per_call": threads,
        "streaming_lanes": streaming_lane_count(settings, "cpu"),
        "streaming_gather_ms": settings.streaming_gather_ms,
        "python": platform.python_version(),
        **versions,
    }


def _baseline(module: str, dirs: dict[str, Path], *args: object) -> dict[str, Any]:
    """`python -m <module> DIRS_JSON ARGS...` in its own process (its CPU time and memory its own),
    returning the JSON object it prints last."""
    out = subprocess.run(
        [sys.executable, "-m", module, json.dumps({k: str(v) for k, v in dirs.items()}), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def direct_baseline(dirs: dict[str, Path], speech: SpeechSource, plan: Plan, threads: int) -> dict[str, Any]:
    """bench/direct.py: the four models called directly on the live and the upload audio."""
    return _baseline("bench.direct", dirs, speech.wav(plan.live_s), speech.wav(plan.upload_s), threads)


def word_time_baseline(
    dirs: dict[str, Path], speech: SpeechSource, plan: Plan, threads: int
) -> dict[str, Any]:
    """bench/word_times.py: SenseVoice directly, without and with word times."""
    return _baseline("bench.word_times", dirs, speech.wav(plan.upload_s), threads)


def service_runs(
    url_env: dict[str, str], speech: SpeechSource, plan: Plan, n_ref: float, work: Path, log: Any
) -> dict[str, Any]:
    """Every scenario against one service process on full-size models."""
    (work / "service").mkdir(parents=True, exist_ok=True)
    server = start_server(url_env, work / "service")
    runs: dict[str, Any] = {}
    try:
        runs["ready_rss_mb"] = scenarios.rss_mb(server.process.pid)
        runs["one_stream_100ms"] = log(
            "one stream, 100 ms frames", scenarios.single_stream(server, speech, plan.live_s, 100)
        )
        runs["one_stream_60ms"] = log(
            "one stream, 60 ms frames", scenarios.single_stream(server, speech, plan.short_s, 60)
        )
        if plan.long_minutes:
            runs["one_stream_long"] = log(
                f"one {plan.long_minutes:g}-minute stream",
                scenarios.single_stream(server, speech, plan.long_minutes * 60, 100, paced_tail_s=60.0),
            )
        runs["capacity"] = log(
            "capacity",
            scenarios.capacity(server, speech, math.ceil(0.75 * n_ref), plan.short_s, plan.capacity_search),
        )
        runs["stress"] = log("stress", scenarios.stress(server, speech, plan.stress_streams, plan.short_s))
        runs["uploads"] = log(
            "uploads", scenarios.uploads(server, speech, plan.upload_s, plan.upload_repeats)
        )
        runs["word_time_uploads"] = log(
            "uploads with word times", scenarios.word_time_uploads(server, speech, plan.upload_s, 2)
        )
        during = max(1, runs["capacity"]["capacity"] // 2)
        runs["live_during_upload"] = log(
            "live during upload",
            scenarios.live_during_upload(server, speech, during, plan.short_s, plan.long_upload_s),
        )
        slots = min(plan.soak_slots, max(1, runs["capacity"]["capacity"]))  # a soak within capacity
        runs["soak"] = log("soak", scenarios.soak(server, speech, slots, plan.soak_minutes))
    finally:
        stop_server(server)
    return runs


def transport_run(speech: SpeechSource, plan: Plan, work: Path) -> dict[str, Any]:
    """The no-op-model server under paced streams."""
    (work / "noop").mkdir(parents=True, exist_ok=True)
    server = start_server({}, work / "noop", script=ROOT / "bench" / "noop_server.py")
    try:
        return scenarios.transport_only(server, speech, plan.transport_streams, plan.short_s)
    finally:
        stop_server(server)


def _save(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))


def _logger(started: float) -> Any:
    def log(title: str, figures: dict[str, Any]) -> dict[str, Any]:
        brief = {
            k: v
            for k, v in figures.items()
            if k in ("live", "file", "errors") or not isinstance(v, (dict, list))
        }
        print(f"[{time.monotonic() - started:6.0f} s] {title}: {json.dumps(brief)}", flush=True)
        return figures

    return log


def main() -> None:
    """Run the suite and write its report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="ASR_THREADS for service and baseline")
    parser.add_argument("--out", type=Path, help="report path (default bench/results/<mode>.json)")
    parser.add_argument("--direct-from", type=Path, help="reuse the direct baseline of an earlier report")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    started = time.monotonic()
    log = _logger(started)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{plan.name}-"))
    speech = SpeechSource(work)
    dirs = test_model_dirs.ensure_test_models("full", calib_wav=speech.wav(10))
    env = {**test_model_dirs.model_env(dirs), "ASR_THREADS": str(args.threads)}
    report: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "plan": plan.__dict__,
        "machine": machine(args.threads),
    }
    if args.direct_from:
        report["direct"] = json.loads(args.direct_from.read_text())["direct"]
    else:
        report["direct"] = log("direct baseline", direct_baseline(dirs, speech, plan, args.threads))
    if args.direct_from and "word_times" in json.loads(args.direct_from.read_text()):
        report["word_times"] = json.loads(args.direct_from.read_text())["word_times"]
    else:
        report["word_times"] = log("word times, direct", word_time_baseline(dirs, speech, plan, args.threads))
    report["n_ref"] = round((os.cpu_count() or 1) / report["direct"]["live"]["c_direct"], 2)
    out = args.out or ROOT / "bench" / "results" / f"{plan.name}.json"
    _save(report, out)  # after each stage, so a failing run still leaves its figures
    report["transport"] = log("transport only", transport_run(speech, plan, work))
    _save(report, out)
    report["service"] = service_runs(env, speech, plan, report["n_ref"], work, log)
    report["targets"] = evaluate(report)
    report["elapsed_s"] = round(time.monotonic() - started)
    _save(report, out)
    for target in report["targets"]:
        verdict = "PASS" if target["pass"] else "MISS"
        print(f"{verdict}  {target['name']}: {target['measured']} (target {target['target']})")
    print(f"wrote {out} in {report['elapsed_s']} s")


if __name__ == "__main__":
    main()
