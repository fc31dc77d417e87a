"""Realtime punctuation when recognised text never ends a sentence: per-call cost, another session's lag.

    python -m bench.punctuation_context [--lengths 200 800 1700] [--seconds 30] [--punc-model DIR]

(`scripts/make_test_models.py --size full --only punc --out DIR` makes just the model needed.)

Full-size random-weight CT-Transformer (released dimensions), its sentence ends mapped to commas
so no sentence ever ends (as with noise recognised as text). Two parts:

1. One call of 20 new characters after N unpunctuated words of context, FunASR's `generate`
   directly (the context as FunASR keeps it) against the service's RealtimePunctuator (the
   context cut to PUNC_CONTEXT_WORDS).
2. Session B records `--seconds` of audio in real time (100 ms frames) while stream A, on the same
   punctuation worker, sends 20 characters every 3 s (what 4 characters per 600 ms chunk give)
   with N words of unended context already. Measured: B's partial lag, from the frame that
   completes a 600 ms chunk to that chunk's `transcription` event; stand-in VAD, streaming and
   offline models cost nothing, so the lag is the punctuation's.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import test_model_dirs  # noqa: E402

from asr_service import model_adapters, model_loading  # noqa: E402
from asr_service.events import FinalResult, LiveEvent, TranscriptionEvent  # noqa: E402
from asr_service.live_types import LiveModels, SessionLimits, SessionOptions  # noqa: E402
from asr_service.recording_session import RecordingSession  # noqa: E402
from asr_service.results import ResultStore  # noqa: E402
from asr_service.roles import Heard, RecognitionOptions  # noqa: E402
from asr_service.scheduler import ModelWorker, OnWorker, Priority, StepBatcher  # noqa: E402
from asr_service.spool import RecordingStore  # noqa: E402

RATE = 16000
CHARS = "今天我们开会讨论备份演练的安排明天下午三点在会议室继续确认方案和时间表"


class CharsAsr:
    """Four characters per 600 ms chunk, at no cost: the partials wait only for punctuation."""

    def step(self, chunk: np.ndarray, cache: dict[str, Any], is_final: bool) -> str:
        n = int(cache.get("n", 0))
        cache["n"] = n + 1
        return "".join(CHARS[(4 * n + i) % len(CHARS)] for i in range(4))


class AllSpeech:
    """A VAD that never ends the speech (one segment to the end)."""

    def step(self, chunk: np.ndarray, cache: dict[str, Any], is_final: bool) -> list[tuple[int, int]]:
        return []


class Nothing:
    def recognize(self, clips: Any, options: RecognitionOptions) -> list[Heard]:
        return [Heard("") for _ in clips]


def _never_ending(automodel: Any) -> None:
    inner = automodel.model
    inner.punc_list = ["，" if p in ("。", "？") else p for p in inner.punc_list]


def _context(words: int) -> dict[str, object]:
    return {"pre_text": [CHARS[i % len(CHARS)] for i in range(words)]}


def per_call(automodel: Any, lengths: list[int], repeats: int) -> list[dict[str, Any]]:
    """Milliseconds of one 20-character call after N context words, direct and bounded."""
    bounded = model_adapters.RealtimePunctuator(automodel)
    rows = []
    for words in lengths:
        row: dict[str, Any] = {"context_words": words}
        for name, call in (
            ("direct_ms", lambda c: automodel.generate(input=CHARS[:20], cache=c)),
            ("service_ms", lambda c: bounded.punctuate(CHARS[:20], c)),
        ):
            times = []
            for _ in range(repeats):
                cache = _context(words)
                started = time.perf_counter()
                call(cache)
                times.append((time.perf_counter() - started) * 1000)
            row[name] = round(statistics.median(times), 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _punctuate(model: Any, text: str, cache: dict[str, object]) -> str:
    return str(model.punctuate(text, cache))


def _stream_a(punc: OnWorker[Any], words: int, stop: threading.Event) -> int:
    cache = _context(words)
    calls = 0
    while not stop.wait(0 if calls == 0 else 3.0):
        punc.run(functools.partial(_punctuate, text=CHARS[calls % 10 : calls % 10 + 20], cache=cache))
        calls += 1
    return calls


def lag_of_b(punctuator: Any, seconds: float, a_words: int | None) -> dict[str, Any]:
    """Session B's partial lag (ms) with stream A (None: without A) on the same punctuation worker."""
    workers = [ModelWorker(n) for n in ("vad", "asr", "punc", "offline")]
    punc = OnWorker(punctuator, workers[2], Priority.REALTIME)
    live = LiveModels(
        vad=OnWorker(AllSpeech(), workers[0], Priority.REALTIME),
        asr=StepBatcher(CharsAsr(), workers[1], Priority.REALTIME),
        punc=punc,
        offline=OnWorker(Nothing(), workers[3], Priority.SECOND_PASS),
    )
    work = Path(tempfile.mkdtemp(prefix="punc-bench-"))
    session = RecordingSession(
        live, RecordingStore(work / "rec", 3600), ResultStore(work / "res", 3600), SessionLimits()
    )
    arrivals: dict[int, float] = {}
    done = threading.Event()

    def sink(event: LiveEvent) -> None:
        if isinstance(event, TranscriptionEvent) and event.vad_event is None and not event.is_final:
            arrivals[event.current_time_ms] = time.monotonic()
        elif isinstance(event, FinalResult):
            done.set()

    stop = threading.Event()
    a_calls: list[int] = []
    a_thread = None
    if a_words is not None:
        a_thread = threading.Thread(target=lambda: a_calls.append(_stream_a(punc, a_words, stop)))
        a_thread.start()
        time.sleep(1.0)  # A's first call is running when B starts
    session.start(SessionOptions(), sink)
    fed: dict[int, float] = {}
    frame = np.zeros(1600, dtype="<i2").tobytes()
    started = time.monotonic()
    for n in range(int(seconds * 10)):
        time.sleep(max(0.0, started + n * 0.1 - time.monotonic()))
        session.feed(frame)
        end_ms = (n + 1) * 100
        if end_ms % 600 == 0:
            fed[end_ms] = time.monotonic()
    session.stop()
    done.wait(600)
    stop.set()
    if a_thread is not None:
        a_thread.join()
    for worker in workers:
        worker.stop()
    lags = [(arrivals[t] - fed[t]) * 1000 for t in fed if t in arrivals]
    q = np.percentile(lags, [50, 95, 100]) if lags else [float("nan")] * 3
    return {
        "a_context_words": a_words,
        "b_partials": len(lags),
        "b_lag_p50_ms": round(float(q[0]), 1),
        "b_lag_p95_ms": round(float(q[1]), 1),
        "b_lag_max_ms": round(float(q[2]), 1),
        "a_calls": a_calls[0] if a_calls else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lengths", type=int, nargs="+", default=[200, 800, 1700])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--punc-model", type=Path, help="full-size punctuation model dir (default: the full test models)"
    )
    args = parser.parse_args()
    path = args.punc_model or test_model_dirs.ensure_test_models("full")["punc"]
    automodel = model_loading.build_automodel(path, "cpu", args.threads)
    _never_ending(automodel)
    report: dict[str, Any] = {"per_call": per_call(automodel, args.lengths, args.repeats), "lag": []}
    words = max(args.lengths)
    for label, punctuator, a_words in (
        ("B alone", model_adapters.RealtimePunctuator(automodel), None),
        (
            "A unbounded (FunASR's context)",
            model_adapters.RealtimePunctuator(automodel, context_words=None),
            words,
        ),
        ("A bounded (service)", model_adapters.RealtimePunctuator(automodel), words),
    ):
        row = {"case": label, **lag_of_b(punctuator, args.seconds, a_words)}
        report["lag"].append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    out = ROOT / "bench" / "results" / "punctuation_context.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
