"""The WSGI transport guard: bounded socket requests and unconnected sockets, request-body deadlines."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.exceptions import RequestTimeout

from asr_service.transport_guard import (
    TICKET_KEY,
    DeadlineInput,
    SocketGate,
    Ticket,
    TransportGuard,
    TransportLimits,
)

LIMITS = TransportLimits(
    max_streams=2, max_unconnected=2, connect_timeout_s=10.0, read_timeout_s=5.0, min_body_rate=1000.0
)


def test_long_lived_requests_are_bounded_and_their_slots_come_back() -> None:
    gate = SocketGate(LIMITS)
    assert gate.enter_stream() and gate.enter_stream() and not gate.enter_stream()
    gate.leave_stream()
    assert gate.enter_stream()
    assert gate.counts()["streams"] == 2


def test_handshakes_and_unconnected_sockets_share_one_bound() -> None:
    gate = SocketGate(LIMITS)
    first, second = gate.admit_handshake(), gate.admit_handshake()
    assert first is not None and second is not None and gate.admit_handshake() is None
    gate.opened("sid-1", first, now=0.0)  # the ticket becomes the socket's place: still 2
    gate.release(first)  # the handshake request ends after its socket claimed the ticket
    assert gate.counts()["unconnected"] == 2 and gate.admit_handshake() is None
    gate.release(second)  # its socket never came: the place is free
    gate.release(second)  # and only once
    assert gate.counts()["unconnected"] == 1
    gate.connected("sid-1")
    assert gate.counts()["unconnected"] == 0


def test_sockets_past_their_connect_deadline_are_handed_over_once() -> None:
    gate = SocketGate(LIMITS)
    gate.opened("early", None, now=0.0)
    gate.opened("late", None, now=5.0)
    gate.opened("done", None, now=0.0)
    gate.closed("done")
    assert gate.overdue(now=9.9) == []
    assert gate.overdue(now=10.0) == ["early"]
    assert gate.overdue(now=100.0) == ["late"] and gate.overdue(now=100.0) == []


def test_a_body_is_read_through_and_counted_against_its_rate_floor() -> None:
    body = DeadlineInput(io.BytesIO(b"line one\nline two\n" + b"x" * 2000), None, LIMITS)
    first = body.deadline()
    assert body.readline() == b"line one\n" and next(iter(body)) == b"line two\n"
    buffer = bytearray(1000)
    assert body.readinto(buffer) == 1000 and body.read() == b"x" * 1000
    # each byte that arrived buys 1/min_body_rate seconds more
    assert body.deadline() - first == pytest.approx(2018 / LIMITS.min_body_rate)


def test_an_expired_body_refuses_further_reads() -> None:
    body = DeadlineInput(io.BytesIO(b"abc"), None, LIMITS)
    assert body.read(1) == b"a"
    body.expire()
    with pytest.raises(RequestTimeout, match="stalled or arrived slower than 1 kB/s"):
        body.read(1)


def test_a_stalled_body_times_out_in_the_read_itself() -> None:
    server, client = socket.socketpair()
    try:
        client.sendall(b"part")
        limits = TransportLimits(2, 2, 10.0, read_timeout_s=0.2, min_body_rate=1.0)
        body = DeadlineInput(server.makefile("rb"), server, limits)
        assert body.read(4) == b"part"
        with pytest.raises(RequestTimeout):  # nothing more arrives
            body.read(4)
    finally:
        server.close()
        client.close()


class _App:
    """A WSGI app recording the environ it saw; optionally failing like a stalled body read."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.environs: list[dict[str, Any]] = []
        self.fail = fail
        self.gate: SocketGate | None = None
        self.counts_inside: dict[str, int] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.environs.append(environ)
        if self.gate is not None:
            self.counts_inside = self.gate.counts()
        if self.fail:
            raise self.fail
        start_response("200 OK", [])
        return [b"ok"]


def _call(guard: TransportGuard, **environ: Any) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(guard(environ, start_response))
    return seen["status"], seen["headers"], body


def _socket_get(query: str = "EIO=4&transport=polling") -> dict[str, Any]:
    return {"PATH_INFO": "/socket.io/", "REQUEST_METHOD": "GET", "QUERY_STRING": query}


def test_a_handshake_holds_a_stream_slot_and_a_ticket_while_it_runs() -> None:
    app, gate = _App(), SocketGate(LIMITS)
    app.gate = gate
    guard = TransportGuard(app, gate)
    assert _call(guard, **_socket_get())[0] == "200 OK"
    assert isinstance(app.environs[0][TICKET_KEY], Ticket)
    assert app.counts_inside == {"streams": 1, "unconnected": 1}
    assert _call(guard, **_socket_get("EIO=4&transport=polling&sid=abc"))[0] == "200 OK"
    assert TICKET_KEY not in app.environs[1]  # a poll of an existing socket needs no ticket
    assert gate.counts() == {"streams": 0, "unconnected": 0}


def test_past_the_bounds_socket_requests_get_busy() -> None:
    gate = SocketGate(LIMITS)
    guard = TransportGuard(_App(), gate)
    assert gate.enter_stream() and gate.enter_stream()
    status, headers, body = _call(guard, **_socket_get())
    assert status.startswith("503") and headers["Retry-After"] == "2"
    assert json.loads(body) == {
        "success": False,
        "code": "busy",
        "error": "the server has no room for another socket; try again shortly",
    }
    gate.leave_stream()
    gate.leave_stream()
    gate.opened("a", None)
    gate.opened("b", None)
    status, _, body = _call(guard, **_socket_get())
    assert status.startswith("503") and "still connecting" in json.loads(body)["error"]
    assert gate.counts()["streams"] == 0


def test_a_request_body_is_read_under_a_deadline_and_a_late_one_is_408() -> None:
    app = _App()
    guard = TransportGuard(app, SocketGate(LIMITS))
    request = {"PATH_INFO": "/api/x", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": "3"}
    _call(guard, **request, **{"wsgi.input": io.BytesIO(b"abc")})
    assert isinstance(app.environs[0]["wsgi.input"], DeadlineInput)
    _call(guard, PATH_INFO="/api/health", REQUEST_METHOD="GET", **{"wsgi.input": io.BytesIO()})
    assert isinstance(app.environs[1]["wsgi.input"], io.BytesIO)  # no body: nothing to guard
    late = TransportGuard(_App(fail=RequestTimeout("too slow")), SocketGate(LIMITS))
    status, _, body = _call(late, **request, **{"wsgi.input": io.BytesIO(b"abc")})
    assert status == "408 Request Timeout" and json.loads(body)["code"] == "request_timeout"
