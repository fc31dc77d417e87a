"""Composition root: create_app(settings, service) wires Flask, Socket.IO and the core."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_socketio import SocketIO

from .api import bp, register_error_handlers
from .config import Settings
from .engine import load_engine
from .ops import ops_bp, register_request_ids
from .realtime import register_realtime
from .service import AsrService


def create_app(settings: Settings | None = None, service: AsrService | None = None) -> tuple[Flask, SocketIO]:
    """Build the Flask app and its Socket.IO server around `service` (models load elsewhere)."""
    settings = settings or Settings.from_env()
    service = service or _default_service(settings)
    app = Flask(__name__)
    # Werkzeug rejects a larger body from Content-Length (or while streaming) before reading it.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["asr_service"] = service
    app.extensions["asr_settings"] = settings
    register_request_ids(app)
    app.register_blueprint(bp)
    app.register_blueprint(ops_bp)
    register_error_handlers(app)
    _allow_cors(app, settings.cors_origins)
    origins: str | list[str] = list(settings.cors_origins) if settings.cors_origins else []
    # async_handlers=False: each client's events run in order on its own connection thread, so audio
    # frames reach the session in the order they were sent; handlers only queue work, never block on it.
    socketio = SocketIO(
        app,
        async_mode="threading",
        async_handlers=False,
        cors_allowed_origins=origins or None,
        max_http_buffer_size=max(settings.max_frame_bytes * 4, 1_000_000),
        # several processes: every emit goes through Redis, so any process reaches any client
        message_queue=settings.redis_url,
    )
    register_realtime(socketio, service, settings)
    service.start_janitor()
    return app, socketio


def _default_service(settings: Settings) -> AsrService:
    """The service loading the models named in the settings, sharing its stores with live sessions."""
    svc = AsrService(settings, lambda: load_engine(settings, svc.recordings, svc.results, svc.corrector))
    return svc


def _allow_cors(app: Flask, origins: tuple[str, ...]) -> None:
    """Answer cross-origin REST calls from the configured origins ('*' allows any)."""
    if not origins:
        return

    @app.after_request
    def add_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin and ("*" in origins or origin in origins):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Headers"] = (
                "Authorization, X-API-Key, X-Resume-Token, Content-Type"
            )
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
        return response
