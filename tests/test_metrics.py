"""/metrics, /readyz and request ids through Flask's test client, on the real engine."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from asr_service import metrics
from asr_service.app import create_app
from asr_service.audio_units import PCM_BYTES_PER_S, ms_to_samples, samples_to_bytes
from asr_service.config import Settings
from asr_service.engine import Engine
from asr_service.live_types import SessionOptions
from asr_service.service import AsrService

FRAME = 3200


@pytest.fixture
def client(settings: Settings, service: AsrService) -> Iterator[FlaskClient]:
    app, _ = create_app(settings, service)
    with app.test_client() as c:
        yield c


def _samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict, name: str, **labels: str) -> float:
    return float(samples.get((name, tuple(sorted(labels.items()))), 0.0))


def test_an_upload_moves_the_upload_metrics(client: FlaskClient, speech_wav: Path) -> None:
    before = _samples(client)
    data = speech_wav.read_bytes()
    response = client.post(
        "/api/asr/transcribe", data={"file": (io.BytesIO(data), "s.wav")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    bad = client.post(
        "/api/asr/transcribe",
        data={"file": (io.BytesIO(b"not audio" * 50), "x.wav")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 415
    after = _samples(client)
    seconds = response.get_json()["data"]["duration_ms"] / 1000
    assert _value(after, "asr_audio_seconds_total", stage="upload") - _value(
        before, "asr_audio_seconds_total", stage="upload"
    ) == pytest.approx(seconds)
    assert _value(after, "asr_upload_bytes_count") - _value(before, "asr_upload_bytes_count") == 2
    assert _value(after, "asr_upload_bytes_sum") - _value(before, "asr_upload_bytes_sum") == len(data) + 450
    for stage in ("upload_decode", "upload_recognize"):
        assert _value(after, "asr_stage_latency_seconds_count", stage=stage) > _value(
            before, "asr_stage_latency_seconds_count", stage=stage
        )
    assert (
        _value(after, "asr_decode_failures_total", code="unsupported_media")
        == _value(before, "asr_decode_failures_total", code="unsupported_media") + 1
    )
    assert _value(after, "asr_queue_wait_seconds_count", worker="offline", priority="background") > _value(
        before, "asr_queue_wait_seconds_count", worker="offline", priority="background"
    )


def test_a_live_recording_moves_the_session_metrics(
    client: FlaskClient, engine: Engine, speech_wav: Path
) -> None:
    import soundfile as sf

    before = _samples(client)
    pcm = sf.read(speech_wav, dtype="int16")[0].tobytes()
    session = engine.sessions.create()
    engine.sessions.begin(session, SessionOptions(), lambda _e: None)
    assert _value(_samples(client), "asr_sessions_active") == _value(before, "asr_sessions_active") + 1
    for start in range(0, len(pcm), FRAME):
        session.feed(pcm[start : start + FRAME])
    session.stop()
    assert session.wait_done(120)
    engine.sessions.forget(session)
    after = _samples(client)
    live = _value(after, "asr_audio_seconds_total", stage="live") - _value(
        before, "asr_audio_seconds_total", stage="live"
    )
    assert live == pytest.approx(len(pcm) / PCM_BYTES_PER_S, abs=0.001)
    chunks = _value(after, "asr_stage_latency_seconds_count", stage="first_pass_chunk") - _value(
        before, "asr_stage_latency_seconds_count", stage="first_pass_chunk"
    )
    chunk_bytes = samples_to_bytes(ms_to_samples(600))
    assert chunks == len(pcm) // chunk_bytes + 1  # every 600 ms chunk plus the final flush
    assert (
        _value(after, "asr_stage_latency_seconds_count", stage="final")
        == _value(before, "asr_stage_latency_seconds_count", stage="final") + 1
    )
    for stage in ("second_pass", "sentence_final"):  # segment closed to its sentence_final sent
        assert _value(after, "asr_stage_latency_seconds_count", stage=stage) > _value(
            before, "asr_stage_latency_seconds_count", stage=stage
        )
    for event in ("started", "finished"):
        assert (
            _value(after, "asr_session_events_total", event=event)
            == _value(before, "asr_session_events_total", event=event) + 1
        )


def test_no_metric_is_labelled_by_session(client: FlaskClient) -> None:
    labels = {name for (_, pairs) in _samples(client) for name, _ in pairs}
    assert labels <= {"stage", "worker", "priority", "outcome", "reason", "code", "event", "le"}


def _registry_value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_llm_calls_are_counted_for_the_llm_client() -> None:
    names = ("asr_llm_calls_total", "asr_llm_failures_total", "asr_llm_latency_seconds_count")
    ok, error, timeout, calls = (
        _registry_value(names[0], outcome="ok"),
        _registry_value(names[0], outcome="error"),
        _registry_value(names[1], reason="timeout"),
        _registry_value(names[2]),
    )
    metrics.record_llm_call(0.2)
    metrics.record_llm_call(5.0, failure="timeout")
    assert _registry_value(names[0], outcome="ok") == ok + 1
    assert _registry_value(names[0], outcome="error") == error + 1
    assert _registry_value(names[1], reason="timeout") == timeout + 1
    assert _registry_value(names[2]) == calls + 2
