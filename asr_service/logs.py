"""Logging set-up: our lines at the configured level, third-party chatter at WARNING."""

from __future__ import annotations

import logging
import os
import sys

_FUNASR_PATH = f"{os.sep}funasr{os.sep}"


def _not_funasr_chatter(record: logging.LogRecord) -> bool:
    """FunASR warns on the root logger about things that are fine here (e.g. trust_remote_code)."""
    return record.levelno >= logging.ERROR or _FUNASR_PATH not in record.pathname


def configure_logging(level: str) -> None:
    """One line per event on stderr; FunASR and ModelScope log INFO on the root logger, so keep it quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_not_funasr_chatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("asr_service").setLevel(level)
    for noisy in ("werkzeug", "engineio", "socketio", "modelscope", "modelscope_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
