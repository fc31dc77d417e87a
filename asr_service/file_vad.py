"""Offline FSMN-VAD over audio read window by window, so a long upload is never held whole.

The calls and their arguments are the ones model_adapters.FunasrVad makes over an array (one streaming
call per fixed-size chunk, chunk_size equal to that size), so the spans are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import numpy as np

from .audio_units import SAMPLE_RATE
from .roles import Span
from .vad_spans import SpanCollector

CHUNK_MS = 60_000  # model_adapters.FunasrVad's chunk: same chunks, same spans

Runner = Callable[[Callable[[], Any]], Any]


class SampleSource(Protocol):
    """16 kHz mono float32 audio that can be read in pieces."""

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop), clipped to the audio."""
        ...


class ArraySource:
    """A SampleSource over audio already in memory."""

    def __init__(self, samples: np.ndarray) -> None:
        self._samples = samples

    def __len__(self) -> int:
        return len(self._samples)

    def read(self, start: int, stop: int) -> np.ndarray:
        """See SampleSource.read."""
        return self._samples[max(0, start) : max(0, stop)]


def _direct(fn: Callable[[], Any]) -> Any:
    return fn()


class WindowedVad:
    """Speech spans of a SampleSource from FSMN-VAD, one chunk in memory at a time."""

    def __init__(self, model: Any, chunk_ms: int = CHUNK_MS, run: Runner = _direct) -> None:
        self._model, self._chunk_ms, self._run = model, chunk_ms, run

    def on(self, run: Runner) -> WindowedVad:
        """The same detector with each chunk's model call run through `run` (e.g. on a worker)."""
        return WindowedVad(self._model, self._chunk_ms, run)

    def detect_source(self, source: SampleSource) -> list[Span]:
        """Speech spans in ms, sorted; speech still open at the end closes there."""
        step = self._chunk_ms * SAMPLE_RATE // 1000
        total = len(source)
        cache: dict[str, Any] = {}
        collector = SpanCollector()
        for begin in range(0, max(total, 1), step):
            collector.add(
                self._run(partial(self._call, source.read(begin, begin + step), cache, begin + step >= total))
            )
        return collector.close(total * 1000 // SAMPLE_RATE)

    def _call(self, chunk: np.ndarray, cache: dict[str, Any], is_final: bool) -> list[tuple[int, int]]:
        result = self._model.generate(input=chunk, cache=cache, is_final=is_final, chunk_size=self._chunk_ms)
        return [(int(a), int(b)) for a, b in (result[0]["value"] if result else [])]
