"""Scale-out on loopback: redis-server, nginx (deploy/nginx/asr.conf) and two gunicorn service processes
sharing one data directory. Upload progress crosses processes; a killed process's recording resumes on the
survivor; a SIGTERM hands recordings off so they finish after a restart."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import soundfile as sf

from asr_service.config import Settings
from asr_service.data_stores import open_stores
from asr_service.engine import engine_from_models
from asr_service.events import EventSink
from asr_service.model_loading import ModelSet

from .conftest import ROOT, Gunicorn, free_port, start_gunicorn, stop_process, wait_until
from .socket_client import RecordingClient

pytestmark = pytest.mark.live
TIMEOUT = 120
FRAME_100MS = 3200


def _require(tool: str) -> str:
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        pytest.fail(f"{tool} is not installed; the scale-out test needs it (scripts/system_deps.sh)")
    return found


@dataclass
class Cluster:
    """redis-server, two replicas and nginx in front."""

    url: str
    replicas: list[Gunicorn]
    data_dir: Path
    env: dict[str, str]
    work: Path


def _nginx_conf(work: Path, port: int, upstreams: list[int]) -> Path:
    """deploy/nginx/asr.conf on loopback ports, in a main config that keeps every path in `work`."""
    site = (ROOT / "deploy" / "nginx" / "asr.conf").read_text(encoding="utf-8")
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in upstreams)
    listed = r"(?m)^    server asr-\d+:5006 .*;\n(?:    server asr-\d+:5006 .*;\n)*"
    site, count = re.subn(listed, servers + "\n", site)
    assert count == 1, "deploy/nginx/asr.conf no longer lists its upstream servers one per line"
    site, count = re.subn(r"(?m)^    listen 80;$", f"    listen 127.0.0.1:{port};", site)
    assert count == 1
    (work / "asr.conf").write_text(site, encoding="utf-8")
    for sub in ("logs", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / sub).mkdir(exist_ok=True)
    main = f"""
