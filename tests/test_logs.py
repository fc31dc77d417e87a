"""Log lines: one line per event, text or JSON, with the session and request ids in scope."""

from __future__ import annotations

import json
import logging
import sys

from asr_service.logs import JsonFormatter, TextFormatter, session_scope, set_request_id


def _record(message: str, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("asr_service.x", logging.ERROR, __file__, 1, message, (), info)


def test_text_lines_carry_the_ids_in_scope_on_the_event_line() -> None:
    formatter = TextFormatter()
    assert "session_id" not in formatter.format(_record("plain"))
    set_request_id("r-1")
    try:
        with session_scope("abc"):
            line = formatter.format(_record("failed", exc=True))
    finally:
        set_request_id(None)
    first, *rest = line.splitlines()
    assert first.endswith("failed session_id=abc request_id=r-1")
    assert any("ValueError: boom" in r for r in rest)
    assert "session_id" not in formatter.format(_record("after the scope"))


def test_json_lines_are_single_objects_with_the_traceback_inside() -> None:
    with session_scope("s-2"):
        line = JsonFormatter().format(_record("会话 failed", exc=True))
    assert "\n" not in line
    body = json.loads(line)
    assert body["msg"] == "会话 failed" and body["session_id"] == "s-2" and body["level"] == "ERROR"
    assert "request_id" not in body and "ValueError: boom" in body["exc"]
