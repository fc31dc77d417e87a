"""Decode any upload to 16 kHz mono float32 with PyAV, enforcing the duration cap while decoding."""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass
from typing import IO

import av
import numpy as np
from av.audio.resampler import AudioResampler

from .errors import AudioTooLong, UnsupportedMedia

SAMPLE_RATE = 16000

log = logging.getLogger(__name__)

# Containers whose header states the true length, so a shorter decode means a cut-off file.
# Raw MP3/AAC only estimate their length from the bitrate, so the check would misfire there.
_HEADER_DURATION_FORMATS = ("wav", "flac", "mov", "mp4", "m4a", "matroska", "webm", "asf", "ogg")
_TRUNCATION_TOLERANCE_S = 0.5
_TRUNCATION_TOLERANCE_RATIO = 0.02
_WAV_HEADER_SCAN = 64 * 1024
_WAV_SLACK_BYTES = 64

SUPPORTED_FORMATS: dict[str, str] = {
    "wav": "WAV (PCM, float, A-law/μ-law)",
    "mp3": "MPEG-1/2 Layer III",
    "ogg": "Ogg (Vorbis or Opus)",
    "flac": "FLAC",
    "m4a": "MPEG-4 audio (AAC, ALAC)",
    "aac": "ADTS AAC",
    "wma": "Windows Media Audio (ASF)",
    "webm": "WebM / Matroska (Opus or Vorbis)",
}


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples at SAMPLE_RATE plus what the source was."""

    samples: np.ndarray
    container: str
    source_rate: int
    source_channels: int

    @property
    def duration_ms(self) -> int:
        """Length of the decoded audio in whole milliseconds."""
        return len(self.samples) * 1000 // SAMPLE_RATE


def decode_audio(source: IO[bytes], max_seconds: float) -> DecodedAudio:
    """Decode the first audio stream of a seekable file; raise UnsupportedMedia or AudioTooLong."""
    max_samples = int(max_seconds * SAMPLE_RATE)
    _check_wav_complete(source)
    try:
        container = av.open(source, mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise UnsupportedMedia(f"not a readable audio file: {_reason(exc)}") from exc
    with container:
        if not container.streams.audio:
            raise UnsupportedMedia(f"no audio stream in the file (container: {container.format.name})")
        stream = container.streams.audio[0]
        chunks = _decode_stream(container, stream, max_samples, max_seconds)
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        if samples.size == 0:
            raise UnsupportedMedia(f"the {container.format.name} file contains no decodable audio")
        _check_not_truncated(container, samples.size)
        return DecodedAudio(
            samples=samples,
            container=container.format.name,
            source_rate=int(stream.rate or 0),
            source_channels=int(stream.channels or 0),
        )


def _decode_stream(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    max_samples: int,
    max_seconds: float,
) -> list[np.ndarray]:
    """Resample every frame to 16 kHz mono, stopping as soon as the cap is passed."""
    resampler = AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                total += _append(chunks, out)
            if total > max_samples:
                raise AudioTooLong(f"audio is longer than the limit of {max_seconds:g} s")
        for out in resampler.resample(None):
            total += _append(chunks, out)
    except av.FFmpegError as exc:
        raise UnsupportedMedia(
            f"the {container.format.name} file is corrupt or cut off: {_reason(exc)}"
        ) from exc
    if total > max_samples:
        raise AudioTooLong(f"audio is longer than the limit of {max_seconds:g} s")
    return chunks


def _append(chunks: list[np.ndarray], frame: av.AudioFrame) -> int:
    data = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
    chunks.append(data)
    return int(data.size)


def _check_not_truncated(container: av.container.InputContainer, n_samples: int) -> None:
    """Reject files whose header promises clearly more audio than could be decoded."""
    names = container.format.name.split(",")
    if container.duration is None or not any(n in _HEADER_DURATION_FORMATS for n in names):
        return
    declared_s = container.duration / av.time_base
    decoded_s = n_samples / SAMPLE_RATE
    slack = max(_TRUNCATION_TOLERANCE_S, declared_s * _TRUNCATION_TOLERANCE_RATIO)
    if declared_s - decoded_s > slack:
        raise UnsupportedMedia(
            f"the {container.format.name} file is truncated: its header declares {declared_s:.2f} s "
            f"but only {decoded_s:.2f} s could be decoded"
        )


def _check_wav_complete(source: IO[bytes]) -> None:
    """Reject a RIFF/WAVE file whose data chunk is shorter than its header says.

    FFmpeg quietly decodes what is there, so a cut-off upload would otherwise pass as valid.
    """
    start = source.tell()
    head = source.read(_WAV_HEADER_SCAN)
    end = source.seek(0, io.SEEK_END)
    source.seek(start)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(head):
        chunk_id, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk_id == b"data":
            available = end - start - (pos + 8)
            # 0 and 0xFFFFFFFF are the placeholders streaming writers leave in the header
            if size not in (0, 0xFFFFFFFF) and available < size - _WAV_SLACK_BYTES:
                raise UnsupportedMedia(
                    f"the wav file is truncated: its header declares {size} bytes of audio "
                    f"but the file holds {max(available, 0)}"
                )
            return
        pos += 8 + size + (size & 1)


def _reason(exc: Exception) -> str:
    """The decoder's own words, without errno numbers or the placeholder file name."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().split("\n")[0][:300] or type(exc).__name__


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes to float32 in [-1, 1)."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