pid {work}/nginx.pid;
error_log {work}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {work}/logs/access.log;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/asr.conf;
}}
"""
    conf = work / "nginx.conf"
    conf.write_text(main, encoding="utf-8")
    return conf


@pytest.fixture(scope="module")
def cluster(model_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis_server, nginx = _require("redis-server"), _require("nginx")
    work = tmp_path_factory.mktemp("scale")
    redis_port = free_port()
    redis = subprocess.Popen(
        [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    data_dir = work / "shared-data"
    env = {
        **os.environ,
        **model_env,
        "ASR_HOST": "127.0.0.1",
        "ASR_DATA_DIR": str(data_dir),
        "ASR_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ASR_HTTP_THREADS": "16",
        "ASR_SHUTDOWN_GRACE_S": "20",
        "ASR_RESUME_GRACE_S": "600",  # no janitor may finalise a recording while the test resumes it
        "PYTHONUNBUFFERED": "1",
    }
    replicas = [start_gunicorn(env, work / f"replica-{name}.log") for name in ("a", "b")]
    nginx_port = free_port()
    conf = _nginx_conf(work, nginx_port, [r.port for r in replicas])
    proxy = subprocess.Popen(
        [nginx, "-p", str(work), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        for replica in replicas:
            wait_until(replica.ready, f"replica {replica.port} ready", log=replica.log)
        url = f"http://127.0.0.1:{nginx_port}"
        wait_until(lambda: _reachable(url), "nginx answering", 30, (work / "logs" / "error.log").read_text)
        yield Cluster(url, replicas, data_dir, env, work)
    finally:
        for replica in replicas:
            stop_process(replica.process, signal.SIGKILL)
        stop_process(proxy, signal.SIGQUIT)
        stop_process(redis)


def _reachable(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=10).status_code == 200
    except requests.RequestException:
        return False


def _instance(cluster: Cluster, key: str) -> str:
    return str(requests.get(f"{cluster.url}/readyz", params={"sticky": key}, timeout=10).json()["instance"])


def _direct_instance(replica: Gunicorn) -> str:
    return str(requests.get(f"{replica.url}/readyz", timeout=10).json()["instance"])


def _replica_of(cluster: Cluster, key: str) -> Gunicorn:
    """The replica nginx sends `?sticky=key` to."""
    instance = _instance(cluster, key)
    return next(r for r in cluster.replicas if r.process.poll() is None and _direct_instance(r) == instance)


def _keys_per_replica(cluster: Cluster) -> tuple[str, str]:
    """Two sticky keys that nginx sends to different processes."""
    first = _instance(cluster, "k0")
    for n in range(1, 64):
        if _instance(cluster, f"k{n}") != first:
            return "k0", f"k{n}"
    raise AssertionError("every sticky key reached the same process: nginx is not hashing on ?sticky=")


@pytest.fixture(scope="module")
def pcm(speech_wav: Path) -> bytes:
    samples, _ = sf.read(speech_wav, dtype="int16")
    return bytes(samples.tobytes())


def _client(cluster: Cluster, key: str) -> RecordingClient:
    return RecordingClient(f"{cluster.url}?sticky={key}")


def _record(cluster: Cluster, key: str, pcm: bytes) -> dict[str, Any]:
    client = _client(cluster, key)
    client.wait_for("connected")
    client.sio.emit("start_recording", {})
    client.wait_for("recording_started")
    client.send_audio(pcm, FRAME_100MS)
    client.sio.emit("stop_recording")
    final = client.wait_for("final_result", TIMEOUT)
    client.close()
    return dict(final)


def _comparable(final: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in final.items() if k not in ("session_id", "backup_audio_id")}


def test_upload_progress_reaches_a_socket_on_the_other_process(cluster: Cluster, speech_wav: Path) -> None:
    socket_key, upload_key = _keys_per_replica(cluster)
    client = _client(cluster, socket_key)
    try:
        connected = client.wait_for("connected")
        session_id = connected["session_id"]
        response = requests.post(
            f"{cluster.url}/api/asr/transcribe",
            params={"sticky": upload_key},
            files={"file": ("speech.wav", speech_wav.read_bytes())},
            data={"session_id": session_id, "resume_token": connected["resume_token"]},
            headers={"X-Request-ID": "upload-42"},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-ID"] == "upload-42"
        first = client.wait_for("processing_progress", 30)
        assert first["source"] == "upload" and first["request_id"] == "upload-42"
        assert first["filename"] == "speech.wav"
        wait_until(
            lambda: any(p["stage"] == "done" for p in client.payloads("processing_progress")), "done", 30
        )
        progress = client.payloads("processing_progress")
        assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
        assert progress[-1] == {**first, "progress": 1.0, "stage": "done"}
    finally:
        client.close()
    uploader = _replica_of(cluster, upload_key)
    assert uploader is not _replica_of(cluster, socket_key)
    assert "POST /api/asr/transcribe -> 200" in uploader.log() and "request_id=upload-42" in uploader.log()


def test_killed_process_recording_resumes_on_the_survivor(cluster: Cluster, pcm: bytes) -> None:
    key, other_key = _keys_per_replica(cluster)
    reference = _record(cluster, other_key, pcm)

    victim = _replica_of(cluster, key)
    client = _client(cluster, key)
    client.wait_for("connected")
    client.sio.emit("start_recording", {})
    started = client.wait_for("recording_started")
    half = len(pcm) // 2
    client.send_audio(pcm[:half], FRAME_100MS)
    wait_until(lambda: client.heard_ms() >= 2000, "the first pass to hear 2 s")
    # the whole replica dies at once: arbiter first (else it would respawn the worker), then its worker
    worker_pid = int(_direct_instance(victim).rsplit(":", 1)[1])
    victim.process.kill()
    os.kill(worker_pid, signal.SIGKILL)
    victim.process.wait(timeout=30)
    wait_until(lambda: not client.sio.connected, "the client to see the connection drop", 60)
    client.close()

    resumed = _client(cluster, key)  # same sticky key: nginx moves it to the survivor
    try:
        resumed.wait_for("connected")
        resumed.sio.emit("resume_recording", {"resume_token": started["resume_token"]})
        result = resumed.wait_for("resume_result", TIMEOUT)
        assert result["session_id"] == started["session_id"] and result["state"] == "recording"
        offset = result["received_bytes"]
        assert 2000 * 32 <= offset <= half
        resumed.send_audio(pcm[offset:], FRAME_100MS)
        resumed.sio.emit("stop_recording")
        final = resumed.wait_for("final_result", TIMEOUT)
    finally:
        resumed.close()
    assert final["session_id"] == started["session_id"]
    assert final["duration_ms"] == len(pcm) // 32
    assert _comparable(final) == _comparable(reference), "a resumed recording must equal an uninterrupted one"
    stored = requests.get(
        f"{cluster.url}/api/asr/sessions/{started['session_id']}/result",
        headers={"X-Resume-Token": started["resume_token"]},
        params={"sticky": key},
        timeout=10,
    )
    assert stored.status_code == 200 and stored.json()["data"] == final
    survivor = next(r for r in cluster.replicas if r is not victim)
    assert f"session {started['session_id']}: taken over" in survivor.log()


def test_sigterm_hands_the_recording_off_and_it_finishes_after_a_restart(
    cluster: Cluster, pcm: bytes, model_set: ModelSet
) -> None:
    survivor = next(r for r in cluster.replicas if r.process.poll() is None)
    client = RecordingClient(survivor.url)
    client.wait_for("connected")
    client.sio.emit("start_recording", {})
    started = client.wait_for("recording_started")
    client.send_audio(pcm[: len(pcm) // 2], FRAME_100MS)
    wait_until(lambda: client.heard_ms() >= 2000, "the first pass to hear 2 s")
    survivor.process.send_signal(signal.SIGTERM)
    error = client.wait_for("error", 60)
    assert error["code"] == "server_restarting" and "resume_recording" in error["message"]
    assert survivor.process.wait(timeout=60) == 0, survivor.log()
    client.close()

    # "after a restart": a fresh service on the same data directory (in-process, models already loaded)
    settings = Settings.from_env({**cluster.env, "ASR_REDIS_URL": ""})
    engine = engine_from_models(settings, model_set, open_stores(settings))
    events: list[tuple[str, dict[str, Any]]] = []
    sink: EventSink = lambda event: events.append((event.name, event.to_wire()))  # noqa: E731
    try:
        resumed = engine.connections.resume("restarted-client", started["resume_token"], sink)
        result, final = resumed.result, resumed.final
        assert result.to_wire()["state"] == "recording" and final is None
        session = engine.sessions.session_for(started["resume_token"])
        assert session is not None
        for start in range(result.to_wire()["received_bytes"], len(pcm), FRAME_100MS):
            session.feed(pcm[start : start + FRAME_100MS])
        session.stop()
        assert session.wait_done(TIMEOUT)
    finally:
        engine.close()
    finals = [p for e, p in events if e == "final_result"]
    assert len(finals) == 1 and finals[0]["duration_ms"] == len(pcm) // 32
    assert not [p for e, p in events if e == "error"]
