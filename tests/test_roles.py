"""The model roles' shared types: spans, stream steps, and which recognizers can batch steps."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from asr_service.audio_units import ms_to_samples
from asr_service.roles import BatchStreamingRecognizer, Span, StreamStep

from .fakes import SilentStream


def test_a_span_knows_its_length_and_is_a_value() -> None:
    span = Span(1200, 3450)
    assert span.duration_ms == 2250
    assert span == Span(1200, 3450) and len({span, Span(1200, 3450)}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        span.start_ms = 0  # type: ignore[misc]


class _Batched(SilentStream):
    def step_many(self, steps: Sequence[StreamStep]) -> list[str]:
        return ["" for _ in steps]


def test_only_a_recognizer_with_step_many_counts_as_batching() -> None:
    assert isinstance(_Batched(), BatchStreamingRecognizer)
    assert not isinstance(SilentStream(), BatchStreamingRecognizer)


def test_a_stream_step_carries_that_streams_own_cache() -> None:
    cache: dict[str, object] = {}
    step = StreamStep(np.zeros(ms_to_samples(600), np.float32), cache, is_final=True)
    step.cache["n"] = 1
    assert cache == {"n": 1} and step.is_final
