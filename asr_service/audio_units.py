"""The service's one audio format (16 kHz mono; s16le on the wire) and conversions between its units."""

from __future__ import annotations

SAMPLE_RATE = 16000  # every model and every stream runs at this rate
BYTES_PER_SAMPLE = 2  # s16le, as clients send live audio
PCM_BYTES_PER_S = SAMPLE_RATE * BYTES_PER_SAMPLE


def ms_to_samples(ms: int) -> int:
    """Samples in `ms` milliseconds (rounded down)."""
    return ms * SAMPLE_RATE // 1000


def samples_to_ms(samples: int) -> int:
    """Whole milliseconds that `samples` samples last (rounded down)."""
    return samples * 1000 // SAMPLE_RATE


def samples_to_s(samples: int) -> float:
    """Seconds that `samples` samples last, to the millisecond, as the wire reports durations."""
    return round(samples / SAMPLE_RATE, 3)


def samples_to_bytes(samples: int) -> int:
    """Bytes of s16le PCM that hold `samples` samples."""
    return samples * BYTES_PER_SAMPLE
