"""Sentence spans from VAD spans: long speech cut at its quietest point, and text joining."""

from __future__ import annotations

import numpy as np

from .audio_units import SAMPLE_RATE
from .roles import Span

_HOP = SAMPLE_RATE // 100  # 10 ms energy frames
_SMOOTH_FRAMES = 10  # pick a quiet 100 ms stretch, not a single quiet sample


def clamp_spans(spans: list[Span], duration_ms: int) -> list[Span]:
    """Spans limited to [0, duration], sorted, with empty and overlapping parts dropped."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start_ms):
        start = max(span.start_ms, out[-1].end_ms if out else 0, 0)
        end = min(span.end_ms, duration_ms)
        if end > start:
            out.append(Span(start, end))
    return out


def split_long_spans(audio: np.ndarray, spans: list[Span], max_ms: int, origin_ms: int = 0) -> list[Span]:
    """Every span longer than max_ms cut into consecutive pieces of at most max_ms each.

    `audio` starts at `origin_ms` of the recording, so a live session can pass just one segment.
    """
    out: list[Span] = []
    for span in spans:
        out.extend(_split_one(audio, span, max_ms, origin_ms))
    return out


def _split_one(audio: np.ndarray, span: Span, max_ms: int, origin_ms: int) -> list[Span]:
    pieces: list[Span] = []
    start = span.start_ms
    while span.end_ms - start > max_ms:
        lo = start + max_ms // 2
        cut = origin_ms + _quietest_ms(audio, lo - origin_ms, start + max_ms - origin_ms)
        pieces.append(Span(start, cut))
        start = cut
    pieces.append(Span(start, span.end_ms))
    return pieces


def _quietest_ms(audio: np.ndarray, lo_ms: int, hi_ms: int) -> int:
    """The ms in [lo_ms, hi_ms] at the centre of the quietest 100 ms, earliest on ties."""
    lo, hi = lo_ms * SAMPLE_RATE // 1000, hi_ms * SAMPLE_RATE // 1000
    window = audio[lo:hi]
    n_frames = len(window) // _HOP
    if n_frames <= _SMOOTH_FRAMES:
        return hi_ms
    energy = np.square(window[: n_frames * _HOP].astype(np.float64)).reshape(n_frames, _HOP).mean(axis=1)
    smooth = np.convolve(energy, np.ones(_SMOOTH_FRAMES) / _SMOOTH_FRAMES, mode="valid")
    best = int(np.argmin(smooth)) + _SMOOTH_FRAMES // 2
    return min(hi_ms, max(lo_ms + 1, lo_ms + best * 10))


def join_texts(texts: list[str]) -> str:
    """Sentence texts joined into one transcript: a space only between two Latin words."""
    out = ""
    for text in texts:
        if not text:
            continue
        if out and _latin_start(text) and (_latin_start(out[-1]) or out[-1] in ",.?!;:"):
            out += " "
        out += text
    return out


def _latin_start(text: str) -> bool:
    return text[0].isascii() and text[0].isalnum()
