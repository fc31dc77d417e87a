"""The baseline: one process calling FunASR directly on the same models and audio, no service.

Live: streaming VAD (200 ms chunks) and Paraformer (600 ms chunks) in time order, realtime
punctuation every 20 characters and at each speech end, SenseVoice on each VAD segment as it
closes: the work the service does for one recording. File: offline VAD, then SenseVoice per segment.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from funasr import AutoModel
from funasr.utils.postprocess_utils import rich_transcription_postprocess

from bench.measure import percentiles

SAMPLE_RATE = 16000
VAD_CHUNK = SAMPLE_RATE // 5
ASR_CHUNK = SAMPLE_RATE * 6 // 10
PUNC_TRIGGER_CHARS = 20


@dataclass
class DirectLive:
    """Figures of one recording processed directly."""

    audio_s: float
    cpu_s: float
    c_direct: float  # CPU seconds per audio second
    t_chunk_p50_ms: float
    t_chunk_p95_ms: float
    t_final_ms: float  # from the end of the audio to the last segment's final text
    segments: int


@dataclass
class DirectFile:
    """Figures of one file transcribed directly."""

    audio_s: float
    wall_s: float
    rtf: float
    segments: int


class DirectModels:
    """The four FunASR models, loaded as a user of FunASR would, one torch thread per call."""

    def __init__(self, dirs: dict[str, Path], threads: int = 1) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            self.vad = self._load(dirs["vad"], threads)
            self.asr = self._load(dirs["streaming"], threads)
            self.punc = self._load(dirs["punc"], threads)
            self.offline = self._load(dirs["offline"], threads)
        torch.set_num_threads(threads)

    @staticmethod
    def _load(path: Path, threads: int) -> Any:
        return AutoModel(
            model=str(path),
            device="cpu",
            ncpu=threads,
            disable_update=True,
            disable_pbar=True,
            log_level="ERROR",
            frontend_conf={"dither": 0.0},
        )

    def sensevoice(self, clip: np.ndarray) -> str:
        """Clean SenseVoice text of one clip."""
        result = self.offline.generate(input=[clip], language="auto", use_itn=True, batch_size=1)
        return str(rich_transcription_postprocess(result[0]["text"])) if result else ""


class _LiveRun:
    """One recording's streaming state."""

    def __init__(self, models: DirectModels, audio: np.ndarray) -> None:
        self.m, self.audio = models, audio
        self.vad_cache: dict[str, Any] = {}
        self.asr_cache: dict[str, Any] = {}
        self.punc_cache: dict[str, Any] = {}
        self.pending = ""
        self.open_start: int | None = None
        self.segments = 0
        self.chunk_ms: list[float] = []

    def vad(self, start: int, end: int, final: bool) -> None:
        chunk = self.audio[start:end]
        ms = max(1, len(chunk) * 1000 // SAMPLE_RATE)
        result = self.m.vad.generate(input=chunk, cache=self.vad_cache, is_final=final, chunk_size=ms)
        for begin, stop in result[0]["value"] if result else []:
            if begin >= 0:
                self.open_start = int(begin)
            if stop >= 0 and self.open_start is not None:
                self.close(int(stop))

    def close(self, end_ms: int) -> None:
        assert self.open_start is not None
        self.punctuate()
        clip = self.audio[self.open_start * 16 : end_ms * 16]
        if len(clip):
            self.m.sensevoice(clip)
        self.segments += 1
        self.open_start = None

    def asr(self, start: int, end: int, final: bool) -> None:
        began = time.perf_counter()
        result = self.m.asr.generate(
            input=self.audio[start:end],
            cache=self.asr_cache,
            is_final=final,
            chunk_size=[0, 10, 5],
            encoder_chunk_look_back=4,
            decoder_chunk_look_back=1,
        )
        self.chunk_ms.append((time.perf_counter() - began) * 1000)
        self.pending += str(result[0].get("text", "")) if result else ""
        if len(self.pending) >= PUNC_TRIGGER_CHARS:
            self.punctuate()

    def punctuate(self) -> None:
        text = self.pending.strip()
        self.pending = ""
        # the realtime punctuation model raises on a lone token with an empty cache
        parts = text.split()
        lone = len(parts) == 1 and (len(parts[0]) == 1 or parts[0].isascii())
        if text and (self.punc_cache.get("pre_text") or not lone):
            self.m.punc.generate(input=text, cache=self.punc_cache)


def run_live(models: DirectModels, audio: np.ndarray) -> DirectLive:
    """Process `audio` (float32, 16 kHz) as one live recording, as fast as the CPU allows."""
    run = _LiveRun(models, audio)
    cpu0 = time.process_time()
    vad_pos = asr_pos = 0
    end = len(audio)
    while True:
        vad_end, asr_end = vad_pos + VAD_CHUNK, asr_pos + ASR_CHUNK
        if vad_end <= end and vad_end <= asr_end:
            run.vad(vad_pos, vad_end, final=False)
            vad_pos = vad_end
        elif asr_end <= end:
            run.asr(asr_pos, asr_end, final=False)
            asr_pos = asr_end
        else:
            break
    chunk_ms = list(run.chunk_ms)
    final_from = time.perf_counter()
    run.asr(asr_pos, end, final=True)
    run.vad(vad_pos, end, final=True)
    if run.open_start is not None:
        run.close(end * 1000 // SAMPLE_RATE)
    run.punctuate()
    t_final = (time.perf_counter() - final_from) * 1000
    cpu = time.process_time() - cpu0
    p50, p95 = percentiles(chunk_ms, 50, 95)
    seconds = len(audio) / SAMPLE_RATE
    return DirectLive(
        round(seconds, 1), round(cpu, 2), round(cpu / seconds, 4), p50, p95, round(t_final, 1), run.segments
    )


def run_file(models: DirectModels, audio: np.ndarray) -> DirectFile:
    """Transcribe `audio` as FunASR's users do: offline VAD, then SenseVoice per segment."""
    began = time.perf_counter()
    result = models.vad.generate(input=audio)
    spans = result[0]["value"] if result else []
    for start, end in spans:
        models.sensevoice(audio[int(start) * 16 : int(end) * 16])
    wall = time.perf_counter() - began
    seconds = len(audio) / SAMPLE_RATE
    return DirectFile(round(seconds, 1), round(wall, 2), round(wall / seconds, 4), len(spans))


def main() -> None:
    """`python -m bench.direct DIRS_JSON LIVE_WAV FILE_WAV`: print the baseline figures as JSON."""
    import json
    import sys

    import soundfile as sf

    dirs = {role: Path(p) for role, p in json.loads(sys.argv[1]).items()}
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    began = time.perf_counter()
    models = DirectModels(dirs, threads)
    load_s = time.perf_counter() - began
    live, _ = sf.read(sys.argv[2], dtype="float32")
    whole, _ = sf.read(sys.argv[3], dtype="float32")
    run_live(models, live[: SAMPLE_RATE * 5])  # warm-up, as the service warms up at start
    figures = {"load_s": round(load_s, 1), "live": run_live(models, live).__dict__}
    figures["file"] = run_file(models, whole).__dict__
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
