"""The process lifecycle: graceful shutdown in order, signals for both servers, the janitor, and a failed
load ending the process with one line (the entry script and the app factory: test_serve.py)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr_service import lifecycle as lifecycle_module
from asr_service.config import Settings
from asr_service.lifecycle import FLUSH_EVENTS_S, Janitor, Lifecycle

from .conftest import ROOT, free_port

WAIT_S = 30.0


class FakeService:
    """Records what the lifecycle asks of it, and on which thread."""

    def __init__(self, grace_s: float = 30.0, load_error: Exception | None = None) -> None:
        self.settings = Settings.from_env({"ASR_SHUTDOWN_GRACE_S": str(grace_s)})
        self.calls: list[tuple[object, ...]] = []
        self.load_error = load_error
        self.loaded = threading.Event()
        self.janitor: Janitor | None = None  # to see whether it was stopped before the hand-off
        self.sweeps = 0
        self.swept_twice = threading.Event()
        self.fail_first_sweep = False

    def load(self) -> None:
        self.loaded.set()
        if self.load_error is not None:
            raise self.load_error

    def sweep_sessions(self) -> None:
        self.sweeps += 1
        if self.sweeps >= 3:
            self.swept_twice.set()  # a pass after the first (failing or not) ran
        if self.fail_first_sweep and self.sweeps == 1:
            raise OSError("disk hiccup")

    def sweep_files(self) -> None:
        self.calls.append(("sweep_files",))

    def shutdown(self, grace_s: float) -> None:
        stopped = self.janitor is not None and self.janitor._stop.is_set()
        self.calls.append(("shutdown", grace_s, stopped, threading.current_thread().name))


class Recorder:
    """The injected process edges: sleep, socket closing and process exit."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.closed = threading.Event()
        self.exited = threading.Event()
        self.exit_codes: list[int] = []

    def sleep(self, seconds: float) -> None:
        self.service.calls.append(("sleep", seconds))

    def close_sockets(self) -> None:
        self.service.calls.append(("close_sockets",))
        self.closed.set()

    def exit_process(self, code: int) -> None:
        self.exit_codes.append(code)
        self.exited.set()


def _lifecycle(service: FakeService) -> tuple[Lifecycle, Recorder]:
    edges = Recorder(service)
    lifecycle = Lifecycle(service, edges.close_sockets, exit_process=edges.exit_process, sleep=edges.sleep)
    service.janitor = lifecycle.janitor
    return lifecycle, edges


@pytest.fixture
def signals_restored() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_graceful_shutdown_hands_off_then_lets_events_flush_then_closes_every_socket() -> None:
    service = FakeService(grace_s=45)
    lifecycle, _ = _lifecycle(service)
    lifecycle.shutdown()
    main = threading.current_thread().name
    assert service.calls == [("shutdown", 45.0, True, main), ("sleep", FLUSH_EVENTS_S), ("close_sockets",)]


def test_hand_off_alone_stops_the_janitor_and_shuts_the_service_down_with_the_grace() -> None:
    service = FakeService(grace_s=12)
    lifecycle, edges = _lifecycle(service)
    lifecycle.hand_off()
    assert service.calls == [("shutdown", 12.0, True, threading.current_thread().name)]
    assert not edges.closed.is_set()


def test_dev_server_signals_shut_down_gracefully_then_exit_0(signals_restored: None) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        service = FakeService()
        lifecycle, _ = _lifecycle(service)
        lifecycle.handle_signals()
        handler = signal.getsignal(sig)
        assert callable(handler)
        with pytest.raises(SystemExit) as info:
            handler(sig, None)
        assert info.value.code == 0
        assert [call[0] for call in service.calls] == ["shutdown", "sleep", "close_sockets"]


def test_gunicorn_sigterm_drains_on_a_thread_while_the_worker_stops_accepting(
    signals_restored: None,
) -> None:
    service = FakeService()
    lifecycle, edges = _lifecycle(service)
    stopped_accepting: list[int] = []
    lifecycle.drain_on_sigterm(lambda signum, _frame: stopped_accepting.append(signum))
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)
    handler(signal.SIGTERM, None)
    assert stopped_accepting == [signal.SIGTERM]
    assert edges.closed.wait(WAIT_S)
    assert service.calls == [
        ("shutdown", 30.0, True, "drain"),
        ("sleep", FLUSH_EVENTS_S),
        ("close_sockets",),
    ]


def test_a_failed_load_says_why_in_one_line_and_ends_the_process_with_the_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    monkeypatch.setattr(lifecycle_module.logging, "shutdown", lambda: order.append("logging flushed"))
    service = FakeService(load_error=RuntimeError("cannot load the offline ASR model: no such directory"))
    lifecycle, edges = _lifecycle(service)
    lifecycle.start_loading(exit_code=3).join(WAIT_S)
    assert edges.exit_codes == [3]
    assert order == ["logging flushed"]
    assert capsys.readouterr().err == "asr: cannot load the offline ASR model: no such directory\n"


def test_a_successful_load_ends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    service = FakeService()
    lifecycle, edges = _lifecycle(service)
    lifecycle.start_loading(exit_code=2).join(WAIT_S)
    assert service.loaded.is_set() and edges.exit_codes == []
    assert capsys.readouterr().err == ""


def test_start_runs_the_janitor_and_the_loader_on_their_own_threads() -> None:
    service = FakeService()
    lifecycle, _ = _lifecycle(service)
    loader = lifecycle.start(exit_code=2)
    assert loader.name == "model-loader"
    loader.join(WAIT_S)
    assert service.loaded.is_set()
    janitor = lifecycle.janitor.start()  # already running: the same thread
    assert janitor.name == "janitor" and janitor.is_alive()
    lifecycle.janitor.stop()
    janitor.join(WAIT_S)
    assert not janitor.is_alive()


def test_janitor_sweeps_files_at_once_and_keeps_going_after_a_failed_sweep(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = FakeService()
    service.fail_first_sweep = True
    janitor = Janitor(service, every_s=0.01)
    with caplog.at_level(logging.ERROR, logger="asr_service.lifecycle"):
        thread = janitor.start()
        assert service.swept_twice.wait(WAIT_S)
        janitor.stop()
        thread.join(WAIT_S)
    assert not thread.is_alive()
    # the failing first pass skipped the files; the next one swept them, and ten minutes must pass
    # before another file sweep
    assert service.calls == [("sweep_files",)]
    assert any("janitor sweep failed" in r.getMessage() for r in caplog.records)


def _run_server(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full_env = {
        "PATH": "/usr/bin:/bin",
        "ASR_HOST": "127.0.0.1",
        "ASR_PORT": str(free_port()),
        "ASR_DATA_DIR": str(tmp_path / "data"),
        "HOME": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "asr_api_server.py")],
        env=full_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_server_exits_with_one_clear_line_when_a_model_is_missing(
    model_env: dict[str, str], tmp_path: Path
) -> None:
    result = _run_server({**model_env, "ASR_OFFLINE_MODEL": str(tmp_path / "nowhere")}, tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("asr: ")]
    assert len(lines) == 1, result.stderr
    assert "ASR_OFFLINE_MODEL" in lines[0] and "nowhere" in lines[0] and "no such directory" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
