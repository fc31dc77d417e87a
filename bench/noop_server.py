"""The service with models that do no work: what transport, spooling and events cost on their own.

    ASR_PORT=5007 python bench/noop_server.py

Same app, sessions, spool and workers as the real service; only the model roles are replaced by
ones that return at once (no speech, no text), so the CPU it uses is the framework's.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asr_service.app import create_app, lifecycle_of
from asr_service.config import Settings
from asr_service.data_stores import open_stores
from asr_service.engine import Engine, ModelRoles, build_engine
from asr_service.logs import configure_logging
from asr_service.roles import Heard, RecognitionOptions, Span
from asr_service.service import AsrService


class NoSpeech:
    """Detector that hears nothing, offline or streaming."""

    def detect(self, audio: np.ndarray) -> list[Span]:
        """No spans."""
        return []

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> list[tuple[int, int]]:
        """No events."""
        return []


class NoWords:
    """Recognisers and punctuator that return no text."""

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        """One empty text per clip."""
        return [Heard("") for _ in clips]

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> str:
        """No text for the chunk."""
        return ""

    def punctuate(self, text: str, cache: dict[str, object]) -> str:
        """The text unchanged."""
        return text


def noop_service(settings: Settings) -> AsrService:
    """An AsrService whose engine runs the no-op models."""
    stores = open_stores(settings)

    def load() -> Engine:
        roles = ModelRoles(NoSpeech(), NoWords(), NoSpeech(), NoWords(), NoWords())
        return build_engine(settings, roles, stores, "noop", "cpu", [])

    return AsrService(settings, load, stores=stores)


def main() -> None:
    """Serve until killed."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    service = noop_service(settings)
    app, socketio = create_app(settings, service)
    lifecycle_of(app).start(exit_code=2)
    socketio.run(app, host=settings.host, port=settings.port, allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    main()
