"""The Socket.IO and Engine.IO servers, hardened against what any client can send: reserved or
malformed event names, attachment bombs, oversized websocket messages, sockets that never connect,
and floods of bad packets (one bounded, rate-limited log line and one `error` event each)."""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import engineio
import socketio
from engineio.async_drivers import _websocket_wsgi
from engineio.socket import Socket as _EioSocket
from flask import Flask
from flask_socketio import SocketIO
from socketio import packet as sio_packet

from .eio_pings import Pinger
from .logs import LogThrottle
from .transport_guard import TICKET_KEY, SocketGate, Ticket

log = logging.getLogger(__name__)

# audio_data carries one binary; nothing in the protocol (docs/websocket.md) needs more than a few
MAX_ATTACHMENTS = 4
# a connection that keeps sending bad packets after this many is closed
MAX_BAD_PACKETS = 20
_NAME_SHOWN = 40  # characters of a client's event name quoted back in errors and logs
# how long a closed websocket's client has to acknowledge the close before its TCP connection is cut
_CLOSE_GRACE_S = 2.0


class BadPacket(ValueError):
    """A packet the server refuses; `code` goes to the client in the `error` event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class BoundedPacket(sio_packet.Packet):
    """Socket.IO packet whose decoding refuses a binary packet announcing more than
    MAX_ATTACHMENTS attachments, before any attachment is held; decoding errors are BadPacket."""

    def decode(self, encoded_packet: Any) -> int:
        try:
            count = int(super().decode(encoded_packet) or 0)
        except (ValueError, TypeError, RecursionError) as exc:  # json errors are ValueErrors
            raise BadPacket("bad_packet", f"malformed Socket.IO packet ({type(exc).__name__})") from None
        if count > MAX_ATTACHMENTS:
            raise BadPacket(
                "too_many_attachments", f"a packet may carry at most {MAX_ATTACHMENTS} binary attachments"
            )
        return count

    def add_attachment(self, attachment: Any) -> bool:
        try:
            return bool(super().add_attachment(attachment))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise BadPacket("bad_packet", f"malformed binary attachment ({type(exc).__name__})") from None


class _AbortableWebSocket(_websocket_wsgi.SimpleWebSocketWSGI):
    """The threading driver's websocket, known to its Engine.IO socket so that a close can also
    end the TCP connection: a client that ignores the close frame would otherwise keep this
    request's thread blocked in a read for as long as it keeps the connection open."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        owner = getattr(self.app, "__self__", None)  # the engineio Socket whose handler this runs
        if owner is not None:
            owner.asr_transport = self
        try:
            return super().__call__(environ, start_response)
        finally:
            # engineio's service task drops closed sockets one every ping_timeout/len(sockets)
            # seconds: under many short connections thousands of dead ones waited for it
            if owner is not None and owner.closed:
                owner.server.sockets.pop(owner.sid, None)

    def abort(self) -> None:
        """Shut the TCP connection down, waking the thread that reads it (no-op once closed)."""
        sock = getattr(getattr(self, "ws", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class BoundedEngineIO(engineio.Server):
    """Engine.IO server whose websockets refuse a message over max_http_buffer_size while it
    arrives, instead of buffering it whole and checking afterwards, and whose heartbeats share
    one thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pinger = Pinger(self.ping_interval)
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 (untyped in engineio)
        websocket: Callable[..., Any] = _websocket_wsgi.SimpleWebSocketWSGI
        if drivers.get("websocket") is not websocket:  # another async mode: not ours to bound
            return
        bounded = functools.partial(_AbortableWebSocket, max_message_size=self.max_http_buffer_size)
        self._async = {**drivers, "websocket": bounded}  # a copy: the driver's dict is shared

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """engineio's per-socket ping thread becomes an entry on the one Pinger (eio_pings.py)."""
        if getattr(target, "__func__", None) is _EioSocket._send_ping and not args and not kwargs:
            self._pinger.schedule(target.__self__)
            return None  # engineio ignores what schedule_ping's call returns
        return super().start_background_task(target, *args, **kwargs)


class GuardedServer(socketio.Server):
    """socketio.Server that refuses reserved and malformed events and bounds unconnected sockets."""

    def __init__(self, gate: SocketGate, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, serializer=BoundedPacket, **kwargs)
        self._gate = gate
        self._bad: dict[str, int] = {}
        self._bad_lock = threading.Lock()
        self._throttle = LogThrottle()
        self._sweeper_started = False
        self._aborts: list[tuple[float, _AbortableWebSocket]] = []  # (when, transport), under _bad_lock

    def _engineio_server_class(self) -> type:
        return BoundedEngineIO

    def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        ticket = environ.get(TICKET_KEY)
        self._gate.opened(eio_sid, ticket if isinstance(ticket, Ticket) else None)
        self._start_sweeper()
        return super()._handle_eio_connect(eio_sid, environ)

    def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        transport = getattr(self.eio.sockets.get(eio_sid), "asr_transport", None)
        if isinstance(transport, _AbortableWebSocket):  # a clean close ends long before this
            with self._bad_lock:
                self._aborts.append((time.monotonic() + _CLOSE_GRACE_S, transport))
        try:
            super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            self._gate.closed(eio_sid)
            with self._bad_lock:
                self._bad.pop(eio_sid, None)

    def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        super()._handle_connect(eio_sid, namespace, data)
        if self._is_connected(eio_sid, namespace):
            self._gate.connected(eio_sid)

    def _handle_disconnect(self, eio_sid: str, namespace: str | None, reason: Any = None) -> None:
        super()._handle_disconnect(eio_sid, namespace, reason)
        if eio_sid in self.eio.sockets:  # left the namespace but kept the socket: the clock runs again
            self._gate.opened(eio_sid, None)

    def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            super()._handle_eio_message(eio_sid, data)
        except BadPacket as exc:
            self._refuse(eio_sid, exc.code, exc.message)
        except ValueError as exc:  # socketio's own dispatch checks ("Unexpected binary packet", ...)
            self._refuse(eio_sid, "bad_packet", f"unexpected Socket.IO packet: {str(exc)[:80]}")

    def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        if not self._is_connected(eio_sid, namespace):
            raise BadPacket("not_connected", "send the Socket.IO connect (with the API key) before any event")
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise BadPacket("bad_event", "an event is a list whose first item is the event name")
        name = data[0]
        if name in self.reserved_events:
            raise BadPacket("reserved_event", f"{name!r} is reserved and cannot be sent as an event")
        if name not in self.handlers.get(namespace or "/", {}):
            raise BadPacket("unknown_event", f"unknown event {name[:_NAME_SHOWN]!r}")
        super()._handle_event(eio_sid, namespace, id, data)

    def _is_connected(self, eio_sid: str, namespace: str | None) -> bool:
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        return sid is not None and bool(self.manager.is_connected(sid, namespace))

    def _refuse(self, eio_sid: str, code: str, message: str) -> None:
        """One rate-limited log line and, to a connected client, one `error` event; past
        MAX_BAD_PACKETS the connection is closed."""
        self._binary_packet.pop(eio_sid, None)  # never keep half of a refused binary packet
        with self._bad_lock:
            count = self._bad[eio_sid] = self._bad.get(eio_sid, 0) + 1
        write, dropped = self._throttle.allow()
        if write:
            more = f" ({dropped} similar lines dropped)" if dropped else ""
            log.warning("bad packet from socket %s (#%d): %s: %s%s", eio_sid, count, code, message, more)
        if self._is_connected(eio_sid, "/"):
            event = self.packet_class(
                sio_packet.EVENT, namespace="/", data=["error", {"code": code, "message": message}]
            )
            self._send_packet(eio_sid, event)
        if count == MAX_BAD_PACKETS:
            sid = self.manager.sid_from_eio_sid(eio_sid, "/")
            if self._is_connected(eio_sid, "/"):
                self.disconnect(sid, namespace="/")
            close_socket(self.eio, eio_sid)

    def _start_sweeper(self) -> None:
        with self._bad_lock:
            if self._sweeper_started:
                return
            self._sweeper_started = True
        self.start_background_task(self._close_overdue)

    def _close_overdue(self) -> None:
        """Close sockets that did not complete the Socket.IO connect within ASR_CONNECT_TIMEOUT_S."""
        tick = min(1.0, self._gate.limits.connect_timeout_s / 2)
        while True:
            self.sleep(tick)
            now = time.monotonic()
            with self._bad_lock:
                due = [t for when, t in self._aborts if when <= now]
                self._aborts = [(when, t) for when, t in self._aborts if when > now]
            for transport in due:
                transport.abort()
            for eio_sid in self._gate.overdue():
                write, _dropped = self._throttle.allow()
                if write:
                    log.info(
                        "closing socket %s: no Socket.IO connect within %g s",
                        eio_sid,
                        self._gate.limits.connect_timeout_s,
                    )
                close_socket(self.eio, eio_sid)


def close_socket(eio: engineio.Server, eio_sid: str) -> None:
    """Close one Engine.IO socket without waiting for its client to collect the close packet
    (engine.io's disconnect() waits, forever for an abandoned polling client)."""
    sock = eio.sockets.get(eio_sid)
    if sock is None:
        return
    try:
        sock.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
    finally:
        eio.sockets.pop(eio_sid, None)


def close_all_sockets(eio: engineio.Server) -> None:
    """Close every Engine.IO socket without waiting (see close_socket)."""
    for eio_sid in list(eio.sockets):
        close_socket(eio, eio_sid)


class GuardedSocketIO(SocketIO):
    """Flask-SocketIO with a GuardedServer: Flask-SocketIO builds a plain socketio.Server, so it
    is replaced (same options, same handlers) before the first request."""

    def __init__(self, app: Flask, gate: SocketGate, **kwargs: Any) -> None:
        self._gate = gate
        super().__init__(app, **kwargs)

    def init_app(self, app: Flask, **kwargs: Any) -> None:
        super().init_app(app, **kwargs)
        self.server = GuardedServer(self._gate, **self.server_options)
        for event, handler, namespace in self.handlers:
            self.server.on(event, handler, namespace=namespace)
        for namespace_handler in self.namespace_handlers:
            self.server.register_namespace(namespace_handler)
        self.sockio_mw.engineio_app = self.server
