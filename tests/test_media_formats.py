"""media_formats: the upload containers, and FFmpeg open options that refuse every other demuxer."""

from __future__ import annotations

import io
import struct
import wave

import av
import pytest

from asr_service.audio_units import SAMPLE_RATE
from asr_service.media_formats import ALLOWED_DEMUXERS, SUPPORTED_FORMATS, open_options

# the demuxer FFmpeg uses for each advertised format
DEMUXER = {
    "wav": "wav",
    "mp3": "mp3",
    "ogg": "ogg",
    "flac": "flac",
    "m4a": "mov",
    "aac": "aac",
    "wma": "asf",
    "webm": "matroska",
}


def test_every_supported_format_has_an_allowed_demuxer_and_nothing_more_is_allowed() -> None:
    assert set(SUPPORTED_FORMATS) == set(DEMUXER)
    assert set(ALLOWED_DEMUXERS) == set(DEMUXER.values())


def test_the_options_allow_those_demuxers_no_protocol_and_no_data_references() -> None:
    options = open_options()
    assert options["format_whitelist"].split(",") == list(ALLOWED_DEMUXERS)
    assert options["protocol_whitelist"] == "none"
    assert options["enable_drefs"] == "0"


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(b"\0\0" * 1600)
    return out.getvalue()


def test_an_allowed_container_opens_with_the_options() -> None:
    with av.open(io.BytesIO(_wav()), mode="r", options=open_options()) as container:
        assert container.format.name == "wav" and container.streams.audio


def test_a_container_outside_the_list_is_refused_though_ffmpeg_could_read_it() -> None:
    au = b".snd" + struct.pack(">IIIII", 24, 3200, 3, SAMPLE_RATE, 1) + b"\0" * 3200  # Sun AU, 16-bit PCM
    with av.open(io.BytesIO(au), mode="r") as container:  # readable by FFmpeg's defaults
        assert container.format.name == "au"
    with pytest.raises(av.error.FFmpegError):
        av.open(io.BytesIO(au), mode="r", options=open_options())
