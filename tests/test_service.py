"""AsrService around a fake engine: readiness and health while loading, after loading and after a
failure; draining once; sweeps; one set of stores shared with the engine it loads."""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path
from typing import cast

import pytest

from asr_service.config import Settings
from asr_service.engine import Engine, load_engine
from asr_service.errors import NotReady
from asr_service.service import AsrService


class FakeSessions:
    """The registry's and the takeover's calls the service makes."""

    def __init__(self) -> None:
        self.active, self.parked = 2, 1
        self.calls: list[str] = []

    def sweep(self) -> None:
        self.calls.append("sweep")

    def adopt_orphans(self) -> None:
        self.calls.append("adopt_orphans")


class FakeEngine:
    """Just enough of an Engine for readiness, health and draining."""

    device = "cpu"
    offline_model_name = "fake"

    def __init__(self) -> None:
        self.sessions = FakeSessions()
        self.takeover = self.sessions  # adopt_orphans goes to the takeover: one call list keeps the order
        self.drains: list[float] = []
        self.drain_started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def drain(self, wait_s: float) -> tuple[int, int]:
        self.drains.append(wait_s)
        self.drain_started.set()
        assert self.release.wait(30)
        return 1, 0

    def queue_depths(self) -> dict[str, int]:
        return {"offline": 3}


@pytest.fixture
def own_settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {"ASR_DATA_DIR": str(tmp_path / "data"), "HOTWORDS_FILE": str(tmp_path / "none")}
    )


def _service(settings: Settings, engine: FakeEngine) -> AsrService:
    return AsrService(settings, lambda: cast(Engine, engine))


def test_loading_then_ready(own_settings: Settings) -> None:
    engine = FakeEngine()
    service = _service(own_settings, engine)
    assert not service.ready and service.readiness() == (False, "models are loading")
    health = service.health()
    assert (health["status"], health["models_loaded"], health["device"]) == ("loading", False, None)
    assert service.session_counts() == (0, 0) and service.queue_depths() == {}
    with pytest.raises(NotReady, match="models are loading"):
        service.engine()
    service.load()
    assert service.ready and service.readiness() == (True, "models loaded and warmed up")
    health = service.health()
    assert (health["status"], health["message"], health["device"]) == ("ok", "models loaded", "cpu")
    assert service.session_counts() == (2, 1) and service.queue_depths() == {"offline": 3}
    assert service.engine() is cast(Engine, engine)


def test_a_failed_load_is_reported_and_raised(own_settings: Settings) -> None:
    def broken() -> Engine:
        raise RuntimeError("cannot load the offline ASR model")

    service = AsrService(own_settings, broken)
    with pytest.raises(RuntimeError, match="offline ASR"):
        service.load()
    assert service.readiness() == (False, "cannot load the offline ASR model")
    assert service.health()["status"] == "failed" and not service.ready


def test_shutdown_drains_once_and_readiness_says_so(own_settings: Settings) -> None:
    engine = FakeEngine()
    service = _service(own_settings, engine)
    service.load()
    engine.release.clear()
    first = threading.Thread(target=service.shutdown, args=(7.0,))
    first.start()
    assert engine.drain_started.wait(30)
    assert service.draining
    assert service.readiness() == (False, "shutting down: new sessions go to other processes")
    order: list[str] = []
    calling = threading.Event()

    def again() -> None:
        calling.set()
        service.shutdown(7.0)
        order.append("second shutdown returned")

    second = threading.Thread(target=again)
    second.start()
    assert calling.wait(30)
    order.append("drain released")
    engine.release.set()
    first.join(30)
    second.join(30)
    # a second shutdown waits for the first to finish draining, and drains nothing itself
    assert order == ["drain released", "second shutdown returned"] and engine.drains == [7.0]


def test_shutdown_before_the_models_loaded_only_refuses_new_work(own_settings: Settings) -> None:
    service = _service(own_settings, FakeEngine())
    service.shutdown(5.0)
    assert service.draining and service.readiness()[0] is False


def test_sweeps_reach_the_sessions_once_loaded_and_the_old_files(own_settings: Settings) -> None:
    engine = FakeEngine()
    service = _service(own_settings, engine)
    service.sweep_sessions()
    assert engine.sessions.calls == []  # nothing loaded yet
    service.load()
    service.sweep_sessions()
    assert engine.sessions.calls == ["sweep", "adopt_orphans"]
    old = time.time() - own_settings.retention_s - 60
    stale = [
        service.stores.results.directory / f"{'a' * 32}.json",
        service.stores.handoff.directory / f"{'b' * 64}.done.json",
        service.stores.recordings.directory / f"{'c' * 32}.wav",
    ]
    fresh = service.stores.results.directory / f"{'d' * 32}.json"
    for path in [*stale, fresh]:
        path.write_text("{}", encoding="utf-8")
    for path in stale:
        os.utime(path, (old, old))
    service.sweep_files()
    assert [p.exists() for p in stale] == [False, False, False] and fresh.exists()


def test_from_settings_shares_one_set_of_stores_and_the_corrector_with_the_loader(
    own_settings: Settings,
) -> None:
    service = AsrService.from_settings(own_settings)
    loader = service._loader
    assert isinstance(loader, functools.partial) and loader.func is load_engine
    settings, stores, corrector = loader.args
    assert settings is own_settings and stores is service.stores and corrector is service.corrector
    assert (service.recordings, service.results, service.handoff) == (
        stores.recordings,
        stores.results,
        stores.handoff,
    )
    assert service.stores.handoff.directory == own_settings.data_dir / "sessions"
