"""Bounds on what decoding one upload may produce and cost, checked before and while decoding."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .audio_units import PCM_BYTES_PER_S, SAMPLE_RATE
from .errors import AudioTooLong, DecodeLimit, UnsupportedMedia

MIN_SOURCE_RATE = 4000  # below telephone quality nothing is speech; 1 Hz headers are bombs
MAX_SOURCE_CHANNELS = 64


@dataclass
class DecodeBudget:
    """One upload's limits: length (ASR_MAX_AUDIO_S), output per input byte, decoder CPU time."""

    max_audio_s: float
    input_bytes: int
    max_ratio: float  # decoded 16 kHz PCM16 bytes per uploaded byte (ASR_MAX_DECODE_RATIO)
    max_cpu_s: float  # CPU seconds of this thread spent decoding (ASR_MAX_DECODE_CPU_S)
    _cpu_start: float = field(default_factory=time.thread_time)

    @property
    def max_samples(self) -> int:
        """The most 16 kHz samples this upload may decode to."""
        by_ratio = self.input_bytes * self.max_ratio / PCM_BYTES_PER_S
        return int(min(self.max_audio_s, by_ratio) * SAMPLE_RATE)

    def check_stream(self, container: str, rate: int, channels: int) -> None:
        """Refuse a stream whose header describes no plausible audio, before decoding any of it."""
        if rate and rate < MIN_SOURCE_RATE:
            raise UnsupportedMedia(
                f"the {container} file declares a sample rate of {rate} Hz; "
                f"at least {MIN_SOURCE_RATE} Hz is needed"
            )
        if channels > MAX_SOURCE_CHANNELS:
            raise UnsupportedMedia(
                f"the {container} file declares {channels} channels; "
                f"at most {MAX_SOURCE_CHANNELS} are accepted"
            )

    def check_progress(self, samples: int) -> None:
        """Stop decoding once the output or the CPU time passes its bound."""
        if samples > self.max_samples:
            if self.max_audio_s * PCM_BYTES_PER_S <= self.input_bytes * self.max_ratio:
                raise AudioTooLong(f"audio is longer than the limit of {self.max_audio_s:g} s")
            raise DecodeLimit(
                f"the upload decodes to more than {samples / SAMPLE_RATE:.0f} s of audio from "
                f"{self.input_bytes} bytes (over {self.max_ratio:g} bytes of 16 kHz PCM16 per uploaded "
                "byte): refused as a decoder bomb"
            )
        if time.thread_time() - self._cpu_start > self.max_cpu_s:
            raise DecodeLimit(f"decoding took more than {self.max_cpu_s:g} s of CPU time; refused")
