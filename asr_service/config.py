"""Service settings: one typed object, read from the environment once at start-up."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_STREAMING_MODEL = "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online"
DEFAULT_PUNC_MODEL = "iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727"
DEFAULT_VAD_MODEL = "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch"
DEFAULT_OFFLINE_MODEL = "iic/SenseVoiceSmall"

SENSEVOICE_LANGUAGES = ("auto", "zh", "en", "yue", "ja", "ko", "nospeech")
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _env(name: str, env: Mapping[str, str]) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _parse(name: str, env: Mapping[str, str], default: T, convert: Callable[[str], T]) -> T:
    raw = _env(name, env)
    if raw is None:
        return default
    try:
        return convert(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not valid: {exc}") from exc


def _bool(raw: str) -> bool:
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or a positive integer")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < math.inf:
        raise ValueError("must be 0 or a positive number")
    return value


def _ratio(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 1:
        raise ValueError("must be a number above 0 and at most 1")
    return value


def _device(raw: str) -> str:
    low = raw.lower()
    if low in ("auto", "cpu", "mps", "cuda") or low.startswith("cuda:"):
        return low
    raise ValueError("expected auto, cpu, mps, cuda or cuda:N")


def _language(raw: str) -> str:
    if raw not in SENSEVOICE_LANGUAGES:
        raise ValueError(f"expected one of {', '.join(SENSEVOICE_LANGUAGES)}")
    return raw


def _log_format(raw: str) -> str:
    low = raw.lower()
    if low not in LOG_FORMATS:
        raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}")
    return low


def _redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return raw


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with; see README "Configuration"."""

    host: str = "0.0.0.0"
    port: int = 5006
    device: str = "auto"
    use_mps: bool = True
    threads: int = 1
    modelscope_cache: str | None = None
    hf_home: str | None = None
    streaming_model: str = DEFAULT_STREAMING_MODEL
    punc_model: str = DEFAULT_PUNC_MODEL
    vad_model: str = DEFAULT_VAD_MODEL
    offline_model: str = DEFAULT_OFFLINE_MODEL
    data_dir: Path = field(default_factory=lambda: Path("data"))
    hotwords_file: Path = field(default_factory=lambda: Path("hotwords.json"))
    llm_api_url: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_model: str = "qwen3:8b"
    llm_timeout_s: float = 30.0
    llm_budget_s: float = 20.0
    llm_window_sentences: int = 12
    llm_max_edit_ratio: float = 0.35
    llm_concurrency: int = 2
    llm_breaker_failures: int = 3
    llm_breaker_cooldown_s: float = 60.0
    hotwords_pinyin_threshold: float = 0.85
    hotwords_pinyin_min_chars: int = 2
    api_key: str | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()
    max_upload_mb: float = 200.0
    max_audio_s: float = 4 * 3600.0
    max_uploads: int = 2  # uploads transcribed at once; the next gets 503 busy
    max_decode_ratio: float = 1000.0  # decoded 16 kHz PCM16 bytes per uploaded byte
    max_decode_cpu_s: float = 300.0
    max_sessions: int = 32
    max_sentence_s: float = 15.0
    max_session_s: float = 4 * 3600.0
    max_frame_bytes: int = 64000
    resume_grace_s: float = 60.0
    idle_timeout_s: float = 60.0  # a recording without audio this long is stopped (0: never)
    retention_s: float = 72 * 3600.0
    default_language: str = "auto"
    use_itn: bool = True
    offline_batch_size: int = 8
    streaming_lanes: int = 0  # 0: one per CPU core's worth of ASR_THREADS on CPU, 1 on a GPU
    streaming_gather_ms: int = 150  # most a streaming call waits for its lane's other streams
    warmup: bool = True
    log_level: str = "INFO"
    log_format: str = "text"
    log_file: Path | None = None
    redis_url: str | None = None
    metrics: bool = True
    public_ops: bool = True  # /readyz and /metrics answer without ASR_API_KEY (probes, Prometheus)
    http_threads: int = 64
    shutdown_grace_s: float = 30.0
    # connections and transport (docs/security.md "Connections and transport")
    reserved_threads: int = 4  # ASR_HTTP_THREADS kept for plain HTTP: sockets get the rest
    max_unconnected_sockets: int = 8  # Engine.IO sockets that have not completed the Socket.IO connect
    connect_timeout_s: float = 10.0  # ... and how long each may take to do so
    read_timeout_s: float = 30.0  # longest wait for the next bytes of a request body
    min_body_rate_kbps: float = 16.0  # kB/s a request body must average after the first read_timeout_s
    resume_per_min: int = 10  # resume_recording attempts per connection per minute (x10 per address)

    @property
    def socket_threads(self) -> int:
        """Long-lived socket requests (websockets, long-polls) allowed at once."""
        return self.http_threads - self.reserved_threads

    def __post_init__(self) -> None:
        # Resolved once, against the working directory at start-up: every later use (the spool
        # writing, Flask's send_file, which resolves relative paths against the package) agrees.
        for name in ("data_dir", "hotwords_file", "log_file"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).resolve())

    @property
    def max_upload_bytes(self) -> int:
        """Upload limit in bytes, as Flask's MAX_CONTENT_LENGTH wants it."""
        return int(self.max_upload_mb * 1024 * 1024)

    def public_view(self) -> dict[str, Any]:
        """Settings safe to show in logs and health output (secrets masked)."""
        view: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in ("llm_api_key", "api_key", "redis_url"):  # a Redis URL may carry a password
                value = "***" if value else None
            view[item.name] = str(value) if isinstance(value, Path) else value
        return view

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (os.environ by default)."""
        e = os.environ if env is None else env
        d = cls()
        settings = cls(
            host=_env("ASR_HOST", e) or d.host,
            port=_parse("ASR_PORT", e, d.port, _positive_int),
            device=_parse("ASR_DEVICE", e, d.device, _device),
            use_mps=_parse("USE_MPS", e, d.use_mps, _bool),
            threads=_parse("ASR_THREADS", e, d.threads, _positive_int),
            modelscope_cache=_env("MODELSCOPE_CACHE", e),
            hf_home=_env("HF_HOME", e),
            streaming_model=_env("ASR_STREAMING_MODEL", e) or d.streaming_model,
            punc_model=_env("ASR_PUNC_MODEL", e) or d.punc_model,
            vad_model=_env("ASR_VAD_MODEL", e) or d.vad_model,
            offline_model=_env("ASR_OFFLINE_MODEL", e) or d.offline_model,
            data_dir=Path(_env("ASR_DATA_DIR", e) or d.data_dir),
            hotwords_file=Path(_env("HOTWORDS_FILE", e) or d.hotwords_file),
            llm_api_url=_env("LLM_API_URL", e),
            llm_api_key=_env("LLM_API_KEY", e),
            llm_model=_env("LLM_MODEL", e) or d.llm_model,
            llm_timeout_s=_parse("LLM_TIMEOUT_S", e, d.llm_timeout_s, _positive_float),
            llm_budget_s=_parse("LLM_BUDGET_S", e, d.llm_budget_s, _positive_float),
            llm_window_sentences=_parse("LLM_WINDOW_SENTENCES", e, d.llm_window_sentences, _positive_int),
            llm_max_edit_ratio=_parse("LLM_MAX_EDIT_RATIO", e, d.llm_max_edit_ratio, _ratio),
            llm_concurrency=_parse("LLM_CONCURRENCY", e, d.llm_concurrency, _positive_int),
            llm_breaker_failures=_parse("LLM_BREAKER_FAILURES", e, d.llm_breaker_failures, _positive_int),
            llm_breaker_cooldown_s=_parse(
                "LLM_BREAKER_COOLDOWN_S", e, d.llm_breaker_cooldown_s, _positive_float
            ),
            hotwords_pinyin_threshold=_parse(
                "HOTWORDS_PINYIN_THRESHOLD", e, d.hotwords_pinyin_threshold, _ratio
            ),
            hotwords_pinyin_min_chars=_parse(
                "HOTWORDS_PINYIN_MIN_CHARS", e, d.hotwords_pinyin_min_chars, _positive_int
            ),
            api_key=_env("ASR_API_KEY", e),
            cors_origins=_parse("ASR_CORS_ORIGINS", e, d.cors_origins, _origins),
            max_upload_mb=_parse("ASR_MAX_UPLOAD_MB", e, d.max_upload_mb, _positive_float),
            max_audio_s=_parse("ASR_MAX_AUDIO_S", e, d.max_audio_s, _positive_float),
            max_uploads=_parse("ASR_MAX_UPLOADS", e, d.max_uploads, _positive_int),
            max_decode_ratio=_parse("ASR_MAX_DECODE_RATIO", e, d.max_decode_ratio, _positive_float),
            max_decode_cpu_s=_parse("ASR_MAX_DECODE_CPU_S", e, d.max_decode_cpu_s, _positive_float),
            max_sessions=_parse("ASR_MAX_SESSIONS", e, d.max_sessions, _positive_int),
            max_sentence_s=_parse("ASR_MAX_SENTENCE_S", e, d.max_sentence_s, _positive_float),
            max_session_s=_parse("ASR_MAX_SESSION_S", e, d.max_session_s, _positive_float),
            max_frame_bytes=_parse("ASR_MAX_FRAME_BYTES", e, d.max_frame_bytes, _positive_int),
            resume_grace_s=_parse("ASR_RESUME_GRACE_S", e, d.resume_grace_s, _positive_float),
            idle_timeout_s=_parse("ASR_IDLE_TIMEOUT_S", e, d.idle_timeout_s, _non_negative_float),
            retention_s=_parse("ASR_RETENTION_S", e, d.retention_s, _positive_float),
            default_language=_parse("ASR_LANGUAGE", e, d.default_language, _language),
            use_itn=_parse("ASR_USE_ITN", e, d.use_itn, _bool),
            offline_batch_size=_parse("ASR_OFFLINE_BATCH", e, d.offline_batch_size, _positive_int),
            streaming_lanes=_parse("ASR_STREAMING_LANES", e, d.streaming_lanes, _non_negative_int),
            streaming_gather_ms=_parse(
                "ASR_STREAMING_GATHER_MS", e, d.streaming_gather_ms, _non_negative_int
            ),
            warmup=_parse("ASR_WARMUP", e, d.warmup, _bool),
            log_level=(_env("ASR_LOG_LEVEL", e) or d.log_level).upper(),
            log_format=_parse("ASR_LOG_FORMAT", e, d.log_format, _log_format),
            log_file=_parse("ASR_LOG_FILE", e, d.log_file, Path),
            redis_url=_parse("ASR_REDIS_URL", e, d.redis_url, _redis_url),
            metrics=_parse("ASR_METRICS", e, d.metrics, _bool),
            public_ops=_parse("ASR_PUBLIC_OPS", e, d.public_ops, _bool),
            http_threads=_parse("ASR_HTTP_THREADS", e, d.http_threads, _positive_int),
            shutdown_grace_s=_parse("ASR_SHUTDOWN_GRACE_S", e, d.shutdown_grace_s, _positive_float),
            **_transport_from_env(e, d),
        )
        if settings.reserved_threads >= settings.http_threads:
            raise SettingsError(
                f"ASR_RESERVED_THREADS={settings.reserved_threads} leaves no thread of "
                f"ASR_HTTP_THREADS={settings.http_threads} for sockets"
            )
        return settings


def _transport_from_env(e: Mapping[str, str], d: Settings) -> dict[str, Any]:
    """The connection and transport bounds."""
    return {
        "reserved_threads": _parse("ASR_RESERVED_THREADS", e, d.reserved_threads, _non_negative_int),
        "max_unconnected_sockets": _parse(
            "ASR_MAX_UNCONNECTED_SOCKETS", e, d.max_unconnected_sockets, _positive_int
        ),
        "connect_timeout_s": _parse("ASR_CONNECT_TIMEOUT_S", e, d.connect_timeout_s, _positive_float),
        "read_timeout_s": _parse("ASR_READ_TIMEOUT_S", e, d.read_timeout_s, _positive_float),
        "min_body_rate_kbps": _parse("ASR_MIN_BODY_RATE_KBPS", e, d.min_body_rate_kbps, _positive_float),
        "resume_per_min": _parse("ASR_RESUME_PER_MIN", e, d.resume_per_min, _positive_int),
    }
