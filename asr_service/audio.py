"""Decode an upload to 16 kHz mono float32 with PyAV, inside the allow-list and the decode budget."""

from __future__ import annotations

import io
import logging
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import av
import numpy as np
from av.audio.resampler import AudioResampler

from .audio_units import SAMPLE_RATE
from .decode_budget import DecodeBudget
from .errors import UnsupportedMedia
from .media_formats import SUPPORTED_FORMATS, open_options

__all__ = ["SAMPLE_RATE", "SUPPORTED_FORMATS", "DecodedAudio", "MediaInfo", "decode_audio", "decode_stream"]


log = logging.getLogger(__name__)

# Containers whose header states the true length, so a shorter decode means a cut-off file.
# Raw MP3/AAC only estimate their length from the bitrate, so the check would misfire there.
_HEADER_DURATION_FORMATS = ("wav", "flac", "mov", "mp4", "m4a", "matroska", "webm", "asf", "ogg")
_TRUNCATION_TOLERANCE_S = 0.5
_TRUNCATION_TOLERANCE_RATIO = 0.02
# Less than this share of the declared length decoding means there is (almost) nothing to transcribe.
_MIN_DECODED_SHARE = 0.05
_WAV_HEADER_SCAN = 64 * 1024
_WAV_SLACK_BYTES = 64

SampleSink = Callable[[np.ndarray], None]


@dataclass(frozen=True)
class MediaWarning:
    """Something about the upload worth telling the client although it was transcribed."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The wire form, an element of `data.warnings`."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class MediaInfo:
    """What a decoded upload was and how much it gave."""

    container: str
    source_rate: int
    source_channels: int
    n_samples: int
    warnings: tuple[MediaWarning, ...] = ()

    @property
    def duration_ms(self) -> int:
        """Length of the decoded audio in whole milliseconds."""
        return self.n_samples * 1000 // SAMPLE_RATE


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples at SAMPLE_RATE plus what the source was."""

    samples: np.ndarray
    container: str
    source_rate: int
    source_channels: int
    warnings: tuple[MediaWarning, ...] = field(default=())

    @property
    def duration_ms(self) -> int:
        """Length of the decoded audio in whole milliseconds."""
        return len(self.samples) * 1000 // SAMPLE_RATE


def decode_audio(source: IO[bytes], max_seconds: float, budget: DecodeBudget | None = None) -> DecodedAudio:
    """The whole upload in memory (for short audio and tests); see decode_stream for the rules."""
    chunks: list[np.ndarray] = []
    info = decode_stream(source, budget or _length_only(source, max_seconds), chunks.append)
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return DecodedAudio(samples, info.container, info.source_rate, info.source_channels, info.warnings)


def decode_stream(source: IO[bytes], budget: DecodeBudget, sink: SampleSink) -> MediaInfo:
    """Decode the first audio stream of a seekable upload into `sink`, piece by piece.

    Raises UnsupportedMedia (not an allowed container, no audio, nothing decodes), AudioTooLong
    or DecodeLimit (the budget ran out). A file that decodes to clearly less than its header
    declares is transcribed, with a `truncated` warning, unless almost nothing of it decodes.
    """
    wav_share = _wav_data_share(source)
    container = _open(source)
    with container:
        if not container.streams.audio:
            raise UnsupportedMedia(f"no audio stream in the file (container: {container.format.name})")
        stream = container.streams.audio[0]
        name = container.format.name
        rate, channels = int(stream.rate or 0), int(stream.channels or 0)
        budget.check_stream(name, rate, channels)
        total, damage = _decode_into(container, stream, budget, sink)
        if total == 0:
            raise UnsupportedMedia(f"the {name} file contains no decodable audio")
        declared_s = _declared_s(container, total, wav_share)
        warnings = _truncation(name, declared_s, total / SAMPLE_RATE)
        if damage and not warnings:
            warnings = (
                MediaWarning(
                    "damaged",
                    f"decoding the {name} file stopped early ({damage}); what decoded before was transcribed",
                ),
            )
        return MediaInfo(name, rate, channels, total, warnings)


