"""Socket.IO in-process against hostile packets: reserved and malformed events, attachment bombs,
bad options, resume floods. Each gets an `error` event and leaves nothing behind. Then the module's
parts on their own: packet decoding bounds, heartbeats on the one Pinger, closing without waiting."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from engineio.socket import Socket as EioSocket

from asr_service.app import create_app
from asr_service.config import Settings
from asr_service.service import AsrService
from asr_service.socketio_server import (
    MAX_ATTACHMENTS,
    MAX_BAD_PACKETS,
    BadPacket,
    BoundedEngineIO,
    BoundedPacket,
    close_all_sockets,
    close_socket,
)


@pytest.fixture
def app_io(service: AsrService, settings: Settings) -> tuple[Any, Any]:
    return create_app(settings, service)


def _codes(client: Any) -> list[str]:
    """The codes of the `error` events received since the last call (also after a disconnect)."""
    received, client.queue = client.queue, []
    return [m["args"][0]["code"] for m in received if m["name"] == "error"]


def _raw(socketio: Any, client: Any, data: str | bytes) -> None:
    """Deliver one Engine.IO message as the client's transport would."""
    socketio.server._handle_eio_message(client.eio_sid, data)


def test_reserved_event_names_are_refused_and_leave_no_session(
    app_io: tuple[Any, Any], service: AsrService
) -> None:
    app, socketio = app_io
    client = socketio.test_client(app)
    connected = client.get_received()[0]["args"][0]
    registry = service.engine().sessions
    before = registry.held
    for name in ("connect", "disconnect") * 10:
        if client.is_connected():
            client.emit(name, {})
    assert _codes(client) == ["reserved_event"] * MAX_BAD_PACKETS  # then the connection is closed
    assert registry.held == before - 1  # the connection's own session went with it
    assert registry.session_for(connected["resume_token"]) is None  # released with its connection
    assert not client.is_connected()


