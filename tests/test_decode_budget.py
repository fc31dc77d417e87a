"""DecodeBudget: the length, output-per-input-byte and CPU bounds on decoding one upload."""

from __future__ import annotations

import time

import pytest

from asr_service.audio_units import PCM_BYTES_PER_S, SAMPLE_RATE
from asr_service.decode_budget import MAX_SOURCE_CHANNELS, MIN_SOURCE_RATE, DecodeBudget
from asr_service.errors import AudioTooLong, DecodeLimit, UnsupportedMedia


def test_the_tighter_of_length_and_ratio_bounds_the_samples() -> None:
    by_length = DecodeBudget(max_audio_s=10, input_bytes=10**9, max_ratio=1000, max_cpu_s=60)
    assert by_length.max_samples == 10 * SAMPLE_RATE
    by_ratio = DecodeBudget(max_audio_s=3600, input_bytes=PCM_BYTES_PER_S, max_ratio=2, max_cpu_s=60)
    assert by_ratio.max_samples == 2 * SAMPLE_RATE  # one second of PCM16 may decode to two seconds


def test_a_stream_header_with_no_plausible_audio_is_refused() -> None:
    budget = DecodeBudget(3600, 1000, 1000, 60)
    budget.check_stream("wav", MIN_SOURCE_RATE, MAX_SOURCE_CHANNELS)  # the bounds themselves pass
    budget.check_stream("ogg", 0, 1)  # a rate the header leaves open is not refused here
    with pytest.raises(UnsupportedMedia, match=r"wav file declares a sample rate of 1 Hz"):
        budget.check_stream("wav", 1, 1)
    with pytest.raises(UnsupportedMedia, match=r"declares 65 channels"):
        budget.check_stream("flac", SAMPLE_RATE, MAX_SOURCE_CHANNELS + 1)


def test_too_long_audio_is_audio_too_long_when_the_length_bound_binds() -> None:
    budget = DecodeBudget(max_audio_s=1, input_bytes=10**6, max_ratio=1000, max_cpu_s=60)
    budget.check_progress(SAMPLE_RATE)  # exactly the limit
    with pytest.raises(AudioTooLong, match="limit of 1 s"):
        budget.check_progress(16001)


def test_output_far_beyond_the_input_size_is_a_decoder_bomb() -> None:
    budget = DecodeBudget(max_audio_s=3600, input_bytes=1000, max_ratio=32, max_cpu_s=60)
    budget.check_progress(budget.max_samples)
    with pytest.raises(DecodeLimit, match="decoder bomb") as caught:
        budget.check_progress(budget.max_samples + 1)
    assert caught.value.code == "decode_limit" and caught.value.status == 413


def test_decoding_past_its_cpu_time_is_refused() -> None:
    budget = DecodeBudget(max_audio_s=3600, input_bytes=10**6, max_ratio=1000, max_cpu_s=0.05)
    budget.check_progress(1)
    started = time.thread_time()
    while time.thread_time() - started <= 0.06:  # this thread's CPU, as a decoder would spend it
        pass
    with pytest.raises(DecodeLimit, match="CPU time"):
        budget.check_progress(1)
