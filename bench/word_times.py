"""What word times cost: SenseVoice called directly on the same clips, with and without
`output_timestamp=True` (CTC forced alignment per clip), in one process, alternating runs.

    python -m bench.word_times DIRS_JSON FILE_WAV [THREADS]    # prints one JSON line
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from bench.direct import SAMPLE_RATE, DirectModels

ROUNDS = 3  # alternating rounds; the cheapest of each mode counts, as the machine's noise only adds


def clips_of(models: DirectModels, audio: np.ndarray) -> list[np.ndarray]:
    """The file's VAD segments, as the service's second pass gets them."""
    result = models.vad.generate(input=audio)
    spans = result[0]["value"] if result else []
    per_ms = SAMPLE_RATE // 1000
    return [audio[int(a) * per_ms : int(b) * per_ms] for a, b in spans if b > a]


def _cpu_of(models: DirectModels, clips: list[np.ndarray], words: bool) -> float:
    """CPU seconds of one SenseVoice call per clip."""
    began = time.process_time()
    for clip in clips:
        out = models.offline.generate(
            input=[clip], language="auto", use_itn=True, batch_size=1, output_timestamp=words
        )
        if words and out and out[0].get("text") and "timestamp" not in out[0]:
            raise RuntimeError("output_timestamp=True gave no timestamps")
    return time.process_time() - began


def word_time_cost(models: DirectModels, audio: np.ndarray) -> dict[str, Any]:
    """Second-pass CPU per audio second without and with word times, and their ratio."""
    clips = clips_of(models, audio)
    seconds = sum(len(c) for c in clips) / SAMPLE_RATE
    _cpu_of(models, clips[:2], False)  # warm-up of both paths
    _cpu_of(models, clips[:2], True)
    plain: list[float] = []
    timed: list[float] = []
    for _ in range(ROUNDS):
        plain.append(_cpu_of(models, clips, False))
        timed.append(_cpu_of(models, clips, True))
    return {
        "clips": len(clips),
        "speech_s": round(seconds, 1),
        "rounds": ROUNDS,
        "cpu_per_speech_s": round(min(plain) / seconds, 4),
        "cpu_per_speech_s_words": round(min(timed) / seconds, 4),
        "ratio": round(min(timed) / min(plain), 3),
    }


def main() -> None:
    """Print the figures of the file given as JSON."""
    dirs = {role: Path(p) for role, p in json.loads(sys.argv[1]).items()}
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    models = DirectModels(dirs, threads)
    torch.set_num_threads(threads)
    audio, _ = sf.read(sys.argv[2], dtype="float32")
    print(json.dumps(word_time_cost(models, audio)))


if __name__ == "__main__":
    main()
