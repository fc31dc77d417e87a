"""Operator-facing web parts: /readyz, /metrics, request ids, and upload progress to a socket."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import Unauthorized

from . import metrics
from .errors import BadRequest
from .filenames import display_name
from .handoff import INSTANCE
from .logs import set_request_id
from .pipeline import ProgressFn
from .results import token_digest
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


def resume_token(form_field: bool = False) -> str:
    """The resume token a request carries: X-Resume-Token, ?resume_token= (or the form field); else 401."""
    token = request.headers.get("X-Resume-Token") or request.args.get("resume_token") or ""
    if not token and form_field:
        token = request.form.get("resume_token") or ""
    if not token:
        ways = ["X-Resume-Token", "?resume_token="] + (["the form field resume_token"] if form_field else [])
        raise Unauthorized(f"send the session's resume token as {', '.join(ways[:-1])} or {ways[-1]}")
    return token


def progress_room(token_sha256: str) -> str:
    """The Socket.IO room of the connection holding the token with this digest (realtime joins it)."""
    return f"token:{token_sha256}"


def upload_progress(session_id: str | None) -> ProgressFn | None:
    """A progress callback that emits `processing_progress` to the socket holding the resume token
    the upload carries, on whichever process holds it (through the message queue when there is one).

    Only the holder of a session's token receives progress: knowing its session_id is not enough.
    """
    if not session_id:
        return None
    try:
        checked_id(session_id)
    except KeyError:
        raise BadRequest("field 'session_id' must be the session_id from the `connected` event") from None
    token = resume_token(form_field=True)
    _check_pair(session_id, token)
    room = progress_room(token_digest(token))
    socketio = current_app.extensions["socketio"]
    details = {"source": "upload", "request_id": g.get("request_id"), "filename": _filename()}

    def emit(fraction: float, stage: str) -> None:
        try:
            payload = {"progress": round(fraction, 3), "stage": stage, **details}
            socketio.emit("processing_progress", payload, to=room)
        except Exception:  # progress is a courtesy: the upload's own answer must not depend on it
            log.warning("could not send upload progress to session %s", room, exc_info=True)

    return emit


def _check_pair(session_id: str, token: str) -> None:
    """401 when this process holds the token's session and it is another one (a client mix-up)."""
    svc = _service()
    held = svc.engine().sessions.session_for(token) if svc.ready else None
    if held is not None and held.session_id != session_id:
        raise Unauthorized("the resume token does not belong to this session_id")


def _filename() -> str | None:
    upload = request.files.get("file")
    return display_name(upload.filename) if upload is not None and upload.filename else None
