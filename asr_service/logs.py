"""Logging set-up: one line per event (text or JSON) carrying the session and request ids in scope."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import logging.handlers
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_FUNASR_PATH = f"{os.sep}funasr{os.sep}"
_SESSION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("session_id", default=None)
_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Characters a client could use to start a fake line or hide text: C0/C1 controls, DEL, the
# Unicode line and paragraph separators and the bidirectional overrides.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """`text` with every control character written as a visible escape (\\n, \\x1b, \\u2028)."""
    return _UNSAFE.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class LogThrottle:
    """At most `per_window` lines per `window_s`; the next line after a quiet spell says how many
    were dropped. For events any client can trigger at will (malformed packets)."""

    def __init__(self, per_window: int = 20, window_s: float = 10.0) -> None:
        self._per_window, self._window_s = per_window, window_s
        self._lock = threading.Lock()
        self._window_start = -window_s
        self._written = 0
        self._dropped = 0

    def allow(self, now: float | None = None) -> tuple[bool, int]:
        """(whether to write this line, how many lines were dropped before it)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._window_start >= self._window_s:
                self._window_start, self._written = now, 0
            if self._written >= self._per_window:
                self._dropped += 1
                return False, 0
            self._written += 1
            dropped, self._dropped = self._dropped, 0
            return True, dropped


def set_session_id(session_id: str | None) -> None:
    """Tag every later log line of this thread (or context) with `session_id`."""
    _SESSION_ID.set(session_id)


def set_request_id(request_id: str | None) -> None:
    """Tag every later log line of this request's context with `request_id`."""
    _REQUEST_ID.set(request_id)


@contextlib.contextmanager
def session_scope(session_id: str | None) -> Iterator[None]:
    """Tag the log lines written inside the block with `session_id`."""
    token = _SESSION_ID.set(session_id)
    try:
        yield
    finally:
        _SESSION_ID.reset(token)


def _ids(record: logging.LogRecord) -> dict[str, str]:
    """The ids of a record: given with `extra=`, else those in scope where it was logged
    (handlers format in the logging thread, so the context is still the caller's)."""
    found = {}
    for key, var in (("session_id", _SESSION_ID), ("request_id", _REQUEST_ID)):
        value = getattr(record, key, None) or var.get()
        if value:
            found[key] = str(value)
    return found


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message session_id=... request_id=...`, the ids only when known."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        # the message alone: a traceback appended after it keeps its lines
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{key}={value}" for key, value in _ids(record).items()]
        if not ids:
            return line
        head, newline, trace = line.partition("\n")  # keep ids on the event's line, above a traceback
        return f"{head} {' '.join(ids)}{newline}{trace}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback goes into `exc` instead of extra lines."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "msg": escape_controls(record.getMessage()),
        }
        body.update(_ids(record))
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def _not_funasr_chatter(record: logging.LogRecord) -> bool:
    """FunASR warns on the root logger about things that are fine here (e.g. trust_remote_code)."""
    return record.levelno >= logging.ERROR or _FUNASR_PATH not in record.pathname


def _handlers(log_format: str, log_file: Path | None) -> list[logging.Handler]:
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        # Watched: logrotate may move the file away; the next line then opens a fresh one.
        handlers.append(logging.handlers.WatchedFileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(_not_funasr_chatter)
    return handlers


def configure_logging(level: str, log_format: str = "text", log_file: Path | None = None) -> None:
    """One line per event on stderr (and `log_file`); FunASR and ModelScope log INFO on root, so quiet it."""
    root = logging.getLogger()
    root.handlers[:] = _handlers(log_format, log_file)
    root.setLevel(logging.WARNING)
    logging.getLogger("asr_service").setLevel(level)
    for noisy in ("werkzeug", "engineio", "socketio", "modelscope", "modelscope_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
