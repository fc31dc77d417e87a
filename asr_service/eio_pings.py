"""Engine.IO heartbeats for every socket from one thread. python-engineio starts one thread per
socket per ping that sleeps ping_interval (25 s) first, holding the socket, its queues and a
thread stack for that long after the socket closed: a stream of short connections kept thousands
alive and grew the worker's memory. Here a closed socket is forgotten at once (weak references)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import weakref
from typing import Any

from engineio import packet

log = logging.getLogger(__name__)


class Pinger:
    """Sends each scheduled socket its PING after `interval_s`, unless it closed meanwhile."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, weakref.ref[Any]]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, eio_socket: Any) -> None:
        """What engineio's Socket._send_ping does after its sleep, `interval_s` from now."""
        with self._cond:
            entry = (time.monotonic() + self._interval_s, next(self._seq), weakref.ref(eio_socket))
            heapq.heappush(self._due, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="eio-pings", daemon=True)
                self._thread.start()
            self._cond.notify()

    def pending(self) -> int:
        """Pings scheduled for sockets still in memory (for tests)."""
        with self._cond:
            return sum(ref() is not None for _, _, ref in self._due)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._cond.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, ref = heapq.heappop(self._due)
            sock = ref()
            if sock is not None and not sock.closing and not sock.closed:
                sock.last_ping = time.time()  # engineio's ping-timeout check reads this
                try:
                    sock.send(packet.Packet(packet.PING))
                except Exception as exc:  # a socket closing under us; its own reader ends it
                    log.debug("ping to a closing Engine.IO socket failed: %s", exc)
