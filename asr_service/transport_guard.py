"""WSGI guard in front of everything: bounds long-lived socket requests, unconnected Engine.IO
sockets and the time a request body may take, so no client can starve /api/health and /readyz."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

from werkzeug.exceptions import RequestTimeout

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# environ key under which a socket handshake carries its admission ticket to the Socket.IO server
TICKET_KEY = "asr.handshake_ticket"


@dataclass(frozen=True)
class TransportLimits:
    """The bounds the guard enforces (README "Configuration": ASR_RESERVED_THREADS and friends)."""

    max_streams: int  # concurrent long-lived socket requests (websockets, long-polls)
    max_unconnected: int  # Engine.IO sockets that have not completed the Socket.IO connect
    connect_timeout_s: float  # how long such a socket may stay unconnected
    read_timeout_s: float  # longest wait for the next bytes of a request body
    min_body_rate: float  # bytes per second a body must average after the first read_timeout_s


class Ticket:
    """A handshake's place among the unconnected sockets, until its socket claims or frees it."""

    def __init__(self) -> None:
        self.claimed = False


class SocketGate:
    """Counts long-lived socket requests and unconnected Engine.IO sockets, refusing past the bounds."""

    def __init__(self, limits: TransportLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._streams = 0
        self._tickets = 0  # admitted handshakes whose socket does not exist yet
        self._unconnected: dict[str, float] = {}  # eio sid -> deadline for the Socket.IO connect

    def enter_stream(self) -> bool:
        """Take a slot for a long-lived request; False when all are taken."""
        with self._lock:
            if self._streams >= self.limits.max_streams:
                return False
            self._streams += 1
            return True

    def leave_stream(self) -> None:
        with self._lock:
            self._streams -= 1

    def admit_handshake(self) -> Ticket | None:
        """A ticket for a new Engine.IO socket, or None while too many are unconnected."""
        with self._lock:
            if self._tickets + len(self._unconnected) >= self.limits.max_unconnected:
                return None
            self._tickets += 1
            return Ticket()

    def release(self, ticket: Ticket) -> None:
        """The handshake request ended; a ticket its socket never claimed is freed."""
        with self._lock:
            if not ticket.claimed:
                ticket.claimed = True
                self._tickets -= 1

    def opened(self, eio_sid: str, ticket: Ticket | None, now: float | None = None) -> None:
        """An Engine.IO socket exists: it has connect_timeout_s to complete the Socket.IO connect."""
        deadline = (time.monotonic() if now is None else now) + self.limits.connect_timeout_s
        with self._lock:
            if ticket is not None and not ticket.claimed:
                ticket.claimed = True
                self._tickets -= 1
            self._unconnected[eio_sid] = deadline

    def connected(self, eio_sid: str) -> None:
        """The socket completed the Socket.IO connect (with a valid key): no deadline any more."""
        with self._lock:
            self._unconnected.pop(eio_sid, None)

    closed = connected  # a socket that went away frees its place the same way

    def overdue(self, now: float | None = None) -> list[str]:
        """Sockets past their connect deadline (forgotten here; the caller closes them)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            late = [sid for sid, deadline in self._unconnected.items() if deadline <= now]
            for sid in late:
                del self._unconnected[sid]
        return late

    def counts(self) -> dict[str, int]:
        """Open long-lived requests and unconnected sockets (for tests and diagnostics)."""
        with self._lock:
            return {"streams": self._streams, "unconnected": self._tickets + len(self._unconnected)}


class DeadlineInput:
    """wsgi.input that raises RequestTimeout when the body stalls for read_timeout_s or arrives
    slower than min_body_rate (after a first read_timeout_s of grace). A server's body reader
    may block in one read for many small recv()s, so a watchdog cuts the socket's read side
    when the deadline passes, and the blocked read returns."""

    def __init__(self, inner: IO[bytes], sock: socket.socket | None, limits: TransportLimits) -> None:
        self._inner, self._sock, self._limits = inner, sock, limits
        self._started = time.monotonic()
        self._read = 0
        self.expired = False

    def deadline(self) -> float:
        """When the body is late: the rate floor applied to what arrived so far, after the grace."""
        return self._started + self._limits.read_timeout_s + self._read / self._limits.min_body_rate

    def expire(self) -> None:
        """Past the deadline: end the read side so a read blocked on it returns."""
        self.expired = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RD)

    def _late(self) -> RequestTimeout:
        rate = self._limits.min_body_rate / 1000
        return RequestTimeout(f"the request body stalled or arrived slower than {rate:g} kB/s")

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        budget = min(self._limits.read_timeout_s, self.deadline() - time.monotonic())
        if budget <= 0 or self.expired:
            raise self._late()
        if self._sock is not None:
            self._sock.settimeout(budget)  # a stall with no bytes at all ends in the read itself
        try:
            data = method(*args)
        except TimeoutError:
            if budget < self._limits.read_timeout_s:
                raise self._late() from None
            raise RequestTimeout(f"no request body bytes arrived for {budget:.0f} s") from None
        except (OSError, ValueError):
            if self.expired:  # the watchdog's cut, not the client's
                raise self._late() from None
            raise
        if self.expired:
            raise self._late()
        self._read += len(data) if isinstance(data, (bytes, bytearray)) else int(data or 0)
        return data

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._call(self._inner.read, size)
        return data

    def readline(self, size: int = -1) -> bytes:
        data: bytes = self._call(self._inner.readline, size)
        return data

    def readinto(self, buffer: bytearray) -> int:
        if hasattr(self._inner, "readinto"):
            return int(self._call(self._inner.readinto, buffer))
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __iter__(self) -> DeadlineInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class BodyWatchdog:
    """One thread that expires DeadlineInputs past their deadline (checked every `tick_s`)."""

    def __init__(self, tick_s: float = 0.5) -> None:
        self._tick_s = tick_s
        self._lock = threading.Lock()
        self._watched: set[DeadlineInput] = set()
        self._thread: threading.Thread | None = None

    def watch(self, body: DeadlineInput) -> None:
        with self._lock:
            self._watched.add(body)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="body-watchdog", daemon=True)
                self._thread.start()

    def forget(self, body: DeadlineInput) -> None:
        with self._lock:
            self._watched.discard(body)

    def _run(self) -> None:
        while True:
            time.sleep(self._tick_s)
            now = time.monotonic()
            with self._lock:
                late = [body for body in self._watched if body.deadline() <= now]
                self._watched.difference_update(late)
            for body in late:
                body.expire()


class TransportGuard:
    """The outermost WSGI layer (see the module docstring); `socket_path` is Socket.IO's, '/socket.io/'."""

    def __init__(self, app: WsgiApp, gate: SocketGate, socket_path: str = "/socket.io/") -> None:
        self._app, self._gate, self._socket_path = app, gate, socket_path
        self._watchdog = BodyWatchdog()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO", "").startswith(self._socket_path)
            and environ.get("REQUEST_METHOD") == "GET"
        ):
            return self._long_lived(environ, start_response)
        if not _has_body(environ):
            return self._app(environ, start_response)
        sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
        body = DeadlineInput(environ["wsgi.input"], sock, self._gate.limits)
        environ["wsgi.input"] = body
        self._watchdog.watch(body)
        try:
            return self._app(environ, start_response)
        except RequestTimeout as exc:  # Flask answers its own; this is an Engine.IO polling POST
            log.info(
                "%s %s from %s -> 408: %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                environ.get("REMOTE_ADDR"),
                exc.description,
            )
            return _error(start_response, "408 Request Timeout", "request_timeout", str(exc.description))
        finally:  # the app has read what it wanted by the time it returns
            self._watchdog.forget(body)

    def _long_lived(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """A websocket or long-poll holds its thread for as long as it lasts: bounded, with a place
        for each new handshake among the unconnected sockets."""
        if not self._gate.enter_stream():
            log.warning(
                "refused a socket request from %s: %d long-lived requests open",
                environ.get("REMOTE_ADDR"),
                self._gate.limits.max_streams,
            )
            return _busy(start_response, "the server has no room for another socket; try again shortly")
        ticket: Ticket | None = None
        try:
            if "sid=" not in environ.get("QUERY_STRING", ""):
                ticket = self._gate.admit_handshake()
                if ticket is None:
                    log.warning(
                        "refused a socket handshake from %s: %d sockets have not connected yet",
                        environ.get("REMOTE_ADDR"),
                        self._gate.limits.max_unconnected,
                    )
                    return _busy(start_response, "too many sockets are still connecting; try again shortly")
                environ[TICKET_KEY] = ticket
            # engine.io answers polls and runs websockets inside this call, so the slot ends with it
            return self._app(environ, start_response)
        finally:
            if ticket is not None:
                self._gate.release(ticket)
            self._gate.leave_stream()


def _has_body(environ: dict[str, Any]) -> bool:
    length = str(environ.get("CONTENT_LENGTH") or "0")
    return (length.isdigit() and int(length) > 0) or "chunked" in str(
        environ.get("HTTP_TRANSFER_ENCODING", "")
    )


def _busy(start_response: StartResponse, message: str) -> list[bytes]:
    """503 `busy`; the client should retry with backoff."""
    return _error(start_response, "503 Service Unavailable", "busy", message, [("Retry-After", "2")])


def _error(
    start_response: StartResponse,
    status: str,
    code: str,
    message: str,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    """A response in the service's error shape, written without Flask."""
    body = json.dumps({"success": False, "error": message, "code": code}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *(extra or [])]
    start_response(status, headers)
    return [body]
