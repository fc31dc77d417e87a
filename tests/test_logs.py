"""Log lines: one line per event, text or JSON, with the session and request ids in scope."""

from __future__ import annotations

import json
import logging
import sys

from asr_service.logs import JsonFormatter, LogThrottle, TextFormatter, session_scope, set_request_id


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


def test_client_strings_cannot_forge_lines_in_either_format() -> None:
    # an RFC 5987 filename* decoded to a newline, an ANSI escape, a Unicode line separator
    name = "a.wav\n2026-12-02 10:00:00,000 INFO asr_service.api: POST ok\x1b[2J\u2028\u202e"
    record = logging.LogRecord(
        "asr_service.api", logging.INFO, __file__, 1, "upload %s failed", (name,), None
    )
    text = TextFormatter().format(record)
    assert "\n" not in text and "\x1b" not in text and "\u2028" not in text and "\u202e" not in text
    assert text.endswith(
        "upload a.wav\\n2026-12-02 10:00:00,000 INFO asr_service.api: POST ok\\x1b[2J\\u2028\\u202e failed"
    )
    body = json.loads(JsonFormatter().format(record))
    assert body["msg"] == text.split(": ", 1)[1]


def test_a_traceback_keeps_its_lines_and_the_message_stays_escaped() -> None:
    lines = TextFormatter().format(_record("bad\nname", exc=True)).splitlines()
    assert lines[0].endswith("bad\\nname") and lines[-1] == "ValueError: boom"


def test_log_throttle_writes_a_bounded_number_and_counts_the_rest() -> None:
    throttle = LogThrottle(per_window=3, window_s=10.0)
    assert [throttle.allow(now=t)[0] for t in (0, 1, 2, 3, 4)] == [True, True, True, False, False]
    assert throttle.allow(now=10.5) == (True, 2)
    assert throttle.allow(now=11) == (True, 0)
