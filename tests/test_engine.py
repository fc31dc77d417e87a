"""Engine composition: how many lanes the streaming model gets, how long a lane gathers streams, the
speaker model's worker."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr_service.config import Settings, SettingsError
from asr_service.engine import Engine, ModelRoles, build_engine, streaming_lane_count
from asr_service.handoff import SharedData
from asr_service.roles import SpeakerEmbedder

from .fakes import FixedDetector, LengthRecognizer, NoSpeechStream, PlainPunctuator, SilentStream


def test_lanes_default_to_half_the_cores_the_threads_fill_on_cpu_and_one_on_a_gpu() -> None:
    cores = os.cpu_count() or 1
    assert streaming_lane_count(Settings.from_env({}), "cpu") == max(1, cores // 2)
    assert streaming_lane_count(Settings.from_env({"ASR_THREADS": str(cores * 2)}), "cpu") == 1
    assert streaming_lane_count(Settings.from_env({}), "cuda:0") == 1


def test_lanes_can_be_set() -> None:
    assert streaming_lane_count(Settings.from_env({"ASR_STREAMING_LANES": "3"}), "cuda:0") == 3
    assert streaming_lane_count(Settings.from_env({"ASR_STREAMING_LANES": "0"}), "cpu") >= 1
    with pytest.raises(SettingsError, match="ASR_STREAMING_LANES"):
        Settings.from_env({"ASR_STREAMING_LANES": "-1"})


def test_gather_time_is_a_setting() -> None:
    assert Settings.from_env({}).streaming_gather_ms == 150
    assert Settings.from_env({"ASR_STREAMING_GATHER_MS": "0"}).streaming_gather_ms == 0
    with pytest.raises(SettingsError, match="ASR_STREAMING_GATHER_MS"):
        Settings.from_env({"ASR_STREAMING_GATHER_MS": "soon"})


def test_upload_limits_are_settings() -> None:
    s = Settings.from_env({})
    assert (s.max_uploads, s.max_decode_ratio, s.max_decode_cpu_s) == (2, 1000.0, 300.0)
    s = Settings.from_env({"ASR_MAX_UPLOADS": "5", "ASR_MAX_DECODE_RATIO": "50", "ASR_MAX_DECODE_CPU_S": "9"})
    assert (s.max_uploads, s.max_decode_ratio, s.max_decode_cpu_s) == (5, 50.0, 9.0)
    for name in ("ASR_MAX_UPLOADS", "ASR_MAX_DECODE_RATIO", "ASR_MAX_DECODE_CPU_S"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "0"})


def test_the_speaker_model_runs_on_its_own_background_worker(engine: Engine, speech_wav: Path) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    assert engine.speaker is not None and "speaker" in engine.queue_depths()
    seen: list[str] = []

    def embed(model: SpeakerEmbedder) -> np.ndarray:
        seen.append(threading.current_thread().name)
        return model.embed([audio[16000:40000], audio[40000:64000]])

    rows = engine.speaker.run(embed)
    assert rows.shape == (2, 192) and rows.dtype == np.float32
    assert seen == ["model-speaker"]
    assert {m["role"] for m in engine.models} >= {"speaker"}


def test_no_speaker_role_no_speaker_worker(settings: Settings, stores: SharedData) -> None:
    roles = ModelRoles(
        FixedDetector([]), LengthRecognizer(), NoSpeechStream(), SilentStream(), PlainPunctuator()
    )
    built = build_engine(settings, roles, stores, "x", "cpu", [])
    try:
        assert built.speaker is None and "speaker" not in built.queue_depths()
    finally:
        built.close()
