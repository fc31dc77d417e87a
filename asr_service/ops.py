"""Operator-facing web parts: /readyz, /metrics, request ids, and upload progress to a socket."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from . import metrics
from .errors import BadRequest
from .handoff import INSTANCE
from .logs import set_request_id
from .pipeline import ProgressFn
from .retention import checked_id
from .service import AsrService

log = logging.getLogger(__name__)
ops_bp = Blueprint("asr_ops", __name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# polled by load balancers and Prometheus every few seconds: one line each would drown the log
_QUIET_PATHS = ("/readyz", "/metrics", "/api/health")


def _service() -> AsrService:
    svc: AsrService = current_app.extensions["asr_service"]
    return svc


@ops_bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness for load balancers: 200 once models are loaded and warmed, 503 while loading or draining."""
    ready, reason = _service().readiness()
    status = "ready" if ready else "not_ready"
    body = {"ready": ready, "status": status, "reason": reason, "instance": INSTANCE}
    return jsonify(body), 200 if ready else 503


@ops_bp.get("/metrics")
def metrics_endpoint() -> Response:
    """Prometheus exposition of this process (404 when ASR_METRICS=0)."""
    if not current_app.extensions["asr_settings"].metrics:
        return Response(status=404)
    svc = _service()
    return Response(metrics.render(svc.session_counts, svc.queue_depths()), mimetype=metrics.CONTENT_TYPE)


def register_request_ids(app: Flask) -> None:
    """Give every request an id (X-Request-ID if the caller sent a sane one), log it, echo it back."""

    @app.before_request
    def assign() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.monotonic()
        set_request_id(g.request_id)

    @app.after_request
    def echo(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if request.path not in _QUIET_PATHS:
            elapsed_ms = (time.monotonic() - g.get("request_started", time.monotonic())) * 1000
            log.info("%s %s -> %d in %.0f ms", request.method, request.path, response.status_code, elapsed_ms)
        return response

    @app.teardown_request
    def forget(_exc: BaseException | None) -> None:
        set_request_id(None)  # gthread reuses threads: the next request must not inherit this id


def upload_progress(session_id: str | None) -> ProgressFn | None:
    """A progress callback that emits `processing_progress` to the socket whose session is
    `session_id`, on whichever process holds it (through the message queue when there is one)."""
    if not session_id:
        return None
    try:
        room = checked_id(session_id)
    except KeyError:
        raise BadRequest("field 'session_id' must be the session_id from the `connected` event") from None
    socketio = current_app.extensions["socketio"]
    details = {"source": "upload", "request_id": g.get("request_id"), "filename": _filename()}

    def emit(fraction: float, stage: str) -> None:
        try:
            payload = {"progress": round(fraction, 3), "stage": stage, **details}
            socketio.emit("processing_progress", payload, to=room)
        except Exception:  # progress is a courtesy: the upload's own answer must not depend on it
            log.warning("could not send upload progress to session %s", room, exc_info=True)

    return emit


def _filename() -> str | None:
    upload = request.files.get("file")
    return upload.filename if upload is not None else None
