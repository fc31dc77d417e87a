"""A live recording's intake: odd bytes carried, caps enforced, nothing kept of a refused frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asr_service.audio_intake import AudioIntake
from asr_service.errors import SessionError
from asr_service.live_types import SessionLimits
from asr_service.spool import RecordingStore


def _intake(tmp_path: Path, limits: SessionLimits) -> AudioIntake:
    intake = AudioIntake(limits, "a" * 32)
    intake.open(RecordingStore(tmp_path, 3600).create("a" * 32))
    return intake


def test_an_odd_byte_waits_for_the_next_frame(tmp_path: Path) -> None:
    intake = _intake(tmp_path, SessionLimits())
    assert not intake.accept(b"\x01\x00\x02")
    assert (intake.received, intake.pending_bytes) == (1, 1)
    assert not intake.accept(b"\x00")
    assert (intake.received, intake.pending_bytes) == (2, 0)
    assert np.array_equal(intake.read(0, 2) * 32768, [1, 2])
    intake.close()


def test_a_frame_over_the_cap_keeps_nothing(tmp_path: Path) -> None:
    intake = _intake(tmp_path, SessionLimits(max_frame_bytes=4))
    intake.accept(b"\x01")
    with pytest.raises(SessionError) as info:
        intake.accept(b"\0" * 5)
    assert info.value.code == "frame_too_large" and "5 bytes" in info.value.message
    assert (intake.received, intake.pending_bytes) == (0, 1)
    intake.close()


def test_audio_past_the_length_cap_is_dropped(tmp_path: Path) -> None:
    intake = _intake(tmp_path, SessionLimits(max_session_s=0.001))  # 16 samples
    assert not intake.accept(b"\1\0" * 10)
    assert intake.accept(b"\1\0" * 10)  # reached the cap: the last 4 samples are dropped
    assert intake.received == 16
    assert intake.accept(b"\1\0")
    assert intake.received == 16
    intake.close()


def test_a_reopened_spool_counts_what_it_holds(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path, 3600)
    first = AudioIntake(SessionLimits(), "b" * 32)
    first.open(store.create("b" * 32))
    first.accept(b"\1\0" * 100)
    first.close()
    second = AudioIntake(SessionLimits(), "b" * 32)
    second.open(store.reopen("b" * 32))
    assert second.received == 100
    second.close()
