"""Running the service from the environment: a bad variable is one line and exit status 2, gunicorn's
factory builds the app and starts nothing, the dev server wires signals, the lifecycle and Socket.IO's
server; and the entry script, a shim over serve, starts nothing when imported."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIO

from asr_service import serve
from asr_service.app import lifecycle_of
from asr_service.config import Settings, SettingsError, env_var
from asr_service.lifecycle import Lifecycle

from .conftest import ROOT, free_port

BAD_PORT = "not-a-port"


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A process environment with no service variable but a temp data dir and no hotword list."""
    for item in fields(Settings):
        monkeypatch.delenv(env_var(item).name, raising=False)
    monkeypatch.setenv("ASR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOTWORDS_FILE", str(tmp_path / "no-hotwords.json"))
    return monkeypatch


@pytest.fixture
def logging_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """configure_logging's arguments, instead of reconfiguring the test run's logging."""
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(serve, "configure_logging", lambda *args: calls.append(args))
    return calls


def _settings_error(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    return str(info.value)


@pytest.mark.parametrize("entry", [serve.settings_from_env, serve.app_from_env, serve.run_dev_server])
def test_a_bad_variable_is_one_line_naming_it_and_exit_status_2(
    entry: Callable[[], object],
    environ: pytest.MonkeyPatch,
    logging_calls: list[tuple[object, ...]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    environ.setenv("ASR_PORT", BAD_PORT)
    with pytest.raises(SystemExit) as info:
        entry()
    assert info.value.code == 2
    why = _settings_error({"ASR_PORT": BAD_PORT})
    assert "ASR_PORT" in why
    assert capsys.readouterr().err == f"asr: configuration error: {why}\n"
    assert logging_calls == []  # nothing ran past the settings


def test_the_factory_builds_the_app_from_the_environment_and_starts_nothing(
    environ: pytest.MonkeyPatch, logging_calls: list[tuple[object, ...]], tmp_path: Path
) -> None:
    environ.setenv("ASR_PORT", "6123")
    environ.setenv("ASR_LOG_LEVEL", "debug")
    environ.setenv("ASR_LOG_FORMAT", "json")
    environ.setenv("ASR_LOG_FILE", str(tmp_path / "asr.log"))
    before = set(threading.enumerate())
    app = serve.app_from_env()
    assert set(threading.enumerate()) - before == set()
    assert isinstance(app, Flask)
    settings: Settings = app.extensions["asr_settings"]
    assert settings.port == 6123 and settings.data_dir == tmp_path / "data"
    assert logging_calls == [("DEBUG", "json", tmp_path / "asr.log")]
    assert isinstance(app.extensions["socketio"], SocketIO)
    assert app.extensions["asr_service"].readiness() == (False, "models are loading")


def test_the_dev_server_handles_signals_then_starts_the_lifecycle_then_serves(
    environ: pytest.MonkeyPatch, logging_calls: list[tuple[object, ...]]
) -> None:
    port = free_port()
    environ.setenv("ASR_HOST", "127.0.0.1")
    environ.setenv("ASR_PORT", str(port))
    calls: list[tuple[Any, ...]] = []

    def handle_signals(lifecycle: Lifecycle) -> None:
        calls.append(("handle_signals", lifecycle))

    def start(lifecycle: Lifecycle, exit_code: int) -> threading.Thread:
        calls.append(("start", lifecycle, exit_code))
        return threading.Thread()

    def run(socketio: SocketIO, app: Flask, **options: Any) -> None:
        calls.append(("run", socketio, app, options))

    environ.setattr(Lifecycle, "handle_signals", handle_signals)
    environ.setattr(Lifecycle, "start", start)
    environ.setattr(SocketIO, "run", run)
    serve.run_dev_server()
    assert [call[0] for call in calls] == ["handle_signals", "start", "run"]
    _, socketio, app, options = calls[2]
    assert socketio is app.extensions["socketio"]
    assert calls[0][1] is lifecycle_of(app) and calls[1][1] is lifecycle_of(app)
    assert calls[1][2] == 2  # a failed model load ends the dev server with status 2
    assert options == {"host": "127.0.0.1", "port": port, "allow_unsafe_werkzeug": True}
    assert len(logging_calls) == 1


def _subprocess(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def _python(code: str, tmp_path: Path) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ASR_DATA_DIR": str(tmp_path / "data")}
    result = _subprocess(["-c", code], env, ROOT)
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_importing_the_entry_script_starts_no_thread_loads_nothing_and_builds_no_app(tmp_path: Path) -> None:
    found = _python(
        "import json, sys, threading\n"
        "before = threading.active_count()\n"
        "import asr_api_server\n"
        "print(json.dumps({'threads': [before, threading.active_count()],\n"
        "    'heavy': sorted(m for m in ('torch', 'funasr', 'modelscope') if m in sys.modules),\n"
        "    'names': sorted(n for n in vars(asr_api_server) if not n.startswith('__'))}))\n",
        tmp_path,
    )
    assert found["threads"] == [1, 1]
    assert found["heavy"] == []  # no model code imported, let alone a model loaded
    assert found["names"] == ["annotations", "app_from_env", "run_dev_server"]  # no app, no service
    assert not (tmp_path / "data").exists()  # no store opened either


def test_the_gunicorn_factory_builds_the_app_and_starts_nothing(tmp_path: Path) -> None:
    found = _python(
        "import json, sys, threading\n"
        "import asr_api_server\n"
        "from asr_service.app import lifecycle_of\n"
        "before = threading.active_count()\n"
        "app = asr_api_server.app_from_env()\n"
        "ready = lifecycle_of(app).service.readiness()\n"
        "print(json.dumps({'threads': [before, threading.active_count()], 'ready': ready,\n"
        "    'heavy': sorted(m for m in ('torch', 'funasr') if m in sys.modules)}))\n",
        tmp_path,
    )
    assert found["threads"] == [1, 1]
    assert found["ready"] == [False, "models are loading"]
    assert found["heavy"] == []


def test_server_exits_cleanly_on_bad_configuration(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "ASR_HOST": "127.0.0.1",
        "ASR_PORT": BAD_PORT,
        "ASR_DATA_DIR": str(tmp_path / "data"),
        "HOME": str(tmp_path),
    }
    result = _subprocess([str(ROOT / "asr_api_server.py")], env, tmp_path)
    assert result.returncode == 2
    assert "ASR_PORT" in result.stderr and "Traceback" not in result.stderr
    why = _settings_error({"ASR_PORT": BAD_PORT})
    assert result.stderr.splitlines() == [f"asr: configuration error: {why}"]  # one line, no traceback
