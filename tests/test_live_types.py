"""The vocabulary of a live recording: its states as the wire names them, the documented defaults of the
client's options and the service's caps, and the streaming model leased per stream."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from asr_service.config import Settings
from asr_service.live_types import SessionLimits, SessionOptions, SessionState
from asr_service.scheduler import Lanes, ModelWorker, Priority, StepBatcher

from .conftest import ROOT
from .fakes import SilentStream, silent_live_models


def _documented_states() -> list[str]:
    """The first column of the "Session states" table in docs/websocket.md."""
    text = (ROOT / "docs" / "websocket.md").read_text(encoding="utf-8")
    table = text.split("### Session states", 1)[1].split("\n\n", 2)[1]
    return re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)


def test_states_are_the_documented_names_in_their_order_of_life() -> None:
    assert [state.value for state in SessionState] == ["idle", "recording", "parked", "finalizing", "done"]
    assert [state.value for state in SessionState] == _documented_states()


def test_a_state_is_its_wire_name() -> None:
    assert SessionState("finalizing") is SessionState.FINALIZING
    assert SessionState.DONE == "done"  # a str, so it compares and serialises as the name
    assert json.dumps({"state": SessionState.RECORDING}) == '{"state": "recording"}'


def test_options_default_to_what_docs_websocket_md_says() -> None:
    # docs/websocket.md, start_recording: language `ASR_LANGUAGE` (auto), use_itn `ASR_USE_ITN` (true),
    # hotwords [], llm_correct false, full_text false (the whole text in every event only when asked)
    assert SessionOptions() == SessionOptions(
        language="auto", use_itn=True, hotwords=(), llm_correct=False, full_text=False
    )
    options, defaults = SessionOptions(), Settings.from_env({})
    assert (options.language, options.use_itn) == (defaults.default_language, defaults.use_itn)
    with pytest.raises(dataclasses.FrozenInstanceError):
        SessionOptions().language = "en"  # type: ignore[misc]


def test_limits_default_to_the_documented_caps() -> None:
    limits = SessionLimits()
    assert limits.max_frame_bytes == 64000  # ASR_MAX_FRAME_BYTES: 64 000 bytes = 2 s
    assert limits.max_session_s == 14400  # ASR_MAX_SESSION_S: 14 400 s = 4 h
    assert limits.max_sentence_ms == 15000  # ASR_MAX_SENTENCE_S: 15 s
    assert limits.idle_timeout_s == 60  # ASR_IDLE_TIMEOUT_S: 60 s


def test_limits_default_to_the_settings_defaults() -> None:
    """A session built without the service's settings gets the same caps as one built with them."""
    s = Settings.from_env({})
    assert SessionLimits() == SessionLimits(
        max_frame_bytes=s.max_frame_bytes,
        max_session_s=s.max_session_s,
        max_sentence_ms=int(s.max_sentence_s * 1000),
        idle_timeout_s=s.idle_timeout_s,
    )


def _batchers(worker: ModelWorker, count: int) -> list[StepBatcher]:
    return [StepBatcher(SilentStream(), worker, Priority.REALTIME) for _ in range(count)]


def test_a_single_streaming_model_is_every_streams_lane(workers: list[ModelWorker]) -> None:
    models = silent_live_models(workers[0])
    with models.asr_lane() as first, models.asr_lane() as second:
        assert first is models.asr and second is models.asr


def test_a_stream_leases_the_least_used_lane_until_its_block_ends(workers: list[ModelWorker]) -> None:
    batchers = _batchers(workers[1], 2)
    lanes = Lanes(batchers)
    models = dataclasses.replace(silent_live_models(workers[0]), asr=lanes)
    with models.asr_lane() as first:
        assert first is batchers[0] and lanes.users() == [1, 0]
        with models.asr_lane() as second:
            assert second is batchers[1] and lanes.users() == [1, 1]
        assert lanes.users() == [1, 0]
        with models.asr_lane() as third:
            assert third is batchers[1]  # the free one, not the first again
    assert lanes.users() == [0, 0]


def test_a_lane_is_released_when_its_stream_fails(workers: list[ModelWorker]) -> None:
    lanes = Lanes(_batchers(workers[1], 1))
    models = dataclasses.replace(silent_live_models(workers[0]), asr=lanes)
    with pytest.raises(RuntimeError), models.asr_lane():
        assert lanes.users() == [1]
        raise RuntimeError("the session thread failed")
    assert lanes.users() == [0]
