"""A fake speaker-embedding role: each synthetic voice has a fixed random centroid, each window a
little seeded noise around it, so clustering has a known right answer and runs are repeatable."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from asr_service.roles import Span

DIMS = 192
NOISE = 0.05  # per dimension: windows of one voice are about 0.68 alike, of two voices about 0


class SyntheticVoices:
    """Known embeddings per voice; `embed` stands in for the speaker model on timed windows."""

    def __init__(self, voices: int, seed: int = 7, noise: float = NOISE) -> None:
        rng = np.random.default_rng(seed)
        raw = rng.standard_normal((voices, DIMS))
        self.centroids = raw / np.linalg.norm(raw, axis=1, keepdims=True)
        self._seed = seed
        self._noise = noise

    def window(self, voice: int, key: int) -> np.ndarray:
        """The embedding of one window of `voice`; `key` (e.g. its start ms) picks its noise."""
        rng = np.random.default_rng([self._seed, voice, key])
        return (self.centroids[voice] + self._noise * rng.standard_normal(DIMS)).astype(np.float32)

    def embed(self, voices: Sequence[int], keys: Sequence[int] | None = None) -> np.ndarray:
        """N x 192 embeddings, one per window's voice; keys default to the window's position."""
        keys = list(range(len(voices))) if keys is None else list(keys)
        return np.stack([self.window(v, k) for v, k in zip(voices, keys, strict=True)])

    def embed_windows(self, windows: Sequence[Span], turns: Sequence[tuple[Span, int]]) -> np.ndarray:
        """Embeddings of timed windows; each window has the voice of the turn it overlaps most."""
        return self.embed([voice_at(w, turns) for w in windows], [w.start_ms for w in windows])


def voice_at(window: Span, turns: Sequence[tuple[Span, int]]) -> int:
    """The voice of the turn that overlaps the window most (the first on a tie)."""

    def overlap(turn: tuple[Span, int]) -> int:
        span = turn[0]
        return min(span.end_ms, window.end_ms) - max(span.start_ms, window.start_ms)

    return max(turns, key=overlap)[1]
