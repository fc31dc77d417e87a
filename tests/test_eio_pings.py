"""Pinger: one thread sends each scheduled Engine.IO socket its PING, skipping closed or freed ones."""

from __future__ import annotations

import gc
import logging
import threading

import pytest
from engineio import packet

from asr_service.eio_pings import Pinger


class FakeSocket:
    """What Pinger touches of an engineio Socket."""

    def __init__(self, closing: bool = False, closed: bool = False, fail: bool = False) -> None:
        self.closing, self.closed, self.fail = closing, closed, fail
        self.last_ping: float | None = None
        self.sent: list[packet.Packet] = []
        self.pinged = threading.Event()

    def send(self, pkt: packet.Packet) -> None:
        self.pinged.set()
        if self.fail:
            raise OSError("socket is closing")
        self.sent.append(pkt)


def test_a_scheduled_socket_gets_one_ping_and_its_ping_time() -> None:
    pinger = Pinger(0.01)
    sock = FakeSocket()
    pinger.schedule(sock)
    assert sock.pinged.wait(10)
    assert [p.packet_type for p in sock.sent] == [packet.PING]
    assert sock.last_ping is not None


def test_closing_or_closed_sockets_are_skipped() -> None:
    pinger = Pinger(0.01)
    closing, closed, open_ = FakeSocket(closing=True), FakeSocket(closed=True), FakeSocket()
    for sock in (closing, closed, open_):  # due in this order: the open one comes last
        pinger.schedule(sock)
    assert open_.pinged.wait(10)
    assert not closing.sent and not closed.sent and closing.last_ping is None and closed.last_ping is None


def test_a_failed_send_is_logged_and_later_sockets_still_get_theirs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="asr_service.eio_pings")
    pinger = Pinger(0.01)
    failing, fine = FakeSocket(fail=True), FakeSocket()
    pinger.schedule(failing)
    pinger.schedule(fine)
    assert fine.pinged.wait(10) and fine.sent
    assert "ping to a closing Engine.IO socket failed" in caplog.text


def test_a_socket_no_longer_in_memory_is_not_held_for_its_ping() -> None:
    pinger = Pinger(3600.0)  # never due during the test
    kept, dropped = FakeSocket(), FakeSocket()
    pinger.schedule(kept)
    pinger.schedule(dropped)
    assert pinger.pending() == 2
    del dropped
    gc.collect()
    assert pinger.pending() == 1 and not kept.sent
