"""The service's audio units and their conversions."""

from __future__ import annotations

from asr_service import audio_units as units


def test_the_format_is_16_khz_s16le() -> None:
    assert (units.SAMPLE_RATE, units.BYTES_PER_SAMPLE, units.PCM_BYTES_PER_S) == (16000, 2, 32000)


def test_conversions_round_down_and_invert_on_whole_milliseconds() -> None:
    assert units.ms_to_samples(600) == 9600
    assert units.samples_to_ms(9600) == 600
    assert units.samples_to_ms(15) == 0  # under a millisecond
    assert units.samples_to_ms(units.ms_to_samples(1234)) == 1234
    assert units.samples_to_s(24_008) == 1.5  # 1.5005 s, to the millisecond
    assert units.samples_to_bytes(9600) == 19_200
