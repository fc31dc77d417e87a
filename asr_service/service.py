"""The service core: readiness while models load, file transcription, sweeps and shutdown. Framework-free."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from . import metrics
from .audio import MediaInfo, decode_stream
from .config import Settings
from .correction import Corrector
from .data_stores import open_stores
from .decode_budget import DecodeBudget
from .decoded_file import DecodedFile, DecodeScratch
from .engine import Engine, load_engine
from .errors import EmptyUpload, NotReady, ServiceError
from .events import FileResult
from .handoff import SharedData
from .pipeline import ProgressFn, RecognitionOptions, spoken_language
from .segments import join_texts
from .upload_slots import UploadSlots

log = logging.getLogger(__name__)


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
    """Holds the engine once loaded; answers 'not ready' until then. Text correction works from the start.

    `stores` are the process's one set of stores under ASR_DATA_DIR, shared with the engine the
    loader builds (see from_settings); without them the service opens its own (tests).
    """

    def __init__(
        self,
        settings: Settings,
        loader: Callable[[], Engine],
        corrector: Corrector | None = None,
        stores: SharedData | None = None,
    ) -> None:
        self.settings = settings
        self._loader = loader
        self.corrector = corrector or Corrector.from_settings(settings)
        self._engine: Engine | None = None
        self._state = "loading"
        self._message = "models are loading"
        self._started = time.monotonic()
        self.stores = stores or open_stores(settings)
        self.recordings = self.stores.recordings
        self.results = self.stores.results
        self.handoff = self.stores.handoff
        self.uploads = UploadSlots(settings.max_uploads)
        self._scratch = DecodeScratch(settings.data_dir / "uploads")
        self._draining = False
        self._shutdown_lock = threading.Lock()
        self._drained = threading.Event()
        recovered = self.recordings.recover()
        if recovered:
            log.warning("%d recordings interrupted by a restart were kept as backups", len(recovered))

    @classmethod
    def from_settings(cls, settings: Settings) -> AsrService:
        """The service that loads the models named in the settings; stores and corrector are built
        once and shared by it, the engine (live sessions) and the API."""
        stores = open_stores(settings)
        corrector = Corrector.from_settings(settings)
        return cls(settings, functools.partial(load_engine, settings, stores, corrector), corrector, stores)

    def sweep_sessions(self) -> None:
        """Finalise parked sessions past ASR_RESUME_GRACE_S and adopt recordings of dead processes."""
        if self._engine is not None:
            self._engine.sessions.sweep()
            self._engine.takeover.adopt_orphans()

    def sweep_files(self) -> None:
        """Delete recordings, results and resume states older than ASR_RETENTION_S."""
        self.recordings.sweep()
        self.results.sweep()
        self.handoff.sweep()

    def load(self) -> None:
        """Load the engine now, in this thread; re-raises the loader's error after recording it."""
        try:
            self.corrector.warm_up()
            engine = self._loader()
        except Exception as exc:
            self._state, self._message = "failed", str(exc)
            raise
        self._engine, self._state, self._message = engine, "ready", "models loaded"

    @property
    def ready(self) -> bool:
        """Whether models are loaded and warmed up."""
        return self._engine is not None

    def readiness(self) -> tuple[bool, str]:
        """Whether to send this process traffic (/readyz), and why not: loading, failed or draining."""
        if self._draining:
            return False, "shutting down: new sessions go to other processes"
        if self._engine is None:
            return False, self._message
        return True, "models loaded and warmed up"

    @property
    def draining(self) -> bool:
        """Whether shutdown has begun (new sessions and uploads are refused)."""
        return self._draining

    def session_counts(self) -> tuple[int, int]:
        """(active, parked) live recordings, for metrics."""
        engine = self._engine
        return (engine.sessions.active, engine.sessions.parked) if engine else (0, 0)

    def queue_depths(self) -> dict[str, int]:
        """Jobs waiting per model worker, for metrics."""
        return self._engine.queue_depths() if self._engine else {}

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

    def transcribe_file(self, request: FileRequest, progress: ProgressFn | None = None) -> FileResult:
        """Decode and transcribe an upload (Busy past ASR_MAX_UPLOADS); its wire form is the REST `data`."""
        engine = self.engine()
        if self._draining:
            raise NotReady("the service is shutting down; send the file again (another process will take it)")
        size = _size(request.stream)
        if size == 0:
            raise EmptyUpload("the uploaded file is empty (0 bytes)")
        with self.uploads.hold(), self._scratch.new() as decoded:
            metrics.UPLOAD_BYTES.observe(size)
            started = time.perf_counter()
            info = self._decode(request.stream, size, decoded)
            decoded_at = time.perf_counter()
            metrics.observe_stage("upload_decode", decoded_at - started)
            transcript = engine.offline.transcribe(decoded, request.options, progress)
        recognised = time.perf_counter()
        metrics.observe_stage("upload_recognize", recognised - decoded_at)
        metrics.add_audio("upload", info.duration_ms / 1000)
        corrected = self.corrector.correct(transcript.sentences, request.hotwords, request.llm_correct)
        text = join_texts([s.text for s in corrected.sentences])
        log.info(
            "transcribed %s: %s, %d ms audio, decode %.2f s, asr %.2f s, correction %.2f s (llm %s), "
            "%d sentences, %d replacements, warnings %s",
            request.filename,
            info.container,
            info.duration_ms,
            decoded_at - started,
            recognised - decoded_at,
            time.perf_counter() - recognised,
            corrected.llm_status,
            len(transcript.sentences),
            len(corrected.corrections),
            [w.code for w in info.warnings] or "none",
        )
        return FileResult(
            text=text,
            model=engine.offline_model_name,
            duration_ms=transcript.duration_ms,
            filename=request.filename,
            language=spoken_language(corrected.sentences),
            language_requested=request.options.language,
            corrections=tuple(corrected.corrections),
            llm_status=corrected.llm_status,
            warnings=info.warnings,
            llm_windows=tuple(corrected.llm_windows) if request.llm_correct else None,
            timestamps=tuple(corrected.sentences) if request.timestamps else None,
        )

    def _decode(self, stream: IO[bytes], size: int, into: DecodedFile) -> MediaInfo:
        """Decode the upload into `into` within its budget; failures are counted by code."""
        budget = DecodeBudget(
            self.settings.max_audio_s, size, self.settings.max_decode_ratio, self.settings.max_decode_cpu_s
        )
        try:
            info = decode_stream(stream, budget, into.write)
        except ServiceError as exc:
            metrics.DECODE_FAILURES.labels(code=exc.code).inc()
            raise
        into.finish()
        return info

    def shutdown(self, grace_s: float) -> None:
        """SIGTERM: refuse new work, hand running recordings off for resume after a restart or on
        another process, and give final passes already running up to `grace_s`. Runs once."""
        with self._shutdown_lock:
            if self._draining:
                self._drained.wait()
                return
            self._draining = True
        try:
            if self._engine is not None:
                handed, unfinished = self._engine.drain(grace_s)
                log.info(
                    "shutdown: %d recordings handed off for resume, %d final passes unfinished after %.0f s",
                    handed,
                    unfinished,
                    grace_s,
                )
        finally:
            self._drained.set()

    def close(self) -> None:
        """Finish recordings and stop the engine's workers and the LLM's threads."""
        if self._engine is not None:
            self._engine.close()
        self.corrector.close()


def _size(stream: IO[bytes]) -> int:
    """Bytes left in a seekable upload stream (Werkzeug's are), without reading them."""
    position = stream.tell()
    end = stream.seek(0, 2)
    stream.seek(position)
    return end - position
