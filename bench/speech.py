"""Benchmark audio: espeak-ng speech with pauses, repeated to any length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from tests.speech_fixtures import make_speech

RATE = 16000


class SpeechSource:
    """Makes the espeak-ng clip once and cuts recordings of any length from it."""

    def __init__(self, work: Path) -> None:
        self.work = work
        clip, _ = sf.read(make_speech(work / "speech"), dtype="int16")
        self.clip = np.asarray(clip, dtype=np.int16)

    def samples(self, seconds: float, tail_s: float = 60.0) -> np.ndarray:
        """`seconds` of speech as int16; every recording ends with the same `tail_s` seconds.

        The last segment is what a final result waits for, so final latencies of short and long
        recordings compare fairly.
        """
        total, tail = int(seconds * RATE), int(min(tail_s, seconds) * RATE)
        tiled = np.tile(self.clip, int(np.ceil(max(total, tail) / len(self.clip))) + 1)
        return np.concatenate((tiled[: total - tail], tiled[:tail]))

    def pcm(self, seconds: float) -> bytes:
        """The same as s16le bytes, as a live client sends them."""
        return bytes(self.samples(seconds).tobytes())

    def wav(self, seconds: float) -> Path:
        """The same as a 16 kHz mono WAV file (made once per length)."""
        path = self.work / f"speech-{seconds:g}s.wav"
        if not path.exists():
            sf.write(path, self.samples(seconds), RATE, subtype="PCM_16")
        return path
