"""DecodedFile and DecodeScratch: decoded audio on an unnamed file, read back exactly in windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asr_service.audio_units import SAMPLE_RATE
from asr_service.decoded_file import DecodeScratch


def test_samples_come_back_exactly_in_any_window(tmp_path: Path) -> None:
    audio = np.random.default_rng(7).uniform(-1, 1, 5000).astype(np.float32)
    with DecodeScratch(tmp_path / "uploads").new() as decoded:
        decoded.write(audio[:1234])
        decoded.write(audio[1234:].astype(np.float64))  # any float dtype the decoder gives
        decoded.finish()
        assert len(decoded) == 5000
        np.testing.assert_array_equal(decoded.read(0, 5000), audio)
        np.testing.assert_array_equal(decoded.read(1000, 1300), audio[1000:1300])
        window = decoded.read(4900, 9999)  # clipped to the file
        np.testing.assert_array_equal(window, audio[4900:])
        assert window.dtype == np.float32
        assert len(decoded.read(-50, 10)) == 10
        assert len(decoded.read(6000, 7000)) == 0 and len(decoded.read(10, 10)) == 0


def test_reading_before_finish_sees_everything_written(tmp_path: Path) -> None:
    with DecodeScratch(tmp_path).new() as decoded:
        decoded.write(np.arange(10, dtype=np.float32))
        np.testing.assert_array_equal(decoded.read(2, 5), [2, 3, 4])


def test_the_file_never_has_a_name_and_close_frees_it(tmp_path: Path) -> None:
    scratch = DecodeScratch(tmp_path / "uploads")
    decoded = scratch.new()
    decoded.write(np.zeros(SAMPLE_RATE, np.float32))
    assert scratch.directory.is_dir() and list(scratch.directory.iterdir()) == []
    decoded.close()
    with pytest.raises(ValueError):  # closed: nothing left to read
        decoded.read(0, 10)
