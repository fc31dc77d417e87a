"""Composition root: create_app(settings, service) wires Flask, Socket.IO, the core and its lifecycle."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, request
from flask_socketio import SocketIO

from .api import bp, register_error_handlers
from .config import Settings
from .lifecycle import Lifecycle
from .ops import ops_bp, register_request_ids
from .page import STATIC_DIR
from .page import bp as page_bp
from .realtime import register_realtime
from .service import AsrService
from .socketio_server import GuardedSocketIO, close_all_sockets
from .transport_guard import SocketGate, TransportGuard, TransportLimits


def create_app(settings: Settings | None = None, service: AsrService | None = None) -> tuple[Flask, SocketIO]:
    """Build the Flask app and its Socket.IO server around `service`; starts no thread and loads no
    model: lifecycle_of(app).start does, in the process that serves (see serve.py)."""
    settings = settings or Settings.from_env()
    service = service or AsrService.from_settings(settings)
    # The recorder page's assets are the app's static folder (/static/...), found from the package.
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    # Werkzeug rejects a larger body from Content-Length (or while streaming) before reading it.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["asr_service"] = service
    app.extensions["asr_settings"] = settings
    register_request_ids(app)
    app.register_blueprint(bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(page_bp)
    register_error_handlers(app)
    _allow_cors(app, settings.cors_origins)
    gate = SocketGate(transport_limits(settings))
    # async_handlers=False: each client's events run in order on its own connection thread, so audio
    # frames reach the session in the order they were sent; handlers only queue work, never block on it.
    socketio = GuardedSocketIO(
        app,
        gate,
        async_mode="threading",
        async_handlers=False,
        cors_allowed_origins=_socketio_origins(settings.cors_origins),
        max_http_buffer_size=max(settings.max_frame_bytes * 4, 1_000_000),
        # several processes: every emit goes through Redis, so any process reaches any client
        message_queue=settings.redis_url,
    )
    register_realtime(socketio, service, settings)
    # outermost: counts and bounds connections before Flask or Engine.IO allocate anything for them
    app.wsgi_app = TransportGuard(app.wsgi_app, gate)  # type: ignore[method-assign]
    app.extensions["asr_socket_gate"] = gate
    app.extensions["asr_lifecycle"] = Lifecycle(service, lambda: close_all_sockets(socketio.server.eio))
    return app, socketio


def lifecycle_of(app: Flask) -> Lifecycle:
    """The lifecycle create_app gave `app`: how its process starts and stops."""
    lifecycle: Lifecycle = app.extensions["asr_lifecycle"]
    return lifecycle


def transport_limits(settings: Settings) -> TransportLimits:
    """The guard's bounds from the settings."""
    return TransportLimits(
        max_streams=settings.socket_threads,
        max_unconnected=settings.max_unconnected_sockets,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        min_body_rate=settings.min_body_rate_kbps * 1000,
    )


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


def _socketio_origins(origins: tuple[str, ...]) -> str | Callable[[str, Mapping[str, Any]], bool] | None:
    """Browser origins allowed to open Socket.IO: the service's own (its recorder page) plus the listed."""
    if not origins:
        return None  # python-engineio's default: the service's own origin only
    if "*" in origins:
        return "*"

    def allowed(origin: str, environ: Mapping[str, Any]) -> bool:
        # A list alone would lock out the page at `/`, served from the service's own origin.
        return origin in origins or origin in _own_origins(environ)

    return allowed


def _own_origins(environ: Mapping[str, Any]) -> set[str]:
    """The origin a request was addressed to, directly and as a reverse proxy forwarded it."""
    scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST", "")
    forwarded_scheme = str(environ.get("HTTP_X_FORWARDED_PROTO", scheme)).split(",")[0].strip()
    forwarded_host = str(environ.get("HTTP_X_FORWARDED_HOST", host)).split(",")[0].strip()
    return {f"{scheme}://{host}", f"{forwarded_scheme}://{forwarded_host}"}
