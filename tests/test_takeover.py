"""Processes sharing a data directory hand recordings to each other: drain, take-over, live
elsewhere, finished elsewhere, orphans. Each "process" is a registry, its takeover and its connections."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asr_service.audio_units import SAMPLE_RATE, samples_to_bytes
from asr_service.connections import Connections
from asr_service.errors import SessionError
from asr_service.events import LiveEvent
from asr_service.live_types import SessionOptions, SessionState
from asr_service.recording_session import RecordingSession
from asr_service.registry import SessionRegistry
from asr_service.results import ResultStore
from asr_service.scheduler import ModelWorker
from asr_service.takeover import Takeover, options_from_dict, options_to_dict

from .fakes import live_core
from .live_fakes import PeriodicVad, SentenceView, live_models, pcm, wait_until

PCM_1S = b"\x01\x00" * SAMPLE_RATE


@dataclass
class Events:
    """What a sink received."""

    items: list[tuple[str, dict[str, Any]]]

    def __call__(self, event: LiveEvent) -> None:
        self.items.append((event.name, event.to_wire()))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [p for e, p in self.items if e == name]


@dataclass
class Process:
    """One server process's live-session core on the shared data directory."""

    registry: SessionRegistry
    takeover: Takeover
    connections: Connections

    def resume(self, token: str, sink: Events) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A client resuming on a new connection of this process: (resume_result, final result)."""
        resumed = self.connections.resume(f"client-{id(sink)}", token, sink)
        return resumed.result.to_wire(), resumed.final.to_wire() if resumed.final is not None else None


def _process(data: Path, worker: ModelWorker, grace_s: float = 60.0, speaking: bool = False) -> Process:
    """A process on silent models, or (`speaking`) on models that hear a sentence every 2 s."""
    models = live_models([worker] * 4, vad=PeriodicVad()) if speaking else None
    built = live_core(data, worker, grace_s=grace_s, models=models)
    return Process(built.registry, built.takeover, built.connections)


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


def test_options_survive_the_round_trip() -> None:
    options = SessionOptions(language="ja", use_itn=False, hotwords=("a", "b"), llm_correct=True)
    assert options_from_dict(options_to_dict(options)) == options
    assert options_from_dict({**options_to_dict(options), "from_a_newer_version": 1}) == options


def test_drained_recording_resumes_on_another_process(tmp_path: Path, worker: ModelWorker) -> None:
    first, second = _process(tmp_path, worker), _process(tmp_path, worker)
    session = _recording(first.registry, 3)
    events = Events([])
    session.attach(events)
    assert first.registry.drain(5.0) == (1, 0)
    assert events.named("error")[0]["code"] == "server_restarting"
    with pytest.raises(SessionError) as refused:
        first.registry.create()
    assert refused.value.code == "server_restarting"

    resumed = Events([])
    result, final = second.resume(session.resume_token, resumed)
    assert final is None and result["state"] == "recording"
    assert result["session_id"] == session.session_id and result["received_bytes"] == 3 * len(PCM_1S)
    taken = second.registry.session_for(session.resume_token)
    assert taken is not None and taken.options == session.options
    taken.feed(PCM_1S)
    taken.stop()
    assert taken.wait_done(10)
    assert resumed.named("final_result")[0]["duration_ms"] == 4000
    assert not [p for p in resumed.named("transcription") if p["current_time_ms"] < 3000], "replay is silent"


def test_a_recording_live_in_another_process_is_not_taken(tmp_path: Path, worker: ModelWorker) -> None:
    first, second = _process(tmp_path, worker), _process(tmp_path, worker)
    session = _recording(first.registry, 1)
    with pytest.raises(SessionError) as info:
        second.resume(session.resume_token, Events([]))
    assert info.value.code == "session_elsewhere"
    session.stop()
    assert session.wait_done(10)
    result, final = second.resume(session.resume_token, Events([]))
    assert result["state"] == "done" and final is not None and final["session_id"] == session.session_id
    assert result["received_bytes"] == samples_to_bytes(SAMPLE_RATE) and result["duration_s"] == 1.0
    with pytest.raises(SessionError) as unknown:
        second.resume("never-issued", Events([]))
    assert unknown.value.code == "invalid_resume_token"


def test_orphans_are_finalised_after_the_grace_time(tmp_path: Path, worker: ModelWorker) -> None:
    first = _process(tmp_path, worker)
    session = _recording(first.registry, 2)
    first.registry.drain(5.0)
    patient = _process(tmp_path, worker, grace_s=3600)
    assert patient.takeover.adopt_orphans() == 0  # its client may still come back
    eager = _process(tmp_path, worker, grace_s=0.001)
    assert eager.takeover.adopt_orphans() == 1
    adopted = eager.registry.session_for(session.resume_token)
    assert adopted is not None and adopted.state in (SessionState.FINALIZING, SessionState.DONE)
    assert adopted.wait_done(10)
    stored = ResultStore(tmp_path / "results", 60).load(session.session_id, session.resume_token)
    assert stored["duration_ms"] == 2000
    assert eager.takeover.adopt_orphans() == 0


def test_a_recording_taken_over_keeps_its_sentences_and_their_indices(
    tmp_path: Path, worker: ModelWorker
) -> None:
    first, second = _process(tmp_path, worker, speaking=True), _process(tmp_path, worker, speaking=True)
    audio = pcm(20.0)
    session = first.registry.create()
    before = Events([])
    first.registry.begin(session, SessionOptions(), before)
    for start in range(0, len(audio) // 2, 3200):
        session.feed(audio[start : start + 3200])
    wait_until(lambda: len(before.named("sentence_final")) >= 3)
    first.registry.drain(5.0)
    pushed = before.named("sentence_final")

    after = Events([])
    result, final = second.resume(session.resume_token, after)  # the audio is replayed silently first
    assert final is None and result["state"] == "recording"
    assert result["sentences"][: len(pushed)] == pushed  # the replay rebuilt the same indices
    taken = second.registry.session_for(session.resume_token)
    assert taken is not None
    for start in range(result["received_bytes"], len(audio), 3200):
        taken.feed(audio[start : start + 3200])
    taken.stop()
    assert taken.wait_done(30)
    [final_result] = after.named("final_result")
    view = SentenceView(result["sentences"]).apply(after.items)  # none of the snapshot sent again
    assert view.timestamps() == final_result["timestamps"] and len(view.timestamps()) == 10
    assert view.finals > 0 and not [p for p in after.named("transcription") if p["current_time_ms"] < 10_000]

    finished, _ = _process(tmp_path, worker).resume(session.resume_token, Events([]))
    assert finished["state"] == "done"  # finished elsewhere: the sentences of the stored result
    assert SentenceView(finished["sentences"]).timestamps() == final_result["timestamps"]
    assert [s["revision"] for s in finished["sentences"]] == [0] * 10
