"""The service core: readiness while models load, and file transcription. Framework-free."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from .audio import decode_audio
from .config import Settings
from .correction import Corrector
from .engine import Engine
from .errors import EmptyUpload, NotReady
from .pipeline import ProgressFn, RecognitionOptions
from .results import ResultStore
from .segments import join_texts
from .spool import RecordingStore

log = logging.getLogger(__name__)

_SWEEP_EVERY_S = 1.0
_RETENTION_SWEEP_EVERY_S = 600.0


def recording_store(settings: Settings) -> RecordingStore:
    """Where live recordings (spools and backups) live."""
    return RecordingStore(settings.data_dir / "recordings", settings.retention_s)


def result_store(settings: Settings) -> ResultStore:
    """Where finished live results live."""
    return ResultStore(settings.data_dir / "results", settings.retention_s)


@dataclass(frozen=True)
class FileRequest:
    """A file to transcribe and how."""

    stream: IO[bytes]
    filename: str
    options: RecognitionOptions
    timestamps: bool = True
    hotwords: tuple[str, ...] = ()
    llm_correct: bool = False


class AsrService:
    """Holds the engine once loaded; answers 'not ready' until then. Text correction works from the start."""

    def __init__(
        self, settings: Settings, loader: Callable[[], Engine], corrector: Corrector | None = None
    ) -> None:
        self.settings = settings
        self._loader = loader
        self.corrector = corrector or Corrector.from_settings(settings)
        self._engine: Engine | None = None
        self._state = "loading"
        self._message = "models are loading"
        self._started = time.monotonic()
        self.recordings = recording_store(settings)
        self.results = result_store(settings)
        self._stop = threading.Event()
        self._janitor: threading.Thread | None = None
        recovered = self.recordings.recover()
        if recovered:
            log.warning("%d recordings interrupted by a restart were kept as backups", len(recovered))

    def start_janitor(self) -> None:
        """Expire parked sessions every second and delete old files every ten minutes."""
        if self._janitor is not None:
            return

        def loop() -> None:
            last_retention = 0.0
            while not self._stop.wait(_SWEEP_EVERY_S):
                try:
                    if self._engine is not None:
                        self._engine.sessions.sweep()
                    if time.monotonic() - last_retention > _RETENTION_SWEEP_EVERY_S:
                        last_retention = time.monotonic()
                        self.recordings.sweep()
                        self.results.sweep()
                except Exception:
                    log.exception("janitor sweep failed; trying again")

        self._janitor = threading.Thread(target=loop, name="janitor", daemon=True)
        self._janitor.start()

    def load(self) -> None:
        """Load the engine now, in this thread; re-raises the loader's error after recording it."""
        try:
            self.corrector.warm_up()
            engine = self._loader()
        except Exception as exc:
            self._state, self._message = "failed", str(exc)
            raise
        self._engine, self._state, self._message = engine, "ready", "models loaded"

    def load_in_background(self, on_failure: Callable[[BaseException], None]) -> threading.Thread:
        """Start loading on a thread so the web server answers /api/health meanwhile."""

        def run() -> None:
            try:
                self.load()
            except Exception as exc:
                on_failure(exc)

        thread = threading.Thread(target=run, name="model-loader", daemon=True)
        thread.start()
        return thread

    @property
    def ready(self) -> bool:
        """Whether models are loaded and warmed up."""
        return self._engine is not None

    def health(self) -> dict[str, Any]:
        """Readiness in the /api/health shape."""
        engine = self._engine
        return {
            "status": "ok" if engine else self._state,
            "message": self._message,
            "models_loaded": engine is not None,
            "device": engine.device if engine else None,
            "uptime_s": round(time.monotonic() - self._started, 1),
        }

    def engine(self) -> Engine:
        """The loaded engine, or NotReady."""
        if self._engine is None:
            raise NotReady(f"the service is not ready: {self._message}")
        return self._engine

    def transcribe_file(self, request: FileRequest, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Decode and transcribe an upload into the REST `data` object."""
        engine = self.engine()
        if _is_empty(request.stream):
            raise EmptyUpload("the uploaded file is empty (0 bytes)")
        started = time.perf_counter()
        audio = decode_audio(request.stream, self.settings.max_audio_s)
        decoded = time.perf_counter()
        transcript = engine.offline.transcribe(audio.samples, request.options, progress)
        recognised = time.perf_counter()
        corrected = self.corrector.correct(transcript.sentences, request.hotwords, request.llm_correct)
        text = join_texts([s.text for s in corrected.sentences])
        log.info(
            "transcribed %s: %s, %d ms audio, decode %.2f s, asr %.2f s, correction %.2f s (llm %s), "
            "%d sentences, %d replacements",
            request.filename,
            audio.container,
            audio.duration_ms,
            decoded - started,
            recognised - decoded,
            time.perf_counter() - recognised,
            corrected.llm_status,
            len(transcript.sentences),
            len(corrected.corrections),
        )
        data: dict[str, Any] = {
            "text": text,
            "length": len(text),
            "model": engine.offline_model_name,
            "duration_ms": transcript.duration_ms,
            "filename": request.filename,
            "mode": "offline",
            "language": request.options.language,
            "corrections": corrected.corrections,
            "llm_status": corrected.llm_status,
        }
        if request.llm_correct:
            data["llm_windows"] = corrected.llm_windows
        if request.timestamps:
            data["timestamps"] = [s.as_dict() for s in corrected.sentences]
        return data

    def close(self) -> None:
        """Stop the janitor, finish recordings and stop the engine's workers."""
        self._stop.set()
        if self._engine is not None:
            self._engine.close()
        self.corrector.close()


def _is_empty(stream: IO[bytes]) -> bool:
    position = stream.tell()
    first = stream.read(1)
    stream.seek(position)
    return not first
