"""Binding connections to sessions: start, resume onto another connection, takeover, disconnect."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from asr_service.audio_units import SAMPLE_RATE, ms_to_samples, samples_to_bytes
from asr_service.connections import Connections
from asr_service.errors import SessionError
from asr_service.live_types import SessionOptions, SessionState
from asr_service.recording_session import RecordingSession
from asr_service.registry import SessionRegistry
from asr_service.scheduler import ModelWorker

from .fakes import EventSink, live_core

PCM_100MS = b"\x01\x00" * ms_to_samples(100)
WAIT_S = 10.0


@dataclass
class Core:
    """One process's live-session core."""

    registry: SessionRegistry
    connections: Connections


@pytest.fixture
def worker() -> Iterator[ModelWorker]:
    shared_worker = ModelWorker("all")
    yield shared_worker
    shared_worker.stop()


def _core(data: Path, worker: ModelWorker, max_active: int = 4) -> Core:
    built = live_core(data, worker, max_active)
    return Core(built.registry, built.connections)


@pytest.fixture
def core(tmp_path: Path, worker: ModelWorker) -> Core:
    return _core(tmp_path, worker)


def _finished(core: Core, connection: str) -> RecordingSession:
    """A connection whose recording has finished (its final result sent)."""
    core.connections.connect(connection)
    sink = EventSink()
    session = core.connections.start(connection, SessionOptions(), sink)
    session.feed(PCM_100MS)
    session.stop()
    assert sink.done.wait(WAIT_S) and session.wait_done(WAIT_S)
    return session


def test_connect_binds_an_idle_session_and_start_records_on_it(core: Core) -> None:
    session = core.connections.connect("a")
    assert core.connections.session_of("a") is session and session.state is SessionState.IDLE
    started = core.connections.start("a", SessionOptions(language="en"), EventSink())
    assert started is session and session.state is SessionState.RECORDING
    assert session.options.language == "en" and core.registry.active == 1
    with pytest.raises(SessionError) as info:
        core.connections.start("a", SessionOptions(), EventSink())
    assert info.value.code == "already_recording"
    session.stop()
    assert session.wait_done(WAIT_S)


def test_start_after_a_finished_recording_gets_a_fresh_session(core: Core) -> None:
    finished = _finished(core, "a")
    fresh = core.connections.start("a", SessionOptions(), EventSink())
    assert fresh is not finished and fresh.resume_token != finished.resume_token
    assert core.connections.session_of("a") is fresh and fresh.state is SessionState.RECORDING
    assert core.registry.session_for(finished.resume_token) is None  # its token was given up
    fresh.stop()
    assert fresh.wait_done(WAIT_S)


def test_at_capacity_a_finished_session_is_kept_when_a_new_start_is_refused(
    tmp_path: Path, worker: ModelWorker
) -> None:
    core = _core(tmp_path, worker, max_active=1)
    finished = _finished(core, "a")
    core.connections.connect("b")
    other = core.connections.start("b", SessionOptions(), EventSink())
    with pytest.raises(SessionError) as info:
        core.connections.start("a", SessionOptions(), EventSink())
    assert info.value.code == "busy"
    assert core.connections.session_of("a") is finished
    assert core.registry.session_for(finished.resume_token) is finished  # still resumable
    other.stop()
    assert other.wait_done(WAIT_S)


def test_resume_moves_the_recording_to_the_new_connection(core: Core) -> None:
    core.connections.connect("a")
    old_sink, new_sink = EventSink(), EventSink()
    session = core.connections.start("a", SessionOptions(), old_sink)
    session.feed(PCM_100MS)
    idle = core.connections.connect("b")
    resumed = core.connections.resume("b", session.resume_token, new_sink)
    assert resumed.session is session and resumed.final is None
    snapshot = resumed.result.to_wire()
    assert snapshot["state"] == "recording" and snapshot["received_bytes"] == len(PCM_100MS)
    assert core.connections.session_of("b") is session and core.connections.session_of("a") is None
    assert core.registry.session_for(idle.resume_token) is None  # b's own idle session is dropped
    session.stop()
    assert new_sink.done.wait(WAIT_S)
    assert not old_sink.done.is_set()


