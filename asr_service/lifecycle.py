"""The process lifecycle, the same under the dev server and gunicorn: the janitor, models loading in
the background (a failure ends the process with one line), signals, and the graceful shutdown."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from .config import Settings

log = logging.getLogger(__name__)

# After the hand-off, the `server_restarting` errors may still be on their way through the message
# queue; closing the sockets at once could overtake them.
FLUSH_EVENTS_S = 1.0
SWEEP_EVERY_S = 1.0
FILE_SWEEP_EVERY_S = 600.0

SignalHandler = Callable[[int, FrameType | None], object]


class Service(Protocol):
    """What the lifecycle starts and stops (service.AsrService)."""

    settings: Settings

    def load(self) -> None:
        """Load the models in this thread; raises why not."""

    def sweep_sessions(self) -> None:
        """Expire parked sessions, adopt orphaned recordings."""

    def sweep_files(self) -> None:
        """Delete files past the retention time."""

    def shutdown(self, grace_s: float) -> None:
        """Refuse new work and hand running recordings off (once)."""


class Janitor:
    """Expires parked sessions every second and deletes old files every ten minutes, on its own thread."""

    def __init__(self, service: Service, every_s: float = SWEEP_EVERY_S) -> None:
        self._service = service
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        """Start sweeping (once; later calls return the same thread)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="janitor", daemon=True)
            self._thread.start()
        return self._thread

    def stop(self) -> None:
        """No sweep after the one running now (shutdown: nothing may adopt recordings while they drain)."""
        self._stop.set()

    def _run(self) -> None:
        last_files: float | None = None  # files are swept on the first pass, then every ten minutes
        while not self._stop.wait(self._every_s):
            try:
                self._service.sweep_sessions()
                if last_files is None or time.monotonic() - last_files > FILE_SWEEP_EVERY_S:
                    last_files = time.monotonic()
                    self._service.sweep_files()
            except Exception:
                log.exception("janitor sweep failed; trying again")


class Lifecycle:
    """Starts and stops one service process; `close_sockets` closes every client connection at once."""

    def __init__(
        self,
        service: Service,
        close_sockets: Callable[[], None],
        exit_process: Callable[[int], object] = os._exit,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.service = service
        self.janitor = Janitor(service)
        self._close_sockets = close_sockets
        # os._exit: a failed load is reported from the loader thread, where sys.exit ends only that thread
        self._exit_process = exit_process
        self._sleep = sleep

    @property
    def grace_s(self) -> float:
        """ASR_SHUTDOWN_GRACE_S: how long final passes may run after the hand-off."""
        return self.service.settings.shutdown_grace_s

    def start(self, exit_code: int) -> threading.Thread:
        """Start the janitor and load the models in the background; see start_loading. Returns the loader."""
        self.janitor.start()
        return self.start_loading(exit_code)

    def start_loading(self, exit_code: int) -> threading.Thread:
        """Load the models on a thread (the server answers /api/health meanwhile); if that fails,
        say why in one line on stderr and end the process with `exit_code`."""

        def run() -> None:
            try:
                self.service.load()
            except Exception as exc:
                self._fatal(exc, exit_code)

        thread = threading.Thread(target=run, name="model-loader", daemon=True)
        thread.start()
        return thread

    def _fatal(self, exc: BaseException, exit_code: int) -> None:
        print(f"asr: {exc}", file=sys.stderr, flush=True)
        logging.shutdown()
        self._exit_process(exit_code)

    def hand_off(self) -> None:
        """Stop the janitor, refuse new work, hand running recordings off for resume, and give final
        passes ASR_SHUTDOWN_GRACE_S. Runs once; later calls wait for the first."""
        self.janitor.stop()
        self.service.shutdown(self.grace_s)

    def shutdown(self) -> None:
        """The graceful shutdown: hand_off, then close every socket so its client reconnects (to
        another process), without waiting for clients to collect the close: an abandoned polling
        handshake never would."""
        log.info("shutting down: handing recordings off, final passes get %.0f s", self.grace_s)
        self.hand_off()
        self._sleep(FLUSH_EVENTS_S)
        self._close_sockets()

    def handle_signals(self) -> None:
        """Dev server: SIGTERM and SIGINT shut down gracefully, then end the process."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d received", signum)
        self.shutdown()
        raise SystemExit(0)

    def drain_on_sigterm(self, stop_accepting: SignalHandler) -> None:
        """gunicorn worker: on SIGTERM shut down gracefully on a thread while `stop_accepting` (the
        worker's own handler) ends its accept loop; gunicorn then waits up to graceful_timeout."""

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            threading.Thread(target=self.shutdown, name="drain", daemon=True).start()
            stop_accepting(signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
        signal.siginterrupt(signal.SIGTERM, False)
