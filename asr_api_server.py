"""Entry point: `python asr_api_server.py` runs the dev server; gunicorn imports `app` from here."""

from __future__ import annotations

import logging
import os
import signal
import sys

from asr_service.app import create_app
from asr_service.config import Settings, SettingsError
from asr_service.logs import configure_logging


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"asr: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


settings = _settings()
configure_logging(settings.log_level)
app, socketio = create_app(settings)
service = app.extensions["asr_service"]


def _fatal(exc: BaseException) -> None:
    """Model loading failed: one clear line, then exit, since the service cannot serve without them."""
    print(f"asr: {exc}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(2)  # called from the loader thread: sys.exit would end only that thread


def _shutdown(signum: int, _frame: object) -> None:
    """SIGTERM/SIGINT: finish running recordings (audio and results are written), then exit."""
    logging.getLogger("asr_service").info("signal %d: finishing running recordings, then exiting", signum)
    service.close()
    raise SystemExit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    service.load_in_background(_fatal)
    log = logging.getLogger("asr_service")
    log.info("listening on http://%s:%d (models loading in the background)", settings.host, settings.port)
    socketio.run(app, host=settings.host, port=settings.port, allow_unsafe_werkzeug=True)
