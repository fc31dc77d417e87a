"""Operator-facing web parts: /readyz, /metrics, request ids, resume tokens and upload progress."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from werkzeug.exceptions import Unauthorized

from asr_service.app import create_app
from asr_service.config import Settings
from asr_service.engine import Engine
from asr_service.errors import BadRequest
from asr_service.handoff import INSTANCE
from asr_service.logs import JsonFormatter
from asr_service.ops import ops_bp, progress_room, register_request_ids, resume_token, upload_progress
from asr_service.results import token_digest
from asr_service.service import AsrService

SESSION = "0123456789abcdef0123456789abcdef"


class FakeService:
    """What ops reads of AsrService: readiness, counts for /metrics, and the token's session."""

    def __init__(self, ready: bool = True, reason: str = "", held: str | None = None) -> None:
        self.ready, self.reason = ready, reason
        self.held = SimpleNamespace(session_id=held) if held else None

    def readiness(self) -> tuple[bool, str]:
        return self.ready, self.reason

    def session_counts(self) -> tuple[int, int]:
        return 3, 1

    def queue_depths(self) -> dict[str, int]:
        return {"offline": 2}

    def engine(self) -> Any:
        return SimpleNamespace(sessions=SimpleNamespace(session_for=lambda _token: self.held))


class FakeSocketIO:
    def __init__(self, fail: bool = False) -> None:
        self.emitted: list[tuple[str, dict[str, Any], str]] = []
        self.fail = fail

    def emit(self, event: str, payload: dict[str, Any], to: str) -> None:
        if self.fail:
            raise ConnectionError("message queue down")
        self.emitted.append((event, payload, to))


def _app(service: FakeService, metrics_on: bool = True) -> Flask:
    app = Flask(__name__)
    app.extensions["asr_service"] = service
    app.extensions["asr_settings"] = SimpleNamespace(metrics=metrics_on)
    app.extensions["socketio"] = FakeSocketIO()
    register_request_ids(app)
    app.register_blueprint(ops_bp)
    return app


def test_readyz_says_ready_or_why_not() -> None:
    with _app(FakeService()).test_client() as c:
        ready = c.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"ready": True, "status": "ready", "reason": "", "instance": INSTANCE}
    with _app(FakeService(ready=False, reason="models are loading")).test_client() as c:
        loading = c.get("/readyz")
    assert loading.status_code == 503
    assert (
        loading.get_json()["status"] == "not_ready" and loading.get_json()["reason"] == "models are loading"
    )


def test_metrics_sample_the_service_or_are_off() -> None:
    with _app(FakeService()).test_client() as c:
        text = c.get("/metrics").get_data(as_text=True)
    assert "asr_sessions_active 3.0" in text and "asr_sessions_parked 1.0" in text
    assert 'asr_queue_depth{worker="offline"} 2.0' in text
    with _app(FakeService(), metrics_on=False).test_client() as c:
        assert c.get("/metrics").status_code == 404


def test_the_resume_token_comes_from_header_query_or_form() -> None:
    app = _app(FakeService())
    with app.test_request_context(
        headers={"X-Resume-Token": "from-header"}, query_string={"resume_token": "q"}
    ):
        assert resume_token() == "from-header"
    with app.test_request_context(query_string={"resume_token": "from-query"}):
        assert resume_token() == "from-query"
    with app.test_request_context(method="POST", data={"resume_token": "from-form"}):
        assert resume_token(form_field=True) == "from-form"
        with pytest.raises(Unauthorized, match="X-Resume-Token or \\?resume_token="):
            resume_token()  # the form is read only where the caller allows it
    with app.test_request_context(), pytest.raises(Unauthorized):
        resume_token(form_field=True)


def _progress_request(app: Flask, session_id: str | None, token: str = "tok", name: str = "a/b.wav") -> Any:
    data = {"file": (io.BytesIO(b"x"), name), "resume_token": token}
    context = app.test_request_context(method="POST", data=data, content_type="multipart/form-data")
    context.push()
    g.request_id = "req-1"
    try:
        return upload_progress(session_id)
    finally:
        context.pop()


def test_upload_progress_goes_to_the_room_of_the_token_only() -> None:
    app = _app(FakeService())
    assert _progress_request(app, None) is None and _progress_request(app, "") is None
    emit = _progress_request(app, SESSION, token="secret-token")
    emit(0.12345, "recognize")
    room = progress_room(token_digest("secret-token"))
    assert room == f"token:{token_digest('secret-token')}"
    payload = {
        "progress": 0.123,
        "stage": "recognize",
        "source": "upload",
        "request_id": "req-1",
        "filename": "b.wav",
    }
    assert app.extensions["socketio"].emitted == [("processing_progress", payload, room)]


def test_upload_progress_refuses_a_bad_id_or_another_sessions_token() -> None:
    with pytest.raises(BadRequest, match="session_id"):
        _progress_request(_app(FakeService()), "../../x")
    with pytest.raises(Unauthorized, match="does not belong"):
        _progress_request(_app(FakeService(held="f" * 32)), SESSION)
    assert _progress_request(_app(FakeService(held=SESSION)), SESSION) is not None


def test_a_failing_progress_emit_does_not_fail_the_upload(caplog: pytest.LogCaptureFixture) -> None:
    app = _app(FakeService())
    app.extensions["socketio"] = FakeSocketIO(fail=True)
    _progress_request(app, SESSION)(0.5, "recognize")
    assert "could not send upload progress" in caplog.text


# ---- through the real app and engine ------------------------------------------------------


@pytest.fixture
def client(settings: Settings, service: AsrService) -> Iterator[FlaskClient]:
    app, _ = create_app(settings, service)
    with app.test_client() as c:
        yield c


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
