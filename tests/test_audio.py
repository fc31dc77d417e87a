"""Decoding: every format, rate and channel layout; every kind of bad file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from asr_service.audio import SAMPLE_RATE, SUPPORTED_FORMATS, decode_audio, pcm16_to_float
from asr_service.errors import AudioTooLong, UnsupportedMedia

from .speech_fixtures import FORMATS, Converted, ffmpeg, silent_flac


def duration_tolerance_s(rate: int) -> float:
    """Codec priming plus last-frame padding: up to two 1024-sample AAC frames at the source rate."""
    return 0.03 + 2048 / rate


def _decode_path(path: Path, max_seconds: float = 3600) -> object:
    with path.open("rb") as fh:
        return decode_audio(fh, max_seconds)


def test_every_supported_format_has_a_fixture() -> None:
    assert set(FORMATS) == set(SUPPORTED_FORMATS)


def test_format_matrix_decodes_to_16k_mono_with_the_right_duration(format_matrix: list[Converted]) -> None:
    assert len(format_matrix) == len(FORMATS) * 4 * 2
    for item in format_matrix:
        with item.path.open("rb") as fh:
            audio = decode_audio(fh, 3600)
        assert audio.samples.dtype == np.float32
        assert audio.samples.ndim == 1
        duration = len(audio.samples) / SAMPLE_RATE
        assert abs(duration - item.duration_s) < duration_tolerance_s(item.rate), (item, duration)
        assert audio.source_channels == item.channels, item
        assert float(np.abs(audio.samples).max()) > 0.05, f"{item.path.name} decoded to silence"
        assert float(np.abs(audio.samples).max()) <= 1.0


def test_decoded_pcm_matches_the_source_samples(speech_wav: Path) -> None:
    import soundfile as sf

    expected, _ = sf.read(speech_wav, dtype="float32")
    with speech_wav.open("rb") as fh:
        audio = decode_audio(fh, 3600)
    assert audio.container == "wav" and audio.source_rate == SAMPLE_RATE
    np.testing.assert_allclose(audio.samples, expected, atol=1e-4)


def test_content_decides_the_format_not_the_extension(speech_wav: Path, tmp_path: Path) -> None:
    misnamed = tmp_path / "actually_wav.mp3"
    misnamed.write_bytes(speech_wav.read_bytes())
    with misnamed.open("rb") as fh:
        assert decode_audio(fh, 3600).container == "wav"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"hello, this is a text file and not audio\n" * 20, "not a readable audio file"),
        (np.random.default_rng(7).bytes(50_000), "not a readable audio file"),
    ],
    ids=["text", "random-bytes"],
)
def test_non_audio_content_is_unsupported(content: bytes, fragment: str) -> None:
    with pytest.raises(UnsupportedMedia, match=fragment) as info:
        decode_audio(io.BytesIO(content), 3600)
    assert "Invalid data" in info.value.message


@pytest.mark.parametrize("fmt", ["wav", "flac", "webm"])
def test_cut_off_files_decode_what_is_there_with_a_warning(format_matrix: list[Converted], fmt: str) -> None:
    source = next(c for c in format_matrix if c.fmt == fmt and c.rate == 16000 and c.channels == 1)
    data = source.path.read_bytes()
    audio = decode_audio(io.BytesIO(data[: len(data) // 3]), 3600)
    assert 0.2 * source.duration_s < audio.duration_ms / 1000 < 0.5 * source.duration_s
    assert [w.code for w in audio.warnings] == ["truncated"]
    assert "declares" in audio.warnings[0].message


def test_headerless_stream_cut_mid_frame_decodes_what_is_there(format_matrix: list[Converted]) -> None:
    source = next(c for c in format_matrix if c.fmt == "aac" and c.rate == 16000 and c.channels == 1)
    data = source.path.read_bytes()
    audio = decode_audio(io.BytesIO(data[: len(data) // 50]), 3600)
    assert audio.duration_ms > 0
    assert [w.code for w in audio.warnings] == ["damaged"]


@pytest.mark.parametrize("fmt", ["wav", "flac", "m4a", "webm"])
def test_files_where_almost_nothing_decodes_are_rejected_with_the_reason(
    format_matrix: list[Converted], fmt: str
) -> None:
    source = next(c for c in format_matrix if c.fmt == fmt and c.rate == 16000 and c.channels == 1)
    data = source.path.read_bytes()
    with pytest.raises(UnsupportedMedia) as info:
        decode_audio(io.BytesIO(data[: len(data) // 100]), 3600)
    assert info.value.status == 415
    reasons = ("truncated", "corrupt", "not a readable", "no decodable")
    assert any(word in info.value.message for word in reasons)


def test_file_without_audio_stream_is_rejected(tmp_path: Path) -> None:
    video = tmp_path / "video_only.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=16x16:d=1", "-c:v", "ffv1", str(video))
    with pytest.raises(UnsupportedMedia, match="no audio stream"):
        _decode_path(video)


def test_decoder_bomb_stops_at_the_duration_cap(tmp_path: Path) -> None:
    bomb = tmp_path / "two_hours_of_silence.flac"
    silent_flac(bomb, 7200)
    assert bomb.stat().st_size < 2_000_000  # tiny on disk, hours when decoded
    with pytest.raises(AudioTooLong, match="60 s"):
        _decode_path(bomb, max_seconds=60)


def test_audio_just_under_the_cap_passes(speech_wav: Path) -> None:
    with speech_wav.open("rb") as fh:
        audio = decode_audio(fh, 30)
    assert 15 < audio.duration_ms / 1000 < 30


def test_pcm16_to_float_scales_to_unit_range() -> None:
    pcm = np.array([0, 16384, -32768, 32767], dtype="<i2").tobytes()
    np.testing.assert_allclose(pcm16_to_float(pcm), [0.0, 0.5, -1.0, 32767 / 32768])
