"""Dockerfile, docker-compose.yml, .dockerignore, gunicorn.conf.py and the nginx example, read as a
deployment tool would: services, volumes, health checks, non-root, no secrets, only known settings."""

from __future__ import annotations

import re
import runpy
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from asr_service.config import Settings

from .conftest import ROOT

# Variables the images and compose set that are not service settings, and why.
RUNTIME_ENV = {
    "PYTHONUNBUFFERED",  # log lines reach `docker logs` at once
    "NVIDIA_VISIBLE_DEVICES",  # read by the NVIDIA container toolkit
    "NVIDIA_DRIVER_CAPABILITIES",
}
SECRET_WORDS = ("KEY", "TOKEN", "PASSWORD", "SECRET")


class _Recorder(Mapping[str, str]):
    """An empty environment that remembers every name Settings asks for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings_env_names() -> set[str]:
    """Every environment variable Settings.from_env reads."""
    recorder = _Recorder()
    Settings.from_env(recorder)
    return recorder.asked


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if raw.lstrip().startswith("#") or (not raw.strip() and not current):
            continue
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        lines.append(current.strip())
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for instruction, args in dockerfile():
        if instruction == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return env


def compose() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return parsed


def asr_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose()["services"].items() if name.startswith("asr")}


def _mount_target(volume: str) -> str:
    """The container path of a short-syntax volume (the host part may hold `${VAR:-default}`)."""
    found = re.search(r":(/[^:]*)(?::ro|:rw)?$", volume)
    assert found, volume
    return found.group(1)


def test_settings_recorder_sees_known_names() -> None:
    names = settings_env_names()
    assert {"ASR_PORT", "ASR_DATA_DIR", "ASR_REDIS_URL", "ASR_SHUTDOWN_GRACE_S", "HOTWORDS_FILE"} <= names


def test_dockerfile_runs_as_a_non_root_user_with_gunicorn() -> None:
    steps = dockerfile()
    users = [args for instruction, args in steps if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd = [args for instruction, args in steps if instruction == "CMD"][-1]
    assert '"gunicorn", "-c", "gunicorn.conf.py"' in cmd
    assert [i for i, _ in steps].index("USER") > max(i for i, (ins, _) in enumerate(steps) if ins == "RUN")


def test_dockerfile_health_check_probes_readiness_after_model_loading() -> None:
    health = [args for instruction, args in dockerfile() if instruction == "HEALTHCHECK"]
    assert len(health) == 1
    assert "scripts/healthcheck.py" in health[0]
    start = re.search(r"--start-period=(\d+)s", health[0])
    assert start and int(start.group(1)) >= 300
    assert "/readyz" in (ROOT / "scripts" / "healthcheck.py").read_text(encoding="utf-8")


def test_dockerfile_installs_ffmpeg_and_the_pinned_torch_pair_without_models() -> None:
    runs = " ".join(args for instruction, args in dockerfile() if instruction == "RUN")
    assert "ffmpeg" in runs
    # the CPU index install takes its versions from requirements.txt, so the pair cannot drift
    assert "grep -E '^(torch|torchaudio)==' requirements.txt" in runs
    pins = dict(re.findall(r"(?m)^(torch|torchaudio)==(\S+)", (ROOT / "requirements.txt").read_text()))
    assert pins["torch"] == pins["torchaudio"]
    copies = [args for instruction, args in dockerfile() if instruction in ("COPY", "ADD")]
    assert copies and not any(re.search(r"\b(models|data|logs|\.env)\b", c) for c in copies)
    froms = [args for instruction, args in dockerfile() if instruction == "FROM"]
    assert froms and "slim" in froms[0]


def test_dockerfile_env_is_known_and_holds_no_secret() -> None:
    env = dockerfile_env()
    assert env["ASR_DATA_DIR"] == "/data" and env["MODELSCOPE_CACHE"] == "/models"
    assert set(env) <= settings_env_names() | RUNTIME_ENV
    assert not [k for k in env if any(w in k for w in SECRET_WORDS)]


def test_compose_services_and_profiles() -> None:
    services = compose()["services"]
    assert {"asr", "asr-cpu", "redis", "asr-1", "asr-2", "nginx"} <= set(services)
    assert "profiles" not in services["asr"]
    assert services["asr-cpu"]["profiles"] == ["cpu"]
    for name in ("redis", "asr-1", "asr-2", "nginx"):
        assert services[name]["profiles"] == ["scale"], name
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
    assert services["asr-cpu"]["build"]["args"]["TORCH_INDEX_URL"].endswith("/whl/cpu")
    assert services["asr-cpu"]["environment"]["ASR_DEVICE"] == "cpu"
    assert "./deploy/nginx/asr.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]


def test_compose_reserves_gpus() -> None:
    services = compose()["services"]
    device_ids = []
    for name in ("asr", "asr-1", "asr-2"):
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"], name
        device_ids.append(tuple(devices[0].get("device_ids", ())))
    assert device_ids[1] != device_ids[2], "each replica needs its own GPU"


def test_compose_volumes_and_health_checks() -> None:
    for name, service in asr_services().items():
        targets = {_mount_target(v): v for v in service["volumes"]}
        assert set(targets) == {"/models", "/hotwords", "/data", "/logs"}, name
        assert targets["/hotwords"].endswith(":ro")
        env = service["environment"]
        assert env["HOTWORDS_FILE"].startswith("/hotwords/"), "hot reload needs a directory mount"
        assert env["ASR_DATA_DIR"] == "/data" and env["MODELSCOPE_CACHE"] == "/models"
        check = service["healthcheck"]
        assert "scripts/healthcheck.py" in check["test"]
        assert int(check["start_period"].rstrip("s")) >= 300
        grace = float(str(env["ASR_SHUTDOWN_GRACE_S"]).split(":-")[-1].rstrip("}"))
        assert int(service["stop_grace_period"].rstrip("s")) > grace + 15, "docker would kill the drain"


def test_compose_replicas_share_data_and_the_message_queue() -> None:
    services = compose()["services"]
    one, two = services["asr-1"], services["asr-2"]
    assert [v for v in one["volumes"] if ":/data" in v] == [v for v in two["volumes"] if ":/data" in v]
    assert (
        one["environment"]["ASR_REDIS_URL"] == two["environment"]["ASR_REDIS_URL"] == "redis://redis:6379/0"
    )
    assert "--save" in services["redis"]["command"]


def test_compose_environment_is_complete_known_and_secret_free() -> None:
    known = settings_env_names()
    for name, service in asr_services().items():
        env = service["environment"]
        assert set(env) <= known | RUNTIME_ENV, f"{name} sets unknown variables {set(env) - known}"
        # every setting can be set from the host (only the container paths are fixed)
        missing = known - set(env) - {"ASR_HOST", "ASR_PORT", "ASR_REDIS_URL", "ASR_LOG_FILE"}
        assert not missing, f"{name} does not pass {missing}"
        for key, value in env.items():
            if any(word in key for word in SECRET_WORDS):
                assert str(value) in ("", f"${{{key}:-}}", f"${{{key}}}"), f"{name}: {key} has a value"


def test_dockerignore_keeps_caches_and_data_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".git", "data", "logs", "models", ".venv", "**/__pycache__", ".env", "tests"} <= ignored
    assert {".mypy_cache", ".pytest_cache", ".ruff_cache"} <= ignored


def test_gunicorn_config_is_one_gthread_worker_with_room_to_drain() -> None:
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    settings = Settings.from_env()
    assert conf["workers"] == 1 and conf["worker_class"] == "gthread"
    assert conf["threads"] == settings.http_threads
    assert conf["graceful_timeout"] > settings.shutdown_grace_s
    assert conf["preload_app"] is False and conf["wsgi_app"] == "asr_api_server:app_from_env()"
    assert callable(conf["post_worker_init"]) and callable(conf["worker_exit"])
    import asr_api_server  # the factory gunicorn calls is there (importing it starts nothing)

    assert callable(asr_api_server.app_from_env)


def test_nginx_example_proxies_websockets_with_long_timeouts() -> None:
    conf = (ROOT / "deploy" / "nginx" / "asr.conf").read_text(encoding="utf-8")
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "hash $asr_affinity consistent;" in conf
    assert re.search(r"client_max_body_size \d+m;", conf)
    assert re.search(r"proxy_read_timeout 3600s;", conf)
