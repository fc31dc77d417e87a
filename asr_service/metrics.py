"""Prometheus collectors for the whole process, kept in one registry; no label ever names a session."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# From one 600 ms chunk on a GPU (~10 ms) to a final pass of a long upload (minutes).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0)
_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
_SIZE_BUCKETS = tuple(float(1 << shift) for shift in range(14, 31, 2))  # 16 KiB .. 1 GiB

SESSIONS_ACTIVE = Gauge(
    "asr_sessions_active", "Live recordings running or parked on this process", registry=REGISTRY
)
SESSIONS_PARKED = Gauge(
    "asr_sessions_parked", "Live recordings waiting for their client to resume", registry=REGISTRY
)
AUDIO_SECONDS = Counter(
    "asr_audio_seconds", "Seconds of audio processed, by stage (live, upload)", ["stage"], registry=REGISTRY
)
STAGE_LATENCY = Histogram(
    "asr_stage_latency_seconds",
    "Latency by stage: first_pass_chunk (600 ms chunk heard to text), second_pass (segment queued to "
    "recognised), sentence_final (segment closed by the first pass to its sentence_final sent), "
    "final (stop to final_result), upload_decode, upload_recognize",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("asr_queue_depth", "Jobs waiting per model worker", ["worker"], registry=REGISTRY)
QUEUE_WAIT = Histogram(
    "asr_queue_wait_seconds",
    "Time a job waited for its model worker, by worker and priority",
    ["worker", "priority"],
    buckets=_WAIT_BUCKETS,
    registry=REGISTRY,
)
STREAM_BATCH = Histogram(
    "asr_streaming_batch_streams",
    "Live streams whose 600 ms chunks ran in one streaming-model call",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32),
    registry=REGISTRY,
)
LLM_CALLS = Counter(
    "asr_llm_calls", "LLM correction calls, by outcome (ok, error)", ["outcome"], registry=REGISTRY
)
LLM_FAILURES = Counter(
    "asr_llm_failures",
    "LLM correction failures, by reason (timeout, http, malformed, ...)",
    ["reason"],
    registry=REGISTRY,
)
LLM_LATENCY = Histogram(
    "asr_llm_latency_seconds", "LLM correction call latency", buckets=_LATENCY_BUCKETS, registry=REGISTRY
)
DECODE_FAILURES = Counter(
    "asr_decode_failures", "Uploads that could not be decoded, by error code", ["code"], registry=REGISTRY
)
UPLOAD_BYTES = Histogram(
    "asr_upload_bytes", "Size of uploaded files", buckets=_SIZE_BUCKETS, registry=REGISTRY
)
SESSION_EVENTS = Counter(
    "asr_session_events",
    "Session life-cycle events (started, resumed, adopted, parked_for_shutdown, finished, failed)",
    ["event"],
    registry=REGISTRY,
)


def observe_stage(stage: str, seconds: float) -> None:
    """Record one latency of a pipeline stage."""
    STAGE_LATENCY.labels(stage=stage).observe(max(0.0, seconds))


def add_audio(stage: str, seconds: float) -> None:
    """Count audio processed by a stage."""
    if seconds > 0:
        AUDIO_SECONDS.labels(stage=stage).inc(seconds)


def observe_queue_wait(worker: str, priority: str, seconds: float) -> None:
    """Record how long a job waited before its model worker ran it."""
    QUEUE_WAIT.labels(worker=worker, priority=priority).observe(max(0.0, seconds))


def observe_stream_batch(streams: int) -> None:
    """Record how many streams one streaming-model call served."""
    STREAM_BATCH.observe(streams)


def record_llm_call(seconds: float, failure: str | None = None) -> None:
    """For the LLM client: one call's latency, and its failure reason if it failed."""
    LLM_LATENCY.observe(max(0.0, seconds))
    LLM_CALLS.labels(outcome="ok" if failure is None else "error").inc()
    if failure is not None:
        LLM_FAILURES.labels(reason=failure).inc()


def count_session(event: str) -> None:
    """Count one session life-cycle event."""
    SESSION_EVENTS.labels(event=event).inc()


def render(sessions: Callable[[], tuple[int, int]] | None, depths: Mapping[str, int]) -> bytes:
    """The exposition text, after sampling the gauges that are read rather than pushed."""
    active, parked = sessions() if sessions is not None else (0, 0)
    SESSIONS_ACTIVE.set(active)
    SESSIONS_PARKED.set(parked)
    for worker, depth in depths.items():
        QUEUE_DEPTH.labels(worker=worker).set(depth)
    return generate_latest(REGISTRY)
