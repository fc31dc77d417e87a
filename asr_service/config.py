"""Service settings: one typed object, read from the environment once at start-up."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_STREAMING_MODEL = "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online"
DEFAULT_PUNC_MODEL = "iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727"
DEFAULT_VAD_MODEL = "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch"
DEFAULT_OFFLINE_MODEL = "iic/SenseVoiceSmall"
DEFAULT_SPEAKER_MODEL = "iic/speech_campplus_sv_zh-cn_16k-common"

SENSEVOICE_LANGUAGES = ("auto", "zh", "en", "yue", "ja", "ko", "nospeech")
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class EnvVar:
    """Where a setting comes from: its variable, how its text is read, and what it means."""

    name: str
    parse: Callable[[str], Any]
    doc: str
    secret: bool = False  # masked in public_view and left out of repr
    keep_blank: bool = False  # a set but blank variable is read as "" (turns a feature off)

    def read(self, env: Mapping[str, str]) -> tuple[bool, Any]:
        """(True, value) when the variable is set (and not blank, unless blank is kept); SettingsError
        names it if invalid."""
        raw = env.get(self.name)
        if raw is None or (raw.strip() == "" and not self.keep_blank):
            return False, None
        raw = raw.strip()
        try:
            return True, self.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{self.name}={raw!r} is not valid: {exc}") from exc


def setting(
    name: str,
    default: Any,
    parse: Callable[[str], Any],
    doc: str,
    secret: bool = False,
    keep_blank: bool = False,
) -> Any:
    """A Settings field read from the variable `name` with `parse`; `doc` is its one-line meaning."""
    env = EnvVar(name, parse, doc, secret, keep_blank)
    return field(default=default, repr=not secret, metadata={"env": env})


def env_var(item: Field[Any]) -> EnvVar:
    """The variable behind a Settings field."""
    found: EnvVar = item.metadata["env"]
    return found


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

    host: str = setting("ASR_HOST", "0.0.0.0", str, "address to listen on")
    port: int = setting("ASR_PORT", 5006, _positive_int, "port to listen on")
    device: str = setting("ASR_DEVICE", "auto", _device, "auto (CUDA, MPS, CPU), cpu, cuda, cuda:N or mps")
    use_mps: bool = setting("USE_MPS", True, _bool, "whether auto may pick Apple's MPS")
    threads: int = setting("ASR_THREADS", 1, _positive_int, "torch threads per model call")
    modelscope_cache: str | None = setting("MODELSCOPE_CACHE", None, str, "ModelScope model cache")
    hf_home: str | None = setting("HF_HOME", None, str, "Hugging Face cache")
    streaming_model: str = setting(
        "ASR_STREAMING_MODEL", DEFAULT_STREAMING_MODEL, str, "streaming ASR: ModelScope id or directory"
    )
    punc_model: str = setting("ASR_PUNC_MODEL", DEFAULT_PUNC_MODEL, str, "realtime punctuation model")
    vad_model: str = setting("ASR_VAD_MODEL", DEFAULT_VAD_MODEL, str, "voice activity detection model")
    offline_model: str = setting("ASR_OFFLINE_MODEL", DEFAULT_OFFLINE_MODEL, str, "offline ASR model")
    speaker_model: str = setting(
        "ASR_SPEAKER_MODEL",
        DEFAULT_SPEAKER_MODEL,
        str,
        "speaker embedding model; set but empty: none loaded (no speakers)",
        keep_blank=True,
    )
    data_dir: Path = setting("ASR_DATA_DIR", Path("data"), Path, "recordings, results and resume states")
    hotwords_file: Path = setting("HOTWORDS_FILE", Path("hotwords.json"), Path, "hotword list (hot reload)")
    llm_api_url: str | None = setting("LLM_API_URL", None, str, "OpenAI-compatible server; none: no LLM")
    llm_api_key: str | None = setting("LLM_API_KEY", None, str, "the LLM's bearer token", secret=True)
    llm_model: str = setting("LLM_MODEL", "qwen3:8b", str, "LLM model name")
    llm_timeout_s: float = setting("LLM_TIMEOUT_S", 30.0, _positive_float, "time limit of one LLM request")
    llm_budget_s: float = setting("LLM_BUDGET_S", 20.0, _positive_float, "most time the LLM adds to a result")
    llm_window_sentences: int = setting(
        "LLM_WINDOW_SENTENCES", 12, _positive_int, "sentences per LLM request"
    )
    llm_max_edit_ratio: float = setting(
        "LLM_MAX_EDIT_RATIO", 0.35, _ratio, "largest share of a sentence the LLM may change"
    )
    llm_concurrency: int = setting("LLM_CONCURRENCY", 2, _positive_int, "LLM requests in flight at once")
    llm_breaker_failures: int = setting(
        "LLM_BREAKER_FAILURES", 3, _positive_int, "failed LLM calls in a row that stop further calls"
    )
    llm_breaker_cooldown_s: float = setting(
        "LLM_BREAKER_COOLDOWN_S", 60.0, _positive_float, "how long the stopped LLM is left alone"
    )
    hotwords_pinyin_threshold: float = setting(
        "HOTWORDS_PINYIN_THRESHOLD", 0.85, _ratio, "pinyin similarity a replaced span needs"
    )
    hotwords_pinyin_min_chars: int = setting(
        "HOTWORDS_PINYIN_MIN_CHARS", 2, _positive_int, "shortest Chinese hotword matched by sound"
    )
    api_key: str | None = setting("ASR_API_KEY", None, str, "key every endpoint needs, if set", secret=True)
    cors_origins: tuple[str, ...] = setting("ASR_CORS_ORIGINS", (), _origins, "browser origins allowed")
    max_upload_mb: float = setting("ASR_MAX_UPLOAD_MB", 200.0, _positive_float, "largest upload")
    max_audio_s: float = setting("ASR_MAX_AUDIO_S", 4 * 3600.0, _positive_float, "longest decoded upload")
    max_uploads: int = setting("ASR_MAX_UPLOADS", 2, _positive_int, "uploads transcribed at once; next: busy")
    max_decode_ratio: float = setting(
        "ASR_MAX_DECODE_RATIO", 1000.0, _positive_float, "decoded 16 kHz PCM16 bytes per uploaded byte"
    )
    max_decode_cpu_s: float = setting(
        "ASR_MAX_DECODE_CPU_S", 300.0, _positive_float, "CPU seconds one upload's decoding may take"
    )
    max_sessions: int = setting("ASR_MAX_SESSIONS", 32, _positive_int, "concurrent live recordings")
    max_sentence_s: float = setting("ASR_MAX_SENTENCE_S", 15.0, _positive_float, "longest sentence")
    max_session_s: float = setting("ASR_MAX_SESSION_S", 4 * 3600.0, _positive_float, "longest live recording")
    max_frame_bytes: int = setting("ASR_MAX_FRAME_BYTES", 64000, _positive_int, "largest audio_data frame")
    resume_grace_s: float = setting(
        "ASR_RESUME_GRACE_S", 60.0, _positive_float, "how long a dropped recording waits to be resumed"
    )
    idle_timeout_s: float = setting(
        "ASR_IDLE_TIMEOUT_S",
        60.0,
        _non_negative_float,
        "a recording without audio this long stops (0: never)",
    )
    retention_s: float = setting("ASR_RETENTION_S", 72 * 3600.0, _positive_float, "how long files are kept")
    default_language: str = setting("ASR_LANGUAGE", "auto", _language, "offline model's default language")
    use_itn: bool = setting("ASR_USE_ITN", True, _bool, "inverse text normalisation by default")
    offline_batch_size: int = setting("ASR_OFFLINE_BATCH", 8, _positive_int, "clips per offline call (CUDA)")
    streaming_lanes: int = setting(
        "ASR_STREAMING_LANES", 0, _non_negative_int, "streaming model handles; 0: by CPU cores, 1 on a GPU"
    )
    streaming_gather_ms: int = setting(
        "ASR_STREAMING_GATHER_MS", 150, _non_negative_int, "most a streaming call waits for its lane's others"
    )
    warmup: bool = setting("ASR_WARMUP", True, _bool, "run each model once at start-up")
    log_level: str = setting("ASR_LOG_LEVEL", "INFO", str.upper, "level of the service's log lines")
    log_format: str = setting("ASR_LOG_FORMAT", "text", _log_format, "text or json")
    log_file: Path | None = setting("ASR_LOG_FILE", None, Path, "also append log lines to this file")
    redis_url: str | None = setting(
        "ASR_REDIS_URL", None, _redis_url, "Socket.IO message queue shared by processes", secret=True
    )
    metrics: bool = setting("ASR_METRICS", True, _bool, "serve Prometheus metrics at /metrics")
    public_ops: bool = setting("ASR_PUBLIC_OPS", True, _bool, "/readyz and /metrics answer without the key")
    http_threads: int = setting("ASR_HTTP_THREADS", 64, _positive_int, "gunicorn threads")
    shutdown_grace_s: float = setting(
        "ASR_SHUTDOWN_GRACE_S", 30.0, _positive_float, "time final passes get on SIGTERM"
    )
    # connections and transport (docs/security.md "Connections and transport")
    reserved_threads: int = setting(
        "ASR_RESERVED_THREADS", 4, _non_negative_int, "ASR_HTTP_THREADS kept for plain HTTP"
    )
    max_unconnected_sockets: int = setting(
        "ASR_MAX_UNCONNECTED_SOCKETS", 16, _positive_int, "Engine.IO sockets not yet Socket.IO-connected"
    )
    connect_timeout_s: float = setting(
        "ASR_CONNECT_TIMEOUT_S", 10.0, _positive_float, "how long each may take to connect"
    )
    read_timeout_s: float = setting(
        "ASR_READ_TIMEOUT_S", 30.0, _positive_float, "longest wait for the next bytes of a request body"
    )
    min_body_rate_kbps: float = setting(
        "ASR_MIN_BODY_RATE_KBPS", 16.0, _positive_float, "kB/s a body must average after ASR_READ_TIMEOUT_S"
    )
    resume_per_min: int = setting(
        "ASR_RESUME_PER_MIN", 10, _positive_int, "resume_recording attempts per connection per minute"
    )

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
            if env_var(item).secret:  # keys, and a Redis URL, which may carry a password
                value = "***" if value else None
            view[item.name] = str(value) if isinstance(value, Path) else value
        return view

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (os.environ by default); unset or blank ones
        keep their defaults."""
        source = os.environ if env is None else env
        values = {}
        for item in fields(cls):
            present, value = env_var(item).read(source)
            if present:
                values[item.name] = value
        settings = cls(**values)
        if settings.reserved_threads >= settings.http_threads:
            raise SettingsError(
                f"ASR_RESERVED_THREADS={settings.reserved_threads} leaves no thread of "
                f"ASR_HTTP_THREADS={settings.http_threads} for sockets"
            )
        return settings
