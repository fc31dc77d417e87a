"""WindowedVad: FSMN-VAD over a SampleSource one chunk at a time, with FunasrVad's calls and spans."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from asr_service.audio_units import SAMPLE_RATE
from asr_service.file_vad import ArraySource, WindowedVad
from asr_service.model_adapters import FunasrVad
from asr_service.model_loading import ModelSet
from asr_service.roles import Span


class ScriptedVad:
    """FSMN-VAD's generate() shape, answering each call with the next scripted events."""

    def __init__(self, events: list[list[list[int]]]) -> None:
        self.events = events
        self.calls: list[tuple[int, int, bool, int]] = []  # (samples, id of cache, is_final, chunk_size)

    def generate(self, input: np.ndarray, cache: dict[str, Any], is_final: bool, chunk_size: int) -> Any:
        self.calls.append((len(input), id(cache), is_final, chunk_size))
        found = self.events[len(self.calls) - 1]
        return [{"value": found}] if found else []


def test_each_chunk_is_one_call_with_one_cache_and_the_last_is_final() -> None:
    model = ScriptedVad([[[100, -1]], [], [[-1, 2500]]])  # speech across two chunk edges
    audio = np.zeros(2 * SAMPLE_RATE + 800, np.float32)  # 2.05 s in 1 s chunks: three calls
    spans = WindowedVad(model, chunk_ms=1000).detect_source(ArraySource(audio))
    assert spans == [Span(100, 2500)]
    assert [(n, final, size) for n, _, final, size in model.calls] == [
        (SAMPLE_RATE, False, 1000),
        (SAMPLE_RATE, False, 1000),
        (800, True, 1000),
    ]
    assert len({cache for _, cache, _, _ in model.calls}) == 1


def test_speech_still_open_at_the_end_closes_at_the_end() -> None:
    model = ScriptedVad([[[0, 400], [900, -1]]])
    audio = np.zeros(SAMPLE_RATE * 3 // 2, np.float32)
    assert WindowedVad(model).detect_source(ArraySource(audio)) == [Span(0, 400), Span(900, 1500)]


def test_empty_audio_is_still_one_final_call() -> None:
    model = ScriptedVad([[]])
    assert WindowedVad(model).detect_source(ArraySource(np.zeros(0, np.float32))) == []
    assert [(n, final) for n, _, final, _ in model.calls] == [(0, True)]


def test_on_runs_every_model_call_through_the_runner() -> None:
    ran: list[int] = []

    def runner(call: Callable[[], Any]) -> Any:
        ran.append(1)
        return call()

    model = ScriptedVad([[], [[10, 20]]])
    vad = WindowedVad(model, chunk_ms=1000).on(runner)
    assert vad.detect_source(ArraySource(np.zeros(SAMPLE_RATE + 1, np.float32))) == [Span(10, 20)]
    assert len(ran) == len(model.calls) == 2


def test_an_array_source_clips_its_reads() -> None:
    source = ArraySource(np.arange(10, dtype=np.float32))
    assert len(source) == 10
    assert source.read(-5, 3).tolist() == [0, 1, 2]
    assert source.read(8, 100).tolist() == [8, 9]


def test_windowed_vad_equals_the_array_vad_on_the_real_model(model_set: ModelSet, speech_wav: Path) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    vad = model_set.loaded["vad"].model
    for chunk_ms in (60_000, 5_000):  # one chunk, and several with speech across their edges
        expected = FunasrVad(vad, chunk_ms=chunk_ms).detect(audio)
        assert len(expected) >= 2
        assert WindowedVad(vad, chunk_ms=chunk_ms).detect_source(ArraySource(audio)) == expected
