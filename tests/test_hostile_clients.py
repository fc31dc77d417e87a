"""Hostile and unlucky clients against gunicorn with the shipped gunicorn.conf.py (and the dev
server for SIGTERM): raw Engine.IO sockets that never connect, stalled and trickling bodies,
oversized websocket messages, attachment bombs, floods of bad packets. Each is bounded, and
/api/health and /readyz keep answering throughout."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket

from .conftest import Gunicorn, start_gunicorn, start_server, stop_process, stop_server, wait_until

pytestmark = pytest.mark.live
KEY = "hostile-test-key"
THREADS, RESERVED, UNCONNECTED = 16, 4, 4
CONNECT_TIMEOUT_S = 3


def _answers(url: str, path: str) -> bool:
    try:
        return requests.get(f"{url}{path}", timeout=10).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def server(model_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    work = tmp_path_factory.mktemp("hostile")
    env = {
        **model_env,
        "ASR_DATA_DIR": str(work / "data"),
        "ASR_API_KEY": KEY,
        "ASR_HTTP_THREADS": str(THREADS),
        "ASR_RESERVED_THREADS": str(RESERVED),
        "ASR_MAX_UNCONNECTED_SOCKETS": str(UNCONNECTED),
        "ASR_CONNECT_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
        "ASR_READ_TIMEOUT_S": "2",
    }
    server = start_gunicorn(env, work / "gunicorn.log")
    try:
        wait_until(server.ready, "readiness", log=server.log)
        yield server
    finally:
        stop_process(server.process, signal.SIGKILL)


def _raw(url: str) -> websocket.WebSocket:
    """An Engine.IO websocket after its open packet, before any Socket.IO connect."""
    address = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(address, timeout=20)
    opening = ws.recv()
    assert isinstance(opening, str) and opening.startswith("0"), opening
    return ws


def _connected(url: str) -> websocket.WebSocket:
    """An Engine.IO websocket that completed the Socket.IO connect with the key."""
    ws = _raw(url)
    ws.send("40" + json.dumps({"api_key": KEY}))
    assert _next_event(ws)[0] == "connected"
    return ws


def _next_event(ws: websocket.WebSocket) -> list[object]:
    """The next Socket.IO event (name, args...), answering pings and skipping other packets."""
    while True:
        message = ws.recv()
        if message == "2":
            ws.send("3")
        elif isinstance(message, str) and message.startswith("42"):
            event: list[object] = json.loads(message[2:])
            return event
        elif message in ("", "1"):
            raise AssertionError("the server closed the socket")


def _closed_by_server(ws: websocket.WebSocket) -> bool:
    """Read until the server closes the socket (True) or ws's timeout passes (False)."""
    try:
        while True:
            message = ws.recv()
            if message in ("", "1"):
                return True
    except websocket.WebSocketConnectionClosedException:
        return True
    except (websocket.WebSocketTimeoutException, TimeoutError):
        return False
    except OSError:
        return True


def _refused_status(url: str) -> int | None:
    """The HTTP status that refused a new socket, or None if it was accepted (and closed again)."""
    try:
        _raw(url).close()
    except websocket.WebSocketBadStatusException as exc:
        return int(exc.status_code)
    return None


def test_unconnected_sockets_cannot_starve_health(server: Gunicorn) -> None:
    held = [_raw(server.url) for _ in range(UNCONNECTED)]
    assert [_refused_status(server.url) for _ in range(THREADS)] == [503] * THREADS
    assert _answers(server.url, "/api/health") and _answers(server.url, "/readyz")
    for ws in held:  # the connect deadline closes them
        ws.settimeout(CONNECT_TIMEOUT_S + 30)
        assert _closed_by_server(ws)
    # these clients ignore the close and keep their TCP connections: the server cuts them, so
    # every socket thread is free again
    wait_until(lambda: _can_open(server.url, THREADS - RESERVED), "all socket threads free again", 30)


def _can_open(url: str, count: int) -> bool:
    """Whether `count` connected sockets can be open at once (closed again before returning)."""
    opened: list[websocket.WebSocket] = []
    try:
        for _ in range(count):
            opened.append(_connected(url))
        return True
    except websocket.WebSocketBadStatusException:
        return False
    finally:
        for ws in opened:
            ws.close()


def test_connected_sockets_leave_threads_for_health(server: Gunicorn) -> None:
    held = [_connected(server.url) for _ in range(THREADS - RESERVED)]
    try:
        assert _refused_status(server.url) == 503
        assert _answers(server.url, "/api/health") and _answers(server.url, "/readyz")
    finally:
        for ws in held:
            ws.close()
    wait_until(lambda: _can_open(server.url, THREADS - RESERVED), "all socket threads free again", 30)


