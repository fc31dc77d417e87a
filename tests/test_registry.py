"""The session registry: the active cap, lookup by resume token, parking and expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr_service.connections import Connections
from asr_service.errors import SessionError
from asr_service.events import LiveEvent
from asr_service.live_types import SessionLimits, SessionOptions, SessionState
from asr_service.recording_session import RecordingSession
from asr_service.registry import SessionRegistry
from asr_service.results import ResultStore
from asr_service.scheduler import ModelWorker
from asr_service.spool import RecordingStore
from asr_service.takeover import Takeover

from .fakes import silent_live_models


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[SessionRegistry]:
    worker = ModelWorker("all")
    models = silent_live_models(worker)
    recordings, results = RecordingStore(tmp_path / "rec", 60), ResultStore(tmp_path / "res", 60)
    yield SessionRegistry(
        lambda on_done, **identity: RecordingSession(
            models, recordings, results, SessionLimits(), on_done=on_done, corrector=None, **identity
        ),
        2,
        10.0,
    )
    worker.stop()


def _sink(_event: LiveEvent) -> None:
    return None


def _wait_done(session: RecordingSession) -> None:
    deadline = time.monotonic() + 10
    while session.state is not SessionState.DONE and time.monotonic() < deadline:
        time.sleep(0.01)
    assert session.state is SessionState.DONE


def test_cap_counts_running_and_parked_recordings(registry: SessionRegistry) -> None:
    first, second, third = registry.create(), registry.create(), registry.create()
    registry.begin(first, SessionOptions(), _sink)
    registry.begin(second, SessionOptions(), _sink)
    registry.release(second)  # parked still holds its place
    assert (registry.active, registry.parked) == (2, 1)
    with pytest.raises(SessionError) as info:
        registry.begin(third, SessionOptions(), _sink)
    assert info.value.code == "busy"
    first.stop()
    _wait_done(first)
    registry.begin(third, SessionOptions(), _sink)
    assert registry.active == 2


def test_lookup_finds_a_held_session_and_nothing_for_an_unknown_token(registry: SessionRegistry) -> None:
    session = registry.create()
    registry.begin(session, SessionOptions(), _sink)
    registry.release(session)
    assert session.state is SessionState.PARKED
    assert registry.lookup(session.resume_token) is session
    assert registry.holds(session.token_sha256)
    assert registry.lookup("not-a-token") is None


def test_idle_sessions_are_dropped_on_disconnect(registry: SessionRegistry) -> None:
    session = registry.create()
    registry.release(session)
    assert registry.session_for(session.resume_token) is None


def test_parked_past_the_grace_time_is_finalised_and_expired(registry: SessionRegistry) -> None:
    session = registry.create()
    registry.begin(session, SessionOptions(), _sink)
    session.feed(b"\1\0" * 16000)
    registry.release(session)
    registry.sweep(now=time.monotonic() + 5)
    assert session.state is SessionState.PARKED  # still inside the grace time
    registry.sweep(now=time.monotonic() + 11)
    _wait_done(session)
    assert session.final_result is not None and session.final_result.to_wire()["duration_ms"] == 1000
    with pytest.raises(SessionError) as info:
        registry.lookup(session.resume_token)
    assert info.value.code == "session_expired" and session.session_id in info.value.message


def test_shutdown_stops_running_recordings(registry: SessionRegistry) -> None:
    session = registry.create()
    registry.begin(session, SessionOptions(), _sink)
    registry.shutdown()
    _wait_done(session)


class _NoScan(dict[str, RecordingSession]):
    """A session index that fails any walk over it: lookups must go by key."""

    def _walk(self, *_args: object) -> None:
        raise AssertionError("the registry walked every session in memory")

    items = values = keys = __iter__ = _walk  # type: ignore[assignment]


def test_idle_sessions_cost_no_scan_on_resume_or_counts(registry: SessionRegistry) -> None:
    recording = registry.create()
    registry.begin(recording, SessionOptions(), _sink)
    idle = [registry.create() for _ in range(200)]  # one per open connection that never records
    registry._by_token = _NoScan(registry._by_token)
    assert registry.session_for(idle[-1].resume_token) is idle[-1]
    assert registry.session_for(recording.resume_token) is recording
    assert (registry.active, registry.parked, registry.held) == (1, 0, 201)
    assert registry.is_running(recording.session_id)
    registry.sweep()
    assert registry.lookup("no-such-token") is None
    with pytest.raises(SessionError) as info:  # the whole resume path: no scan either
        Connections(registry, Takeover(registry, None)).resume("c", "no-such-token", _sink)
    assert info.value.code == "invalid_resume_token"
    for session in idle:
        registry.release(session)
    assert registry.held == 1
    recording.stop()
    _wait_done(recording)
