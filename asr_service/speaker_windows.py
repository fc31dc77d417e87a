"""The stretches of speech that speaker embeddings are taken from (issue 16).

A speech span is cut into windows of WINDOW_MS every HOP_MS, so neighbouring windows overlap by
half. The last window is pulled back to end where the span ends, so no speech is left out; a
span no longer than one window gives a single window of the whole span (the embedder pads it).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .roles import Span
from .segments import SAMPLE_RATE

WINDOW_MS = 1500
HOP_MS = 750


def span_windows(span: Span, window_ms: int = WINDOW_MS, hop_ms: int = HOP_MS) -> list[Span]:
    """The windows of one span, in time order; none for an empty span."""
    if span.duration_ms <= 0:
        return []
    if span.duration_ms <= window_ms:
        return [span]
    starts = range(span.start_ms, span.end_ms - window_ms + 1, hop_ms)
    windows = [Span(s, s + window_ms) for s in starts]
    if windows[-1].end_ms < span.end_ms:
        windows.append(Span(span.end_ms - window_ms, span.end_ms))
    return windows


def speech_windows(spans: Iterable[Span], window_ms: int = WINDOW_MS, hop_ms: int = HOP_MS) -> list[Span]:
    """The windows of several spans (sorted, non-overlapping), in time order."""
    return [w for span in spans for w in span_windows(span, window_ms, hop_ms)]


def window_clips(audio: np.ndarray, windows: Iterable[Span], origin_ms: int = 0) -> list[np.ndarray]:
    """The 16 kHz samples of each window, from audio that starts at `origin_ms` of the recording."""

    def sample(ms: int) -> int:
        return min(max((ms - origin_ms) * SAMPLE_RATE // 1000, 0), len(audio))

    return [audio[sample(w.start_ms) : sample(w.end_ms)] for w in windows]
