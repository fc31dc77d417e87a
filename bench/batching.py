"""Streaming Paraformer: one stacked call for N streams against N `generate` calls, same chunks.

    python -m bench.batching [--streams 1 2 3 4] [--chunks 12] [--threads 1]

Full-size random-weight model. Every stream is fed 600 ms chunks of its own low-level noise; the
first chunks (look-back caches filling) are not timed. Prints, per N, the time of one stacked
`step_many` call and of N separate FunASR `generate` calls, and whether their texts agree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import test_model_dirs  # noqa: E402

from asr_service import model_adapters, model_loading  # noqa: E402
from asr_service.config import Settings  # noqa: E402
from asr_service.roles import StreamStep  # noqa: E402

CHUNK = 9600
WARM_CHUNKS = 5  # look-back caches are full after 4 chunks


def _audio(streams: int, chunks: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [(rng.standard_normal(CHUNK * chunks) * 0.05).astype(np.float32) for _ in range(streams)]


def measure(lane: model_adapters.ParaformerStreaming, streams: int, chunks: int) -> dict[str, Any]:
    """Median ms per round (one chunk of every stream), stacked and one call per stream."""
    audio = _audio(streams, chunks)
    stacked: list[float] = []
    separate: list[float] = []
    texts: dict[str, list[str]] = {"stacked": [], "separate": []}
    caches_a: list[dict[str, object]] = [{} for _ in range(streams)]
    caches_b: list[dict[str, object]] = [{} for _ in range(streams)]
    for n in range(chunks):
        pieces = [a[n * CHUNK : (n + 1) * CHUNK] for a in audio]
        started = time.perf_counter()
        steps = [StreamStep(p, c, False) for p, c in zip(pieces, caches_a, strict=True)]
        texts["stacked"] += lane.step_many(steps)
        stacked.append(time.perf_counter() - started)
        started = time.perf_counter()
        texts["separate"] += [lane.step(p, c, False) for p, c in zip(pieces, caches_b, strict=True)]
        separate.append(time.perf_counter() - started)
    one = statistics.median(stacked[WARM_CHUNKS:]) * 1000
    many = statistics.median(separate[WARM_CHUNKS:]) * 1000
    return {
        "streams": streams,
        "stacked_ms": round(one, 1),
        "separate_ms": round(many, 1),
        "stacked_ms_per_stream": round(one / streams, 1),
        "ratio": round(one / many, 3),
        "same_text": texts["stacked"] == texts["separate"],
    }


def main() -> None:
    """Load the full-size streaming model and print one JSON line per stream count."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--chunks", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    dirs = test_model_dirs.ensure_test_models("full")
    env = {**test_model_dirs.model_env(dirs), "ASR_THREADS": str(args.threads), "ASR_WARMUP": "0"}
    loaded = model_loading.load_models(Settings.from_env(env), roles=("streaming",))
    torch.set_num_threads(args.threads)
    lane = model_adapters.ParaformerStreaming(loaded.streaming_lanes(1)[0])
    for streams in args.streams:
        print(json.dumps(measure(lane, streams, args.chunks)), flush=True)


if __name__ == "__main__":
    main()
