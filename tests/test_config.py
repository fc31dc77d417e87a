"""Settings from the environment: defaults, parsing, clear errors, no secrets shown."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from asr_service.config import DEFAULT_OFFLINE_MODEL, DEFAULT_SPEAKER_MODEL, Settings, SettingsError, env_var


def test_defaults_match_the_design() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port, s.device) == ("0.0.0.0", 5006, "auto")
    assert s.offline_model == DEFAULT_OFFLINE_MODEL
    assert s.speaker_model == DEFAULT_SPEAKER_MODEL == "iic/speech_campplus_sv_zh-cn_16k-common"
    assert s.hotwords_file == Path.cwd() / "hotwords.json" and s.data_dir == Path.cwd() / "data"
    assert s.public_ops is True
    assert s.llm_api_url is None and s.llm_api_key is None and s.api_key is None
    assert s.max_sentence_s == 15.0


def test_environment_overrides_every_kind_of_field() -> None:
    s = Settings.from_env(
        {
            "ASR_PORT": "6000",
            "ASR_DEVICE": "CUDA:1",
            "USE_MPS": "0",
            "ASR_THREADS": "2",
            "ASR_OFFLINE_MODEL": "/models/sv",
            "ASR_DATA_DIR": "/var/asr",
            "ASR_CORS_ORIGINS": "https://a, https://b",
            "ASR_MAX_UPLOAD_MB": "1.5",
            "ASR_LANGUAGE": "en",
            "ASR_USE_ITN": "false",
            "LLM_TIMEOUT_S": "5",
        }
    )
    assert s.port == 6000 and s.device == "cuda:1" and s.use_mps is False and s.threads == 2
    assert s.offline_model == "/models/sv" and s.data_dir == Path("/var/asr")
    assert s.cors_origins == ("https://a", "https://b")
    assert s.max_upload_bytes == int(1.5 * 1024 * 1024)
    assert s.default_language == "en" and s.use_itn is False and s.llm_timeout_s == 5.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ASR_PORT", "http"),
        ("ASR_PORT", "-1"),
        ("ASR_DEVICE", "tpu"),
        ("USE_MPS", "maybe"),
        ("ASR_MAX_UPLOAD_MB", "0"),
        ("ASR_LANGUAGE", "fr"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_blank_values_fall_back_to_defaults() -> None:
    assert Settings.from_env({"ASR_PORT": "  ", "ASR_OFFLINE_MODEL": ""}).port == 5006


def test_an_empty_speaker_model_is_kept_to_turn_speakers_off() -> None:
    assert Settings.from_env({"ASR_SPEAKER_MODEL": ""}).speaker_model == ""
    assert Settings.from_env({"ASR_SPEAKER_MODEL": "  "}).speaker_model == ""
    assert Settings.from_env({"ASR_SPEAKER_MODEL": " /models/campp "}).speaker_model == "/models/campp"
    assert Settings.from_env({}).speaker_model == DEFAULT_SPEAKER_MODEL


def test_public_view_masks_secrets() -> None:
    view = Settings.from_env({"LLM_API_KEY": "secret-value", "ASR_API_KEY": "k"}).public_view()
    assert view["llm_api_key"] == "***" and view["api_key"] == "***"
    assert "secret-value" not in str(view)


def test_hotword_and_llm_settings() -> None:
    s = Settings.from_env(
        {
            "LLM_BUDGET_S": "5",
            "LLM_WINDOW_SENTENCES": "8",
            "LLM_MAX_EDIT_RATIO": "0.2",
            "LLM_BREAKER_COOLDOWN_S": "30",
            "HOTWORDS_PINYIN_THRESHOLD": "1",
        }
    )
    assert (s.llm_budget_s, s.llm_window_sentences, s.llm_max_edit_ratio) == (5.0, 8, 0.2)
    assert s.llm_breaker_cooldown_s == 30.0 and s.hotwords_pinyin_threshold == 1.0
    for name, value in (
        ("LLM_MAX_EDIT_RATIO", "1.5"),
        ("HOTWORDS_PINYIN_THRESHOLD", "0"),
        ("LLM_CONCURRENCY", "0"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})
    assert "k3y" not in repr(Settings.from_env({"LLM_API_KEY": "k3y", "ASR_API_KEY": "k3y"}))


def test_idle_timeout_of_recordings() -> None:
    assert Settings.from_env({}).idle_timeout_s == 60.0
    assert Settings.from_env({"ASR_IDLE_TIMEOUT_S": "90"}).idle_timeout_s == 90.0
    assert Settings.from_env({"ASR_IDLE_TIMEOUT_S": "0"}).idle_timeout_s == 0.0  # never
    for bad in ("-1", "soon", "nan", "inf"):
        with pytest.raises(SettingsError, match="ASR_IDLE_TIMEOUT_S"):
            Settings.from_env({"ASR_IDLE_TIMEOUT_S": bad})


def test_deployment_settings() -> None:
    s = Settings.from_env(
        {
            "ASR_REDIS_URL": "redis://:pw@redis:6379/0",
            "ASR_METRICS": "0",
            "ASR_HTTP_THREADS": "128",
            "ASR_SHUTDOWN_GRACE_S": "45",
            "ASR_LOG_FORMAT": "JSON",
            "ASR_LOG_FILE": "/logs/asr.log",
        }
    )
    assert s.redis_url == "redis://:pw@redis:6379/0" and s.metrics is False and s.http_threads == 128
    assert s.shutdown_grace_s == 45.0 and s.log_format == "json" and s.log_file == Path("/logs/asr.log")
    assert s.public_view()["redis_url"] == "***"
    with pytest.raises(SettingsError, match="ASR_REDIS_URL"):
        Settings.from_env({"ASR_REDIS_URL": "localhost:6379"})
    with pytest.raises(SettingsError, match="ASR_LOG_FORMAT"):
        Settings.from_env({"ASR_LOG_FORMAT": "xml"})


def test_relative_paths_are_resolved_once_against_the_start_up_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"ASR_DATA_DIR": "store", "HOTWORDS_FILE": "conf/hw.json", "ASR_LOG_FILE": "../asr.log"}
    s = Settings.from_env(env)
    monkeypatch.chdir("/")  # a later change of directory must not move them
    assert s.data_dir == tmp_path / "store" and s.hotwords_file == tmp_path / "conf" / "hw.json"
    assert s.log_file == tmp_path.parent / "asr.log"
    assert Settings().data_dir.is_absolute()  # also when built directly
    assert Settings.from_env({"ASR_PUBLIC_OPS": "false"}).public_ops is False


def test_connection_and_transport_settings() -> None:
    d = Settings()
    assert (d.reserved_threads, d.max_unconnected_sockets, d.connect_timeout_s) == (4, 16, 10.0)
    assert (d.read_timeout_s, d.min_body_rate_kbps, d.resume_per_min, d.socket_threads) == (
        30.0,
        16.0,
        10,
        60,
    )
    s = Settings.from_env(
        {
            "ASR_HTTP_THREADS": "16",
            "ASR_RESERVED_THREADS": "0",
            "ASR_MAX_UNCONNECTED_SOCKETS": "2",
            "ASR_CONNECT_TIMEOUT_S": "3.5",
            "ASR_READ_TIMEOUT_S": "5",
            "ASR_MIN_BODY_RATE_KBPS": "64",
            "ASR_RESUME_PER_MIN": "3",
        }
    )
    assert (s.socket_threads, s.max_unconnected_sockets, s.connect_timeout_s) == (16, 2, 3.5)
    assert (s.read_timeout_s, s.min_body_rate_kbps, s.resume_per_min) == (5.0, 64.0, 3)
    with pytest.raises(SettingsError, match="ASR_RESERVED_THREADS=16 leaves no thread"):
        Settings.from_env({"ASR_HTTP_THREADS": "16", "ASR_RESERVED_THREADS": "16"})
    for name in ("ASR_MAX_UNCONNECTED_SOCKETS", "ASR_CONNECT_TIMEOUT_S", "ASR_RESUME_PER_MIN"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "0"})


def test_every_setting_names_its_variable_and_says_what_it_is() -> None:
    variables = [env_var(item) for item in fields(Settings)]
    assert all(v.name and v.doc.strip() and "\n" not in v.doc for v in variables)
    assert len({v.name for v in variables}) == len(variables)  # one variable per field
    masked = {item.name for item in fields(Settings) if env_var(item).secret}
    assert masked == {"llm_api_key", "api_key", "redis_url"}


def test_readme_configuration_table_lists_every_variable() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    listed = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)}
    variables = {env_var(item).name for item in fields(Settings)}
    assert variables - listed == set()
    assert listed - variables == set()  # and nothing the service does not read
