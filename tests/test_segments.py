"""Sentence spans: clamping, cutting long speech at quiet points, joining text."""

from __future__ import annotations

import itertools

import numpy as np

from asr_service.roles import Span
from asr_service.segments import SAMPLE_RATE, clamp_spans, join_texts, split_long_spans


def _tone_with_gaps(seconds: float, gaps_s: list[float]) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    for gap in gaps_s:
        audio[int(gap * SAMPLE_RATE) : int((gap + 0.2) * SAMPLE_RATE)] = 0.0
    return audio


def test_clamp_drops_empty_overlapping_and_outside_parts() -> None:
    spans = [Span(500, 900), Span(-100, 300), Span(800, 1200), Span(2000, 2500), Span(1500, 1500)]
    assert clamp_spans(spans, 2200) == [Span(0, 300), Span(500, 900), Span(900, 1200), Span(2000, 2200)]


def test_short_spans_are_kept_as_they_are() -> None:
    audio = _tone_with_gaps(10, [])
    spans = [Span(0, 4000), Span(5000, 9000)]
    assert split_long_spans(audio, spans, 5000) == spans


def test_long_span_is_cut_at_the_quiet_gap() -> None:
    audio = _tone_with_gaps(12, [7.0])
    pieces = split_long_spans(audio, [Span(0, 12000)], 10000)
    assert len(pieces) == 2
    cut = pieces[0].end_ms
    assert 7000 <= cut <= 7200, cut
    assert pieces[1] == Span(cut, 12000)


def test_every_piece_respects_the_limit_and_they_tile_the_span() -> None:
    audio = _tone_with_gaps(65, [9.0, 21.5, 40.0])
    span = Span(250, 64_750)
    pieces = split_long_spans(audio, [span], 15000)
    assert all(0 < p.duration_ms <= 15000 for p in pieces)
    assert pieces[0].start_ms == span.start_ms and pieces[-1].end_ms == span.end_ms
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(pieces))


def test_split_without_any_quiet_point_still_bounds_length() -> None:
    audio = _tone_with_gaps(40, [])
    pieces = split_long_spans(audio, [Span(0, 40000)], 15000)
    assert all(p.duration_ms <= 15000 for p in pieces)
    assert sum(p.duration_ms for p in pieces) == 40000


def test_join_puts_spaces_only_between_latin_words() -> None:
    assert (
        join_texts(["今天开会", "Yes", "OK.", "We start", "星御项目", ""])
        == "今天开会Yes OK. We start星御项目"
    )
    assert join_texts([]) == ""
