"""/metrics, /readyz and request ids through Flask's test client, on the real engine."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from asr_service import metrics
from asr_service.app import create_app
from asr_service.config import Settings
from asr_service.engine import Engine
from asr_service.logs import JsonFormatter
from asr_service.service import AsrService
from asr_service.streaming import SessionOptions

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
    engine.sessions.begin(session, SessionOptions(), lambda _e, _p: None)
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
    assert live == pytest.approx(len(pcm) / 32000, abs=0.001)
    chunks = _value(after, "asr_stage_latency_seconds_count", stage="first_pass_chunk") - _value(
        before, "asr_stage_latency_seconds_count", stage="first_pass_chunk"
    )
    assert chunks == len(pcm) // (2 * 9600) + 1  # every 600 ms chunk plus the final flush
    assert (
        _value(after, "asr_stage_latency_seconds_count", stage="final")
        == _value(before, "asr_stage_latency_seconds_count", stage="final") + 1
    )
    assert _value(after, "asr_stage_latency_seconds_count", stage="second_pass") > _value(
        before, "asr_stage_latency_seconds_count", stage="second_pass"
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


def test_metrics_can_be_switched_off(service: AsrService, tmp_path: Path) -> None:
    settings = Settings.from_env({"ASR_METRICS": "0", "ASR_DATA_DIR": str(tmp_path)})
    app, _ = create_app(settings, service)
    with app.test_client() as c:
        assert c.get("/metrics").status_code == 404


def test_readyz_follows_loading_and_shutdown(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    own = Settings.from_env({"ASR_DATA_DIR": str(tmp_path)})
    svc = AsrService(own, lambda: engine)
    app, _ = create_app(own, svc)
    with app.test_client() as c:
        loading = c.get("/readyz")
        assert loading.status_code == 503 and loading.get_json()["ready"] is False
        svc.load()
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.get_json()["instance"]
        svc._draining = True  # what shutdown() sets first; a real drain would close the shared engine
        draining = c.get("/readyz")
        assert draining.status_code == 503 and "shutting down" in draining.get_json()["reason"]
        upload = c.post(
            "/api/asr/transcribe",
            data={"file": (io.BytesIO(b"RIFF"), "a.wav")},
            content_type="multipart/form-data",
        )
        assert upload.status_code == 503 and upload.get_json()["code"] == "not_ready"


def test_request_ids_are_echoed_generated_and_logged(client: FlaskClient) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("asr_service")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        given = client.get("/api/asr/formats", headers={"X-Request-ID": "req-7.a:b"})
        made = client.get("/api/asr/formats", headers={"X-Request-ID": "bad id\twith a tab"})
        after = client.get("/api/asr/formats")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert given.headers["X-Request-ID"] == "req-7.a:b"
    generated = made.headers["X-Request-ID"]
    assert len(generated) == 32 and generated != after.headers["X-Request-ID"]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    requests_logged = [line for line in lines if line["msg"].startswith("GET /api/asr/formats -> 200")]
    assert [line["request_id"] for line in requests_logged] == [
        "req-7.a:b",
        generated,
        after.headers["X-Request-ID"],
    ]


def test_upload_progress_needs_a_well_formed_session_id(client: FlaskClient, speech_wav: Path) -> None:
    response = client.post(
        "/api/asr/transcribe",
        data={"file": (io.BytesIO(speech_wav.read_bytes()), "s.wav"), "session_id": "../../x"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "session_id" in response.get_json()["error"]
