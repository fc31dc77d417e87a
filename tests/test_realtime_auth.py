"""Socket.IO in-process: API key on connect, sessions for connections made while models loaded."""

from __future__ import annotations

from pathlib import Path

from asr_service.app import create_app
from asr_service.config import Settings
from asr_service.engine import Engine
from asr_service.service import AsrService


def _client(service: AsrService, settings: Settings, **kwargs: object) -> object:
    app, socketio = create_app(settings, service)
    return socketio.test_client(app, **kwargs)


def test_connect_needs_the_api_key_when_configured(service: AsrService, tmp_path: Path) -> None:
    settings = Settings.from_env({"ASR_API_KEY": "k3y", "ASR_DATA_DIR": str(tmp_path)})
    assert not _client(service, settings).is_connected()  # type: ignore[attr-defined]
    assert not _client(service, settings, auth={"api_key": "wrong"}).is_connected()  # type: ignore[attr-defined]
    for kwargs in (
        {"auth": {"api_key": "k3y"}},
        {"headers": {"Authorization": "Bearer k3y"}},
        {"headers": {"X-API-Key": "k3y"}},
        {"query_string": "api_key=k3y"},
    ):
        client = _client(service, settings, **kwargs)
        assert client.is_connected(), kwargs  # type: ignore[attr-defined]
        names = [m["name"] for m in client.get_received()]  # type: ignore[attr-defined]
        assert names == ["connected"]


def test_a_connection_made_while_loading_gets_a_session_later(settings: Settings, engine: Engine) -> None:
    svc = AsrService(settings, lambda: engine)
    app, socketio = create_app(settings, svc)
    client = socketio.test_client(app)
    assert [m["args"][0]["code"] for m in client.get_received()] == ["not_ready"]
    client.emit("start_recording", {})
    assert [m["args"][0]["code"] for m in client.get_received()] == ["not_ready"]
    svc.load()
    client.emit("start_recording", {})
    received = client.get_received()
    assert [m["name"] for m in received] == ["connected", "recording_started"]
    assert received[0]["args"][0]["session_id"] == received[1]["args"][0]["session_id"]
    client.emit("stop_recording")
    client.disconnect()
