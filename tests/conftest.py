"""Shared fixtures: test models (built once, cached), speech audio, the loaded engine, a live server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from asr_service.config import Settings
from asr_service.data_stores import open_stores
from asr_service.engine import Engine, engine_from_models
from asr_service.handoff import SharedData
from asr_service.model_loading import ModelSet, load_models
from asr_service.scheduler import ModelWorker
from asr_service.service import AsrService

from . import speech_fixtures

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import test_model_dirs  # noqa: E402


@pytest.fixture(scope="session")
def model_dirs() -> dict[str, Path]:
    """Role -> directory of the tiny random-weight models and the real FSMN-VAD."""
    return test_model_dirs.ensure_test_models("tiny")


@pytest.fixture(scope="session")
def model_env(model_dirs: dict[str, Path]) -> dict[str, str]:
    """ASR_*_MODEL variables pointing at the test models."""
    return test_model_dirs.model_env(model_dirs)


@pytest.fixture(scope="session")
def settings(model_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for in-process tests: test models, a temp data dir, small limits."""
    data = tmp_path_factory.mktemp("data")
    env = {
        **model_env,
        "ASR_DATA_DIR": str(data),
        "ASR_MAX_UPLOAD_MB": "5",
        "ASR_MAX_AUDIO_S": "120",
        "HOTWORDS_FILE": str(data / "no-hotwords.json"),  # the repo's list would rewrite model output
    }
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def model_set(settings: Settings) -> ModelSet:
    """The FunASR models, loaded once per test run."""
    return load_models(settings)


@pytest.fixture(scope="session")
def stores(settings: Settings) -> SharedData:
    """The stores in the test data dir, shared by the engine and the service as in production."""
    return open_stores(settings)


@pytest.fixture(scope="session")
def engine(settings: Settings, model_set: ModelSet, stores: SharedData) -> Iterator[Engine]:
    """The real engine on the test models."""
    built = engine_from_models(settings, model_set, stores)
    yield built
    built.close()


@pytest.fixture(scope="session")
def service(settings: Settings, engine: Engine, stores: SharedData) -> AsrService:
    """A ready AsrService around the shared engine."""
    svc = AsrService(settings, lambda: engine, stores=stores)
    svc.load()
    return svc


@pytest.fixture
def workers() -> Iterator[list[ModelWorker]]:
    """Four model workers (VAD, ASR, punctuation, offline) for in-process sessions with fake models."""
    made = [ModelWorker(n) for n in ("vad", "asr", "punc", "offline")]
    yield made
    for worker in made:
        worker.stop()


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of generated speech fixtures."""
    speech_fixtures.require_tools()
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def speech_wav(audio_dir: Path) -> Path:
    """16 kHz mono WAV: Mandarin and English sentences with 1.5 s pauses."""
    return speech_fixtures.make_speech(audio_dir / "speech")


@pytest.fixture(scope="session")
def format_matrix(speech_wav: Path, audio_dir: Path) -> list[speech_fixtures.Converted]:
    """The speech in every supported format, rate and channel count."""
    return speech_fixtures.make_format_matrix(speech_wav, audio_dir / "formats")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A service process on loopback."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    tmp_dir: Path

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_server(
    env_overrides: dict[str, str], workdir: Path, wait_ready: bool = True, script: Path | None = None
) -> LiveServer:
    """Start `python asr_api_server.py` (or `script`) with the given environment; wait for readiness."""
    port = free_port()
    data_dir = workdir / "data"
    tmp_dir = workdir / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "ASR_HOST": "127.0.0.1",
        "ASR_PORT": str(port),
        "ASR_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        **env_overrides,
    }
    log_path = workdir / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(script or ROOT / "asr_api_server.py")],
            cwd=workdir,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path, data_dir, tmp_dir)
    if wait_ready:
        wait_for_health(server, 200)
    return server


def wait_for_health(server: LiveServer, status: int, timeout_s: float = 180.0) -> None:
    """Poll /api/health until it answers `status`; fail with the server log otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if requests.get(f"{server.url}/api/health", timeout=2).status_code == status:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy importing torch
            pass
        time.sleep(0.2)
    raise AssertionError(f"/api/health never answered {status}:\n{server.log()}")


def stop_server(server: LiveServer) -> None:
    """Terminate the process and wait for it."""
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def live_server(model_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server process on the test models for the whole run."""
    server = start_server(
        {**model_env, "ASR_MAX_UPLOAD_MB": "2", "ASR_MAX_AUDIO_S": "60"}, tmp_path_factory.mktemp("live")
    )
    yield server
    stop_server(server)


def wait_until(
    check: Callable[[], object], what: str, timeout_s: float = 180.0, log: Callable[[], str] | None = None
) -> None:
    """Poll `check` until it is true; fail saying `what` did not happen (with `log()` if given)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s} s" + (f":\n{log()}" if log else ""))


@dataclass
class Gunicorn:
    """A service process run by gunicorn with the shipped gunicorn.conf.py (one gthread worker)."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the arbiter and its worker wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def ready(self) -> bool:
        """Whether /readyz answers 200; fails with the log if the process has exited."""
        if self.process.poll() is not None:
            code = self.process.returncode
            raise AssertionError(f"gunicorn on {self.port} exited with {code}:\n{self.log()}")
        try:
            return requests.get(f"{self.url}/readyz", timeout=10).status_code == 200
        except requests.RequestException:  # not listening yet, or busy importing torch
            return False

    def worker_rss_mb(self) -> float:
        """Resident memory of the (single) worker process."""
        pid = self.process.pid
        worker = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0]
        for line in Path(f"/proc/{worker}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


def start_gunicorn(env: dict[str, str], log_path: Path, cwd: Path = ROOT) -> Gunicorn:
    """Start `gunicorn -c gunicorn.conf.py` on a free loopback port with `env` over this process's
    environment, in `cwd` (the service is imported from the repository whatever the directory)."""
    port = free_port()
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {
        **os.environ,
        "ASR_HOST": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
        **env,
        "PYTHONPATH": python_path,
        "ASR_PORT": str(port),
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=cwd,
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return Gunicorn(port, process, log_path)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 60) -> None:
    """Send `sig` if the process still runs, wait for it, and kill it if it outlives `timeout_s`."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
