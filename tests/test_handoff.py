"""Resume state on a shared data directory: the store, and registries of two "processes" handing a
recording to each other (drain, take-over, live elsewhere, finished elsewhere, orphans)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asr_service.errors import SessionError
from asr_service.events import LiveEvent
from asr_service.handoff import HandoffStore, SharedData
from asr_service.live_types import SessionLimits, SessionOptions, SessionState
from asr_service.recording_session import RecordingSession
from asr_service.results import ResultStore, token_digest
from asr_service.scheduler import ModelWorker
from asr_service.sessions import SessionRegistry, options_from_dict, options_to_dict
from asr_service.spool import RecordingStore

from .fakes import silent_live_models, wire

PCM_1S = b"\x01\x00" * 16000


@dataclass
class Events:
    """What a sink received."""

    items: list[tuple[str, dict[str, Any]]]

    def __call__(self, event: LiveEvent) -> None:
        self.items.append((event.name, event.to_wire()))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [p for e, p in self.items if e == name]


def _registry(data: Path, worker: ModelWorker, grace_s: float = 60.0) -> SessionRegistry:
    models = silent_live_models(worker)
    recordings, results = RecordingStore(data / "recordings", 60), ResultStore(data / "results", 60)
    shared = SharedData(HandoffStore(data / "sessions", 60), recordings, results)

    def factory(**identity: Any) -> RecordingSession:
        limits = SessionLimits()
        return RecordingSession(models, recordings, results, limits, on_done=registry.finished, **identity)

    registry = SessionRegistry(factory, 4, grace_s, shared=shared)
    return registry


@pytest.fixture
def worker() -> Iterator[ModelWorker]:
    shared_worker = ModelWorker("all")
    yield shared_worker
    shared_worker.stop()


def _recording(registry: SessionRegistry, seconds: int) -> RecordingSession:
    session = registry.create()
    registry.begin(session, SessionOptions(language="en", hotwords=("星纪",)), Events([]))
    for _ in range(seconds):
        session.feed(PCM_1S)
    return session


def test_store_keeps_one_file_per_token_and_done_replaces_open(tmp_path: Path) -> None:
    store = HandoffStore(tmp_path, 60)
    digest = token_digest("tok")
    store.save(digest, "a" * 32, "recording", {"language": "zh"})
    loaded = store.load(digest)
    assert loaded is not None and loaded.session_id == "a" * 32 and not loaded.done
    assert [s.digest for s in store.open_states()] == [digest]
    store.save(digest, "a" * 32, "done", {})
    assert store.load(digest) is not None and store.load(digest).done  # type: ignore[union-attr]
    assert store.open_states() == [] and len(list(tmp_path.iterdir())) == 1
    assert store.load(token_digest("other")) is None
    with pytest.raises(KeyError):
        store.save("../../etc", "a" * 32, "done", {})


def test_options_survive_the_round_trip() -> None:
    options = SessionOptions(language="ja", use_itn=False, hotwords=("a", "b"), llm_correct=True)
    assert options_from_dict(options_to_dict(options)) == options
    assert options_from_dict({**options_to_dict(options), "from_a_newer_version": 1}) == options


def test_drained_recording_resumes_on_another_process(tmp_path: Path, worker: ModelWorker) -> None:
    first, second = _registry(tmp_path, worker), _registry(tmp_path, worker)
    session = _recording(first, 3)
    events = Events([])
    session.attach(events)
    assert first.drain(5.0) == (1, 0)
    assert events.named("error")[0]["code"] == "server_restarting"
    with pytest.raises(SessionError) as refused:
        first.create()
    assert refused.value.code == "server_restarting"

    resumed = Events([])
    result, final = second.resume(session.resume_token, resumed)
    assert final is None and wire(result)["state"] == "recording"
    assert wire(result)["session_id"] == session.session_id
    assert wire(result)["received_bytes"] == 3 * len(PCM_1S)
    taken = second.session_for(session.resume_token)
    assert taken is not None and taken.options == session.options
    taken.feed(PCM_1S)
    taken.stop()
    assert taken.wait_done(10)
    assert resumed.named("final_result")[0]["duration_ms"] == 4000
    assert not [p for p in resumed.named("transcription") if p["current_time_ms"] < 3000], "replay is silent"


def test_a_recording_live_in_another_process_is_not_taken(tmp_path: Path, worker: ModelWorker) -> None:
    first, second = _registry(tmp_path, worker), _registry(tmp_path, worker)
    session = _recording(first, 1)
    with pytest.raises(SessionError) as info:
        second.resume(session.resume_token, Events([]))
    assert info.value.code == "session_elsewhere"
    session.stop()
    assert session.wait_done(10)
    result, final = second.resume(session.resume_token, Events([]))
    assert wire(result)["state"] == "done" and final is not None
    assert wire(final)["session_id"] == session.session_id
    with pytest.raises(SessionError) as unknown:
        second.resume("never-issued", Events([]))
    assert unknown.value.code == "invalid_resume_token"


def test_orphans_are_finalised_after_the_grace_time(tmp_path: Path, worker: ModelWorker) -> None:
    first = _registry(tmp_path, worker)
    session = _recording(first, 2)
    first.drain(5.0)
    patient = _registry(tmp_path, worker, grace_s=3600)
    assert patient.adopt_orphans() == 0  # its client may still come back
    eager = _registry(tmp_path, worker, grace_s=0.001)
    assert eager.adopt_orphans() == 1
    adopted = eager.session_for(session.resume_token)
    assert adopted is not None and adopted.state in (SessionState.FINALIZING, SessionState.DONE)
    assert adopted.wait_done(10)
    stored = ResultStore(tmp_path / "results", 60).load(session.session_id, session.resume_token)
    assert stored["duration_ms"] == 2000
    assert eager.adopt_orphans() == 0