def _http_head(length: int) -> bytes:
    return (
        "POST /api/asr/transcribe HTTP/1.1\r\nHost: x\r\n"
        f"X-API-Key: {KEY}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _response(sock: socket.socket) -> tuple[str, dict[str, object]]:
    """The status line and JSON body of the answer on a raw connection (waiting at most 60 s)."""
    sock.settimeout(60)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096) or b"\r\n\r\n"  # a close before the headers ended: nothing more
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:")), 0)
    while len(body) < length and (chunk := sock.recv(4096)):
        body += chunk
    return lines[0], json.loads(body) if length else {}


def test_a_body_that_stops_arriving_gets_408(server: Gunicorn) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_http_head(150 * 1024 * 1024) + b"--b\r\n" + b"x" * 1024)
        assert _answers(server.url, "/api/health")
        status, body = _response(sock)
        assert " 408 " in status and body["code"] == "request_timeout", (status, body)


def test_a_trickling_body_gets_408(server: Gunicorn) -> None:
    stop = threading.Event()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_http_head(10 * 1024 * 1024))

        def trickle() -> None:
            while not stop.wait(0.3):
                try:
                    sock.send(b"x")
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        try:
            status, body = _response(sock)
            assert " 408 " in status and body["code"] == "request_timeout", (status, body)
        finally:
            stop.set()


def test_an_oversized_websocket_message_is_refused_while_it_arrives(server: Gunicorn) -> None:
    ws = _connected(server.url)
    before = server.worker_rss_mb()
    size = 200 * 1024 * 1024
    # one text frame announcing 200 MB, masked with a zero key so the payload goes out as is
    header = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big") + b"\x00\x00\x00\x00"
    chunk = b"4" * (1024 * 1024)
    sent = 0
    raw = ws.sock
    assert raw is not None
    try:
        raw.sendall(header)
        while sent < size:
            raw.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # the server closed the connection mid-message
    grown = server.worker_rss_mb() - before
    print(f"\n200 MB websocket message: refused after {sent / 1e6:.0f} MB sent, worker RSS +{grown:.1f} MB")
    assert sent < size
    assert grown < 50
    assert _answers(server.url, "/api/health")


def test_an_attachment_bomb_is_refused_before_attachments_are_held(server: Gunicorn) -> None:
    ws = _connected(server.url)
    ws.send('45100000-["audio_data",{"_placeholder":true,"num":0}]')
    event = _next_event(ws)
    assert event[0] == "error" and event[1]["code"] == "too_many_attachments"  # type: ignore[index]
    ws.send_binary(b"\x00" * 1024)  # an attachment nobody announced: refused, not held
    event = _next_event(ws)
    assert event[0] == "error" and event[1]["code"] == "bad_packet"  # type: ignore[index]
    ws.close()


def test_reserved_event_names_are_refused(server: Gunicorn) -> None:
    ws = _connected(server.url)
    for name in ("connect", "disconnect"):
        ws.send("42" + json.dumps([name, {}]))
        event = _next_event(ws)
        assert event[0] == "error" and event[1]["code"] == "reserved_event"  # type: ignore[index]
    ws.close()


def test_a_flood_of_bad_packets_writes_a_bounded_log(server: Gunicorn) -> None:
    before = server.log_path.stat().st_size
    sent = 0
    while sent < 1000:
        try:
            ws = _raw(server.url)
        except websocket.WebSocketBadStatusException:  # too many unconnected at once: wait a moment
            time.sleep(0.2)
            continue
        try:
            for _ in range(25):
                ws.send('42["start_recording", {"language": "\\n2026-12-02 FAKE LINE"}]')
                ws.send("4" + "2[" * 50)
                sent += 2
        except (OSError, websocket.WebSocketException):
            pass  # closed after too many bad packets
        ws.close()
    written = server.log()[before:]
    print(f"\n{sent} bad packets: {len(written.encode())} log bytes")
    assert len(written.encode()) < 20_000
    assert "Traceback" not in written
    assert not any(line.startswith("2026-12-02 FAKE") for line in written.splitlines())


def test_dev_server_stops_on_sigterm_with_an_abandoned_polling_handshake(
    model_env: dict[str, str], tmp_path: Path
) -> None:
    server = start_server(model_env, tmp_path)
    try:
        handshake = requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=10)
        assert handshake.status_code == 200  # and the client never polls again
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=90)
        assert server.process.returncode == 0, server.log()
    finally:
        stop_server(server)
