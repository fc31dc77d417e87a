"""The composition root: create_app wires routes, Socket.IO and the lifecycle, and starts nothing."""

from __future__ import annotations

import threading

import pytest

from asr_service.app import create_app, lifecycle_of
from asr_service.config import Settings
from asr_service.engine import Engine
from asr_service.service import AsrService


def _never_load() -> Engine:
    raise AssertionError("create_app must not load the models")


def _new_threads(before: set[threading.Thread]) -> list[str]:
    return sorted(t.name for t in set(threading.enumerate()) - before)


def test_create_app_starts_no_thread_and_loads_nothing(settings: Settings) -> None:
    service = AsrService(settings, _never_load)
    before = set(threading.enumerate())
    app, _socketio = create_app(settings, service)
    assert _new_threads(before) == []
    assert not service.ready and service.readiness() == (False, "models are loading")
    assert lifecycle_of(app).service is service
    assert app.extensions["asr_service"] is service and app.extensions["asr_settings"] is settings


def test_create_app_without_a_service_builds_one_from_the_settings(settings: Settings) -> None:
    before = set(threading.enumerate())
    app, _socketio = create_app(settings)
    assert _new_threads(before) == []
    service = lifecycle_of(app).service
    assert isinstance(service, AsrService) and not service.ready
    assert service.stores.recordings.directory == settings.data_dir / "recordings"


@pytest.mark.parametrize(
    "rule",
    [
        "/api/health",
        "/api/asr/models",
        "/api/asr/formats",
        "/api/asr/transcribe",
        "/api/asr/hotwords",
        "/api/asr/hotwords/reload",
        "/api/asr/backup-audio/<recording_id>",
        "/api/asr/sessions/<session_id>/result",
        "/readyz",
        "/metrics",
        "/",
        "/static/<path:filename>",
    ],
)
def test_every_route_is_registered(settings: Settings, rule: str) -> None:
    app, _ = create_app(settings, AsrService(settings, _never_load))
    assert rule in {r.rule for r in app.url_map.iter_rules()}


def test_socketio_is_attached_with_the_recording_protocol(settings: Settings) -> None:
    app, socketio = create_app(settings, AsrService(settings, _never_load))
    assert app.extensions["socketio"] is socketio
    events = set(socketio.server.handlers["/"])
    assert {
        "connect",
        "disconnect",
        "start_recording",
        "audio_data",
        "stop_recording",
        "resume_recording",
    } <= (events)


def test_the_app_answers_while_models_load(settings: Settings) -> None:
    app, _ = create_app(settings, AsrService(settings, _never_load))
    with app.test_client() as client:
        health = client.get("/api/health")
        ready = client.get("/readyz")
    assert health.status_code == 503 and health.get_json()["status"] == "loading"
    assert ready.status_code == 503