def test_malformed_packets_get_one_error_each_and_no_traceback(
    app_io: tuple[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app, socketio = app_io
    client = socketio.test_client(app)
    client.get_received()
    # Socket.IO packets as Engine.IO delivers them (type digit first, 2 = EVENT)
    bad = ['2{"a":1}', "2", "2[]", "2[123]", '2["nope"]', "4", '2["start_recording"', "9"]
    caplog.set_level(logging.INFO)
    for data in bad:
        _raw(socketio, client, data)
    codes = _codes(client)
    assert codes == ["bad_event", "bad_event", "bad_event", "bad_event", "unknown_event"] + ["bad_packet"] * 3
    assert not any(r.exc_info for r in caplog.records)
    refused = [r for r in caplog.records if "bad packet" in r.getMessage()]
    assert len(refused) == len(bad) and all("\n" not in r.getMessage() for r in refused)
    assert client.is_connected()


def test_bad_packets_past_the_bound_close_the_connection(app_io: tuple[Any, Any]) -> None:
    app, socketio = app_io
    client = socketio.test_client(app)
    client.get_received()
    for _ in range(MAX_BAD_PACKETS + 5):
        _raw(socketio, client, "2[]")  # the test client's transport stays: the server must stop answering
    assert _codes(client) == ["bad_event"] * MAX_BAD_PACKETS
    assert not client.is_connected()


def test_a_packet_announcing_too_many_attachments_is_refused_before_any_arrives(
    app_io: tuple[Any, Any],
) -> None:
    app, socketio = app_io
    client = socketio.test_client(app)
    client.get_received()
    _raw(socketio, client, '5100000-["audio_data",{"_placeholder":true,"num":0}]')
    assert _codes(client) == ["too_many_attachments"]
    assert client.eio_sid not in socketio.server._binary_packet
    for _ in range(3):
        _raw(socketio, client, b"\x00" * 10)  # attachments with no packet: refused, not held
    assert _codes(client) == ["bad_packet"] * 3
    _raw(socketio, client, f'5{MAX_ATTACHMENTS}-["audio_data",{{"_placeholder":true,"num":9}}]')
    for _ in range(MAX_ATTACHMENTS):
        _raw(socketio, client, b"\x00\x00")
    assert _codes(client) == ["bad_packet"]  # the placeholder points past the attachments
    assert client.is_connected()


@pytest.mark.parametrize(
    "options",
    [
        {"language": 123},
        {"language": ["zh"]},
        {"hotwords": {"a": 1}},
        {"use_itn": "yes"},
        {"word_timestamps": 1},
        "zh",
        5,
    ],
)
def test_bad_start_options_get_an_error(app_io: tuple[Any, Any], options: object) -> None:
    app, socketio = app_io
    client = socketio.test_client(app)
    client.get_received()
    client.emit("start_recording", options)
    assert _codes(client) == ["bad_options"]


def test_deeply_nested_options_get_an_error(app_io: tuple[Any, Any]) -> None:
    app, socketio = app_io
    client = socketio.test_client(app)
    client.get_received()
    nested = '{"a":' * 1000 + "1" + "}" * 1000
    _raw(socketio, client, f'2["start_recording",{nested}]')
    assert _codes(client) in (["bad_packet"], ["bad_options"])
    assert client.is_connected()


def test_resume_attempts_are_throttled_per_connection(service: AsrService, tmp_path: Path) -> None:
    settings = Settings.from_env({"ASR_DATA_DIR": str(tmp_path), "ASR_RESUME_PER_MIN": "3"})
    app, socketio = create_app(settings, service)
    client = socketio.test_client(app)
    client.get_received()
    for _ in range(6):
        client.emit("resume_recording", {"resume_token": "guess"})
    assert _codes(client) == ["invalid_resume_token"] * 3 + ["too_many_requests"] * 3


# ---- the parts on their own ---------------------------------------------------------------


def test_a_packet_may_announce_up_to_max_attachments() -> None:
    placeholder = '{"_placeholder":true,"num":0}'
    assert BoundedPacket().decode(f'5{MAX_ATTACHMENTS}-["audio_data",{placeholder}]') == MAX_ATTACHMENTS
    with pytest.raises(BadPacket) as caught:
        BoundedPacket().decode(f'5{MAX_ATTACHMENTS + 1}-["audio_data",{placeholder}]')
    assert caught.value.code == "too_many_attachments"


@pytest.mark.parametrize("encoded", ['2["x",', "2{not json}", '5x-["a"]'])
def test_an_undecodable_packet_is_a_bad_packet(encoded: str) -> None:
    with pytest.raises(BadPacket) as caught:
        BoundedPacket().decode(encoded)
    assert caught.value.code == "bad_packet" and "malformed Socket.IO packet" in caught.value.message


def test_engineio_ping_threads_become_entries_on_the_one_pinger() -> None:
    server = BoundedEngineIO(async_mode="threading", ping_interval=3600)
    sock = EioSocket(server, "abc")
    assert server.start_background_task(sock._send_ping) is None
    assert server._pinger.pending() == 1
    ran = threading.Event()
    server.start_background_task(ran.set)  # any other task still gets its thread
    assert ran.wait(10) and server._pinger.pending() == 1


class _FakeEioSocket:
    def __init__(self, fail: bool = False) -> None:
        self.closes: list[dict[str, Any]] = []
        self.fail = fail

    def close(self, **kwargs: Any) -> None:
        self.closes.append(kwargs)
        if self.fail:
            raise OSError("already gone")


def test_close_socket_closes_without_waiting_and_forgets_the_socket() -> None:
    server = BoundedEngineIO(async_mode="threading")
    kept, closed, failing = _FakeEioSocket(), _FakeEioSocket(), _FakeEioSocket(fail=True)
    server.sockets.update({"kept": kept, "closed": closed, "failing": failing})
    close_socket(server, "closed")
    close_socket(server, "never-existed")
    with pytest.raises(OSError):
        close_socket(server, "failing")
    assert set(server.sockets) == {"kept"}  # a failed close forgets the socket too
    assert closed.closes == [{"wait": False, "reason": server.reason.SERVER_DISCONNECT}] and not kept.closes
    close_all_sockets(server)
    assert server.sockets == {} and kept.closes[0]["wait"] is False
