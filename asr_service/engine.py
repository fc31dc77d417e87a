"""Composition of loaded models into workers and pipelines the service uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import Settings
from .pipeline import OfflinePipeline
from .roles import SpeechDetector, SpeechRecognizer
from .scheduler import ModelWorker, Priority, ScheduledDetector, ScheduledRecognizer

if TYPE_CHECKING:
    from .models import ModelSet


@dataclass
class Engine:
    """What a request needs: the offline pipeline plus descriptions of the models behind it."""

    offline: OfflinePipeline
    offline_model_name: str
    device: str
    models: list[dict[str, Any]]
    workers: list[ModelWorker] = field(default_factory=list)

    def close(self) -> None:
        """Stop the model workers after their queued jobs."""
        for worker in self.workers:
            worker.stop()


def build_engine(
    settings: Settings,
    detector: SpeechDetector,
    recognizer: SpeechRecognizer,
    offline_model_name: str,
    device: str,
    models: list[dict[str, Any]],
) -> Engine:
    """Give each model its own worker thread and wire the offline pipeline to them."""
    vad_worker, offline_worker = ModelWorker("vad"), ModelWorker("offline")
    pipeline = OfflinePipeline(
        ScheduledDetector(detector, vad_worker, Priority.BACKGROUND),
        ScheduledRecognizer(recognizer, offline_worker, Priority.BACKGROUND),
        max_sentence_ms=int(settings.max_sentence_s * 1000),
        clips_per_call=settings.offline_batch_size,
    )
    return Engine(pipeline, offline_model_name, device, models, [vad_worker, offline_worker])


def load_engine(settings: Settings) -> Engine:
    """Load every model role from the settings and build the engine (raises ModelLoadError)."""
    from . import models as funasr_models  # heavy: torch and funasr load here, once

    return engine_from_models(settings, funasr_models.load_models(settings))


def engine_from_models(settings: Settings, loaded: ModelSet) -> Engine:
    """Build the engine around already loaded FunASR models."""
    from . import models as funasr_models

    offline = loaded.loaded["offline"]
    return build_engine(
        settings,
        funasr_models.FunasrVad(loaded.loaded["vad"].model),
        # Padded batches only pay off on a GPU; on CPU one clip at a time is as fast and exact.
        funasr_models.SenseVoiceRecognizer(
            offline.model, settings.offline_batch_size if loaded.device.startswith("cuda") else 1
        ),
        offline_model_name=offline.path.name,
        device=loaded.device,
        models=loaded.describe(),
    )
