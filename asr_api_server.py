"""Entry point: `python asr_api_server.py` runs the dev server; gunicorn imports `app` from here."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from asr_service.app import create_app
from asr_service.config import Settings, SettingsError
from asr_service.logs import configure_logging
from asr_service.socketio_server import close_all_sockets

# After the hand-off, the `server_restarting` errors may still be on their way through the message
# queue; closing the sockets at once could overtake them.
_FLUSH_EVENTS_S = 1.0


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"asr: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


settings = _settings()
configure_logging(settings.log_level, settings.log_format, settings.log_file)
app, socketio = create_app(settings)
service = app.extensions["asr_service"]
log = logging.getLogger("asr_service")


def start_loading(exit_code: int = 2) -> None:
    """Load the models in the background; if that fails, say why in one line and exit with `exit_code`."""

    def fatal(exc: BaseException) -> None:
        print(f"asr: {exc}", file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(exit_code)  # called from the loader thread: sys.exit would end only that thread

    service.load_in_background(fatal)


def graceful_shutdown() -> None:
    """Refuse new sessions, hand running recordings off for resume, give final passes
    ASR_SHUTDOWN_GRACE_S, then close every socket so its client reconnects (to another process)."""
    log.info("shutting down: handing recordings off, final passes get %.0f s", settings.shutdown_grace_s)
    service.shutdown(settings.shutdown_grace_s)
    time.sleep(_FLUSH_EVENTS_S)
    # without waiting for clients to collect the close: an abandoned polling handshake never would
    close_all_sockets(socketio.server.eio)


def _on_signal(signum: int, _frame: object) -> None:
    """Dev server SIGTERM/SIGINT: shut down gracefully, then exit."""
    log.info("signal %d received", signum)
    graceful_shutdown()
    raise SystemExit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    start_loading()
    log.info("listening on http://%s:%d (models loading in the background)", settings.host, settings.port)
    socketio.run(app, host=settings.host, port=settings.port, allow_unsafe_werkzeug=True)
