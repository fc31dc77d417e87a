"""Running the service process from the environment: gunicorn's app factory and the dev server."""

from __future__ import annotations

import logging
import sys

from flask import Flask
from flask_socketio import SocketIO

from .app import create_app, lifecycle_of
from .config import Settings, SettingsError
from .logs import configure_logging

log = logging.getLogger("asr_service")


def settings_from_env() -> Settings:
    """The settings, or one line naming the bad variable and exit status 2."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"asr: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def app_from_env() -> Flask:
    """gunicorn's app factory (gunicorn.conf.py): logging and the app from the environment. Starts no
    thread and loads no model; the worker's post_worker_init starts its lifecycle."""
    settings = settings_from_env()
    configure_logging(settings.log_level, settings.log_format, settings.log_file)
    app, _socketio = create_app(settings)
    return app


def run_dev_server() -> None:
    """`python asr_api_server.py`: Werkzeug, models loading in the background, SIGTERM/SIGINT graceful."""
    app = app_from_env()
    settings: Settings = app.extensions["asr_settings"]
    socketio: SocketIO = app.extensions["socketio"]
    lifecycle = lifecycle_of(app)
    lifecycle.handle_signals()
    lifecycle.start(exit_code=2)
    log.info("listening on http://%s:%d (models loading in the background)", settings.host, settings.port)
    socketio.run(app, host=settings.host, port=settings.port, allow_unsafe_werkzeug=True)
