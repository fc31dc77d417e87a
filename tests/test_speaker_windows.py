"""Embedding windows: 1.5 s every 0.75 s, the last pulled back to the span end, short spans whole."""

from __future__ import annotations

import itertools

import numpy as np

from asr_service.roles import Span
from asr_service.segments import SAMPLE_RATE
from asr_service.speaker_windows import span_windows, speech_windows, window_clips


def test_a_span_is_cut_every_hop_and_the_last_window_ends_at_the_span_end() -> None:
    windows = span_windows(Span(1000, 5000))
    assert [(w.start_ms, w.end_ms) for w in windows] == [
        (1000, 2500),
        (1750, 3250),
        (2500, 4000),
        (3250, 4750),
        (3500, 5000),
    ]


def test_a_span_that_fits_the_hops_exactly_gets_no_extra_window() -> None:
    assert [w.start_ms for w in span_windows(Span(0, 3000))] == [0, 750, 1500]


def test_a_short_span_is_one_window_and_an_empty_one_none() -> None:
    assert span_windows(Span(200, 1500)) == [Span(200, 1500)]
    assert span_windows(Span(0, 1500)) == [Span(0, 1500)]
    assert span_windows(Span(700, 700)) == []


def test_window_counts_match_funasrs_cutting() -> None:
    """Segments of 10, 10, 5 and 10 s give 45 windows in FunASR's sv_chunk; ours gives the same."""
    spans = [Span(0, 10000), Span(11000, 21000), Span(22000, 27000), Span(30000, 40000)]
    windows = speech_windows(spans)
    assert len(windows) == 45
    assert all(w.duration_ms == 1500 for w in windows)
    assert all(a.start_ms < b.start_ms for a, b in itertools.pairwise(windows))


def test_window_clips_cut_the_samples_relative_to_the_audio_origin() -> None:
    audio = np.arange(4 * SAMPLE_RATE, dtype=np.float32)
    clips = window_clips(audio, [Span(10000, 11500), Span(13000, 15000)], origin_ms=10000)
    assert len(clips[0]) == 24000 and clips[0][0] == 0
    assert clips[1][0] == 3 * SAMPLE_RATE and len(clips[1]) == SAMPLE_RATE  # clamped at the audio end