def _open(source: IO[bytes]) -> av.container.InputContainer:
    """Open the upload with only the allowed demuxers and no protocols (nothing beside it is read)."""
    try:
        return av.open(source, mode="r", options=open_options())
    except av.ArgumentError as exc:
        # EINVAL here is FFmpeg refusing a demuxer that is not on the allow-list
        log.info("upload refused by the demuxer allow-list: %s", _reason(exc))
        raise UnsupportedMedia(
            "not an accepted audio container (accepted: "
            f"{', '.join(SUPPORTED_FORMATS)}; playlists, scripts and streams are refused)"
        ) from exc
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise UnsupportedMedia(f"not a readable audio file: {_reason(exc)}") from exc


def _decode_into(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    budget: DecodeBudget,
    sink: SampleSink,
) -> tuple[int, str | None]:
    """Samples resampled to 16 kHz mono into `sink` and the decoder's error that ended it early, if any.

    Stops (raising) as soon as the budget is passed."""
    resampler = AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    total = 0
    damage: str | None = None
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                total += _emit(sink, out)
            budget.check_progress(total)
        for out in resampler.resample(None):
            total += _emit(sink, out)
    except av.FFmpegError as exc:
        if total == 0:
            raise UnsupportedMedia(
                f"the {container.format.name} file is corrupt or cut off: {_reason(exc)}"
            ) from exc
        # what decoded before the damage is kept and the client is told
        damage = _reason(exc)
        log.info("decoding stopped after %d samples: %s", total, damage)
    budget.check_progress(total)
    return total, damage


def _emit(sink: SampleSink, frame: av.AudioFrame) -> int:
    data = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
    sink(data)
    return int(data.size)


def _declared_s(
    container: av.container.InputContainer, n_samples: int, wav_share: float | None
) -> float | None:
    """The length the file's header promises, where the header can be trusted to know it."""
    if wav_share is not None:
        return n_samples / SAMPLE_RATE / max(wav_share, 1e-9)
    names = container.format.name.split(",")
    if container.duration is None or not any(n in _HEADER_DURATION_FORMATS for n in names):
        return None
    return float(container.duration / av.time_base)


def _truncation(container: str, declared_s: float | None, decoded_s: float) -> tuple[MediaWarning, ...]:
    """A `truncated` warning when clearly less decoded than declared; refused when almost nothing did."""
    if declared_s is None or not math.isfinite(declared_s):
        return ()
    slack = max(_TRUNCATION_TOLERANCE_S, declared_s * _TRUNCATION_TOLERANCE_RATIO)
    if declared_s - decoded_s <= slack:
        return ()
    detail = f"its header declares {declared_s:.2f} s but only {decoded_s:.2f} s could be decoded"
    if decoded_s < declared_s * _MIN_DECODED_SHARE:
        raise UnsupportedMedia(f"the {container} file is truncated: {detail}")
    log.info("transcribing a short %s file: %s", container, detail)
    return (
        MediaWarning(
            "truncated",
            f"the {container} file is shorter than declared: {detail}; what decoded was transcribed",
        ),
    )


def _wav_data_share(source: IO[bytes]) -> float | None:
    """For RIFF/WAVE, the share of the header's data chunk that the file holds (None: not WAV, or unknown).

    FFmpeg quietly decodes what is there, so this is how a cut-off WAV is noticed.
    """
    start = source.tell()
    head = source.read(_WAV_HEADER_SCAN)
    end = source.seek(0, io.SEEK_END)
    source.seek(start)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk_id, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk_id == b"data":
            available = end - start - (pos + 8)
            # 0 and 0xFFFFFFFF are the placeholders streaming writers leave in the header
            if size in (0, 0xFFFFFFFF) or available >= size - _WAV_SLACK_BYTES:
                return None
            return max(available, 0) / size
        pos += 8 + size + (size & 1)
    return None


def _length_only(source: IO[bytes], max_seconds: float) -> DecodeBudget:
    """A budget that only enforces the length cap (callers that bound the input themselves)."""
    position = source.tell()
    size = source.seek(0, io.SEEK_END) - position
    source.seek(position)
    return DecodeBudget(max_seconds, size, max_ratio=math.inf, max_cpu_s=math.inf)


def _reason(exc: Exception) -> str:
    """The decoder's own words, without errno numbers or the placeholder file name."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().split("\n")[0][:300] or type(exc).__name__


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes to float32 in [-1, 1)."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
