"""Batched streaming steps: every stream gets exactly what its own generate calls would give it.

Texts and every cache tensor are compared for equality, not closeness: stacking must not change
a single bit of any stream's computation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from asr_service.model_adapters import ParaformerStreaming
from asr_service.model_loading import ModelSet
from asr_service.paraformer_batch import BatchedParaformer
from asr_service.roles import StreamStep

CHUNK = 9600


def _plans(audio: np.ndarray) -> list[tuple[int, list[np.ndarray]]]:
    """(first tick, chunks) per stream: different audio, start times and chunk sizes."""
    rolled = np.roll(audio, len(audio) // 3)
    whole = [audio[i : i + CHUNK] for i in range(0, 12 * CHUNK, CHUNK)]
    other = [rolled[i : i + CHUNK] for i in range(0, 12 * CHUNK, CHUNK)]
    halves = [rolled[i : i + CHUNK // 2] for i in range(CHUNK, 9 * CHUNK, CHUNK // 2)]  # carries half
    odd = [*whole[:5], audio[5 * CHUNK : 5 * CHUNK + 1234]]  # short last chunk
    return [(0, whole), (0, other), (2, whole[3:]), (1, halves), (3, odd)]


def _alone(lane: ParaformerStreaming, chunks: list[np.ndarray]) -> tuple[list[str], dict[str, Any]]:
    cache: dict[str, Any] = {}
    texts = [lane.step(c, cache, is_final=n == len(chunks) - 1) for n, c in enumerate(chunks)]
    return texts, cache


def _together(
    lane: ParaformerStreaming, plans: list[tuple[int, list[np.ndarray]]]
) -> tuple[list[list[str]], list[dict[str, Any]]]:
    caches: list[dict[str, Any]] = [{} for _ in plans]
    texts: list[list[str]] = [[] for _ in plans]
    for tick in range(max(start + len(chunks) for start, chunks in plans)):
        due = [(s, tick - t0) for s, (t0, chunks) in enumerate(plans) if 0 <= tick - t0 < len(chunks)]
        steps = [StreamStep(plans[s][1][n], caches[s], is_final=n == len(plans[s][1]) - 1) for s, n in due]
        for (s, _n), text in zip(due, lane.step_many(steps), strict=True):
            texts[s].append(text)
    return texts, caches


@pytest.fixture(scope="module")
def speech(speech_wav: Path) -> np.ndarray:
    audio, _ = sf.read(speech_wav, dtype="float32")
    return np.tile(audio, 1 + 12 * CHUNK // len(audio))


def test_streams_stepped_together_match_each_stream_alone(
    model_set: ModelSet, speech: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    lane = ParaformerStreaming(model_set.streaming_lanes(1)[0])
    plans = _plans(speech)
    alone = [_alone(lane, chunks)[0] for _start, chunks in plans]
    stacked: list[int] = []
    run = BatchedParaformer._run

    def counted(self: BatchedParaformer, steps: list[StreamStep]) -> list[str]:
        stacked.append(len(steps))
        return run(self, steps)

    monkeypatch.setattr(BatchedParaformer, "_run", counted)
    together, _caches = _together(lane, plans)
    assert together == alone
    assert any(t for texts in alone for t in texts)  # the model produced text to compare
    assert max(stacked) >= 3 and len(stacked) >= 8  # the encoder really ran stacked streams


def test_caches_after_stacked_steps_are_bit_identical(model_set: ModelSet, speech: np.ndarray) -> None:
    lane = ParaformerStreaming(model_set.streaming_lanes(1)[0])
    plans = [(0, [speech[i : i + CHUNK] for i in range(0, 6 * CHUNK, CHUNK)]), (1, [speech[:CHUNK]] * 5)]
    alone = []
    for _start, chunks in plans:
        cache: dict[str, Any] = {}
        for chunk in chunks:
            lane.step(chunk, cache, is_final=False)
        alone.append(cache)
    caches: list[dict[str, Any]] = [{} for _ in plans]
    for tick in range(6):
        due = [s for s, (start, chunks) in enumerate(plans) if 0 <= tick - start < len(chunks)]
        lane.step_many([StreamStep(plans[s][1][tick - plans[s][0]], caches[s], False) for s in due])
    for mine, theirs in zip(caches, alone, strict=True):
        assert mine["encoder"]["start_idx"] == theirs["encoder"]["start_idx"]
        assert torch.equal(mine["encoder"]["feats"], theirs["encoder"]["feats"])
        assert torch.equal(mine["encoder"]["cif_hidden"], theirs["encoder"]["cif_hidden"])
        for a, b in zip(mine["encoder"]["opt"], theirs["encoder"]["opt"], strict=True):
            assert torch.equal(a["k"], b["k"]) and torch.equal(a["v"], b["v"])
        assert mine["decoder"]["decode_fsmn"] is not None  # the decoder ran, so its caches count
        for a, b in zip(mine["decoder"]["decode_fsmn"], theirs["decoder"]["decode_fsmn"], strict=True):
            assert torch.equal(a, b)
        for a, b in zip(mine["decoder"]["opt"], theirs["decoder"]["opt"], strict=True):
            assert torch.equal(a["k"], b["k"]) and torch.equal(a["v"], b["v"])


def test_an_empty_batch_and_a_model_of_another_layout() -> None:
    class Never:  # not the released layout: no chunked encoder, so nothing is stacked
        def __init__(self) -> None:
            self.model = type("M", (), {"beam_search": None})()
            self.kwargs = {"frontend": None, "tokenizer": None}

    calls: list[StreamStep] = []

    def single(step: StreamStep) -> str:
        calls.append(step)
        return "x"

    batch = BatchedParaformer(Never(), {"chunk_size": [0, 10, 5]}, single)
    assert batch.step_many([]) == []
    steps = [StreamStep(np.zeros(CHUNK, np.float32), {}, False) for _ in range(3)]
    assert batch.step_many(steps) == ["x", "x", "x"]  # each the ordinary way
    assert len(calls) == 3