def test_the_replaced_connection_leaving_does_not_detach_the_resumed_recording(core: Core) -> None:
    core.connections.connect("a")
    session = core.connections.start("a", SessionOptions(), EventSink())
    core.connections.connect("b")
    new_sink = EventSink()
    core.connections.resume("b", session.resume_token, new_sink)
    core.connections.disconnect("a")  # the old connection is noticed dead only now
    assert session.state is SessionState.RECORDING and session.detached_at is None
    session.feed(PCM_100MS)
    session.stop()
    assert new_sink.done.wait(WAIT_S)
    assert next(p for e, p in new_sink.events if e == "final_result")["duration_ms"] == 100


def test_disconnect_parks_a_recording_for_resume(core: Core) -> None:
    core.connections.connect("a")
    session = core.connections.start("a", SessionOptions(), EventSink())
    session.feed(PCM_100MS)
    core.connections.disconnect("a")
    assert session.state is SessionState.PARKED and core.connections.session_of("a") is None
    assert core.registry.session_for(session.resume_token) is session
    resumed = core.connections.resume("c", session.resume_token, EventSink())
    assert resumed.session is session and session.state is SessionState.RECORDING
    session.stop()
    assert session.wait_done(WAIT_S)


def test_an_idle_session_is_dropped_on_disconnect(core: Core) -> None:
    session = core.connections.connect("a")
    core.connections.disconnect("a")
    assert core.registry.session_for(session.resume_token) is None
    assert core.connections.session_of("a") is None
    core.connections.disconnect("a")  # twice changes nothing


def test_a_recording_connection_cannot_resume_and_bad_tokens_are_refused(core: Core) -> None:
    core.connections.connect("a")
    session = core.connections.start("a", SessionOptions(), EventSink())
    with pytest.raises(SessionError) as recording:
        core.connections.resume("a", "some-token", EventSink())
    assert recording.value.code == "already_recording"
    core.connections.connect("b")
    with pytest.raises(SessionError) as unknown:
        core.connections.resume("b", "not-a-token", EventSink())
    assert unknown.value.code == "invalid_resume_token"
    assert core.connections.session_of("b") is not None  # the connection keeps its own session
    session.stop()
    assert session.wait_done(WAIT_S)


def test_a_finished_recording_resumes_with_its_final_result(core: Core) -> None:
    finished = _finished(core, "a")
    core.connections.disconnect("a")
    resumed = core.connections.resume("b", finished.resume_token, EventSink())
    assert resumed.session is finished and resumed.result.to_wire()["state"] == "done"
    assert resumed.final is not None and resumed.final.to_wire()["duration_ms"] == 100


def test_takeover_binds_a_recording_of_another_process(tmp_path: Path, worker: ModelWorker) -> None:
    first, second = _core(tmp_path, worker), _core(tmp_path, worker)
    first.connections.connect("a")
    session = first.connections.start("a", SessionOptions(), EventSink())
    session.feed(b"\x01\x00" * SAMPLE_RATE)
    assert first.registry.drain(WAIT_S) == (1, 0)
    own = second.connections.connect("b")
    sink = EventSink()
    resumed = second.connections.resume("b", session.resume_token, sink)
    taken = resumed.session
    assert taken is not None and taken is not session and taken.session_id == session.session_id
    assert resumed.result.to_wire()["received_bytes"] == samples_to_bytes(SAMPLE_RATE)
    assert second.connections.session_of("b") is taken
    assert second.registry.session_for(own.resume_token) is None
    second.connections.disconnect("b")
    assert taken.state is SessionState.PARKED
    again = second.connections.resume("c", session.resume_token, sink)
    assert again.session is taken
    taken.stop()
    assert sink.done.wait(WAIT_S)


def test_a_recording_finished_in_another_process_leaves_the_connection_its_session(
    tmp_path: Path, worker: ModelWorker
) -> None:
    first, second = _core(tmp_path, worker), _core(tmp_path, worker)
    finished = _finished(first, "a")
    own = second.connections.connect("b")
    resumed = second.connections.resume("b", finished.resume_token, EventSink())
    assert resumed.session is None and resumed.result.to_wire()["state"] == "done"
    assert resumed.final is not None and resumed.final.to_wire()["session_id"] == finished.session_id
    assert second.connections.session_of("b") is own
    assert second.registry.session_for(own.resume_token) is own
