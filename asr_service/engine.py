"""Composition of loaded models into workers, the offline pipeline and live sessions."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import Settings
from .connections import Connections
from .correction import Corrector
from .file_vad import WindowedVad
from .handoff import SharedData
from .live_types import LiveModels, SessionLimits
from .pipeline import OfflinePipeline
from .recording_session import RecordingSession
from .registry import SessionRegistry
from .roles import (
    Punctuator,
    SpeakerEmbedder,
    SpeechDetector,
    SpeechRecognizer,
    StreamingDetector,
    StreamingRecognizer,
)
from .scheduler import (
    Lanes,
    ModelWorker,
    OnWorker,
    Priority,
    ScheduledDetector,
    ScheduledRecognizer,
    StepBatcher,
)
from .takeover import HandoffWriter, Takeover

if TYPE_CHECKING:
    from .model_loading import ModelSet


@dataclass
class ModelRoles:
    """One object per model role, as the core sees them."""

    vad: SpeechDetector
    offline: SpeechRecognizer
    streaming_vad: StreamingDetector
    streaming: StreamingRecognizer
    punc: Punctuator
    # more handles on the streaming model, so live streams can run side by side (see Lanes)
    more_streaming: list[StreamingRecognizer] = field(default_factory=list)
    # the offline VAD reading uploads window by window; without it `vad` gets the whole audio
    file_vad: WindowedVad | None = None
    # speaker embeddings; None when ASR_SPEAKER_MODEL is empty
    speaker: SpeakerEmbedder | None = None


@dataclass
class Engine:
    """What requests need: the offline pipeline, live sessions, and descriptions of the models."""

    offline: OfflinePipeline
    sessions: SessionRegistry
    takeover: Takeover
    connections: Connections
    offline_model_name: str
    device: str
    models: list[dict[str, Any]]
    workers: list[ModelWorker] = field(default_factory=list)
    # the speaker model on its own worker (None when not configured); nothing calls it yet
    speaker: OnWorker[SpeakerEmbedder] | None = None

    def queue_depths(self) -> dict[str, int]:
        """Jobs waiting per model worker."""
        return {w.name: w.depth for w in self.workers}

    def drain(self, wait_s: float) -> tuple[int, int]:
        """Shutdown: hand running recordings off for resume elsewhere, let final passes finish."""
        return self.sessions.drain(wait_s)

    def close(self) -> None:
        """Finish running recordings, then stop the model workers after their queued jobs."""
        self.sessions.shutdown(wait_s=30.0)
        for worker in self.workers:
            worker.stop()


class SessionMaker:
    """Makes live sessions on the engine's models and stores (the registry's SessionFactory)."""

    def __init__(
        self, live: LiveModels, stores: SharedData, limits: SessionLimits, corrector: Corrector | None
    ) -> None:
        self._live, self._stores, self._limits, self._corrector = live, stores, limits, corrector

    def __call__(self, on_done: Callable[[RecordingSession], None], **identity: str) -> RecordingSession:
        """A session, new or (with its id and token) taken over; it reports its end to `on_done`."""
        return RecordingSession(
            self._live,
            self._stores.recordings,
            self._stores.results,
            self._limits,
            on_done=on_done,
            corrector=self._corrector,
            **identity,
        )


def build_engine(
    settings: Settings,
    roles: ModelRoles,
    stores: SharedData,
    offline_model_name: str,
    device: str,
    models: list[dict[str, Any]],
    corrector: Corrector | None = None,
) -> Engine:
    """Give each model its own worker thread and wire the pipelines to them; live results use `corrector`."""
    workers = {name: ModelWorker(name) for name in ("vad", "live-vad", "offline", "streaming", "punc")}
    vad_worker = workers["vad"]
    pipeline = OfflinePipeline(
        roles.file_vad.on(lambda fn: vad_worker.call(fn, Priority.BACKGROUND))
        if roles.file_vad
        else ScheduledDetector(roles.vad, vad_worker, Priority.BACKGROUND),
        ScheduledRecognizer(roles.offline, workers["offline"], Priority.BACKGROUND),
        max_sentence_ms=int(settings.max_sentence_s * 1000),
        clips_per_call=settings.offline_batch_size,
    )
    gather_s = settings.streaming_gather_ms / 1000
    lanes = [StepBatcher(roles.streaming, workers["streaming"], Priority.REALTIME, gather_s=gather_s)]
    for number, model in enumerate(roles.more_streaming, start=2):
        workers[f"streaming-{number}"] = ModelWorker(f"streaming-{number}")
        lanes.append(StepBatcher(model, workers[f"streaming-{number}"], Priority.REALTIME, gather_s=gather_s))
    live = LiveModels(
        vad=OnWorker(roles.streaming_vad, workers["live-vad"], Priority.REALTIME),
        asr=Lanes(lanes),
        punc=OnWorker(roles.punc, workers["punc"], Priority.REALTIME),
        offline=OnWorker(roles.offline, workers["offline"], Priority.SECOND_PASS),
    )
    limits = SessionLimits(
        max_frame_bytes=settings.max_frame_bytes,
        max_session_s=settings.max_session_s,
        max_sentence_ms=int(settings.max_sentence_s * 1000),
        idle_timeout_s=settings.idle_timeout_s,
    )
    make_session = SessionMaker(live, stores, limits, corrector)
    registry = SessionRegistry(
        make_session,
        max_active=settings.max_sessions,
        grace_s=settings.resume_grace_s,
        publish=HandoffWriter(stores.handoff),
    )
    takeover = Takeover(registry, stores)
    connections = Connections(registry, takeover)
    speaker = _speaker_on_worker(roles.speaker, workers)
    return Engine(
        pipeline,
        registry,
        takeover,
        connections,
        offline_model_name,
        device,
        models,
        list(workers.values()),
        speaker,
    )


def _speaker_on_worker(
    speaker: SpeakerEmbedder | None, workers: dict[str, ModelWorker]
) -> OnWorker[SpeakerEmbedder] | None:
    """The speaker model behind its own worker (added to `workers`), at background priority."""
    if speaker is None:
        return None
    workers["speaker"] = ModelWorker("speaker")
    return OnWorker(speaker, workers["speaker"], Priority.BACKGROUND)


def load_engine(settings: Settings, stores: SharedData, corrector: Corrector | None = None) -> Engine:
    """Load every model role from the settings and build the engine (raises ModelLoadError)."""
    from . import model_loading  # heavy: torch and funasr load here, once

    return engine_from_models(settings, model_loading.load_models(settings), stores, corrector)


def streaming_lane_count(settings: Settings, device: str) -> int:
    """ASR_STREAMING_LANES, or by default one per two CPU cores' worth of ASR_THREADS (1 on a GPU).

    Streams on one lane share each weight pass (StepBatcher), which on CPU beats running them on
    parallel lanes that compete for memory bandwidth; the other half of the cores is left to
    VAD, punctuation, the second pass, uploads and the transport.
    """
    if settings.streaming_lanes:
        return settings.streaming_lanes
    if device != "cpu":
        return 1
    return max(1, (os.cpu_count() or 1) // (2 * settings.threads))


# Windows per CAM++ call: on CPU 8 windows in one call took about 60% of the time of 8 calls.
SPEAKER_BATCH = 8


def engine_from_models(
    settings: Settings, loaded: ModelSet, stores: SharedData, corrector: Corrector | None = None
) -> Engine:
    """Build the engine around already loaded FunASR models."""
    from . import model_adapters as funasr_models  # heavy, as in load_engine

    offline = loaded.loaded["offline"]
    streams = loaded.streaming_lanes(streaming_lane_count(settings, loaded.device))
    roles = ModelRoles(
        vad=funasr_models.FunasrVad(loaded.loaded["vad"].model),
        # Padded batches only pay off on a GPU; on CPU one clip at a time is as fast and exact.
        offline=funasr_models.SenseVoiceRecognizer(
            offline.model, settings.offline_batch_size if loaded.device.startswith("cuda") else 1
        ),
        # live sessions get their own VAD instance (it is tiny), so a long upload never delays them
        streaming_vad=funasr_models.FsmnStreamingVad(loaded.second_vad()),
        streaming=funasr_models.ParaformerStreaming(streams[0]),
        punc=funasr_models.RealtimePunctuator(loaded.loaded["punc"].model),
        more_streaming=[funasr_models.ParaformerStreaming(m) for m in streams[1:]],
        file_vad=WindowedVad(loaded.loaded["vad"].model),
        speaker=funasr_models.CamppEmbedder(loaded.loaded["speaker"].model, SPEAKER_BATCH)
        if "speaker" in loaded.loaded
        else None,
    )
    return build_engine(
        settings, roles, stores, offline.path.name, loaded.device, loaded.describe(), corrector
    )
