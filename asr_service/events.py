"""What the core tells clients: live events, the resume snapshot, live and file results, as typed values.

Each holds what it says once; its `to_wire()` gives the JSON object of docs/websocket.md and
openapi.yaml (key order, rounding and derived fields such as lengths included). The web layer
only sends that object; the core never builds the dicts itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .audio import MediaWarning
from .audio_units import samples_to_bytes, samples_to_ms, samples_to_s
from .live_types import SessionState
from .pipeline import Sentence


@dataclass(frozen=True)
class TranscriptionEvent:
    """`transcription`: the first-pass text not yet covered by sentence finals, and the VAD's view.

    `punc_text` and `full_text` (the whole transcript so far) only for clients that asked for them
    with `start_recording {full_text: true}`: they grow with the recording.
    """

    name: ClassVar[str] = "transcription"

    text: str
    partial_text: str
    is_final: bool
    vad_event: str | None
    is_speech_active: bool
    segment: int
    current_time_ms: int
    seq: int
    punc_text: str | None = None
    full_text: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The event's payload; `punc_text` and `full_text` only when they were asked for."""
        wire: dict[str, Any] = {"text": self.text}
        if self.punc_text is not None and self.full_text is not None:
            wire["punc_text"], wire["full_text"] = self.punc_text, self.full_text
        wire.update(
            partial_text=self.partial_text,
            is_final=self.is_final,
            vad_event=self.vad_event,
            is_speech_active=self.is_speech_active,
            segment=self.segment,
            current_time_ms=self.current_time_ms,
            seq=self.seq,
        )
        return wire


@dataclass(frozen=True)
class PushedSentence:
    """A final sentence as the client has it: its place in the recording, its revision, its fields."""

    index: int  # 0, 1, 2, ... over the recording's non-empty sentences
    revision: int  # 0 as first pushed, one more for each update
    fields: Mapping[str, Any]  # Sentence.as_dict()

    def to_wire(self) -> dict[str, Any]:
        """`{index, revision, text, start_ms, end_ms, ...}`."""
        return {"index": self.index, "revision": self.revision, **self.fields}


@dataclass(frozen=True)
class SentenceFinal:
    """`sentence_final`: a sentence of the second pass (after hotword replacement), pushed once."""

    name: ClassVar[str] = "sentence_final"

    sentence: PushedSentence

    def to_wire(self) -> dict[str, Any]:
        """The sentence's payload."""
        return self.sentence.to_wire()


@dataclass(frozen=True)
class SentenceUpdate:
    """`sentence_update`: a pushed sentence changed (by the LLM), with its new revision."""

    name: ClassVar[str] = "sentence_update"

    sentence: PushedSentence
    reason: str = "llm"

    def to_wire(self) -> dict[str, Any]:
        """The sentence's payload and why it changed."""
        return {**self.sentence.to_wire(), "reason": self.reason}


@dataclass(frozen=True)
class RecordingStopped:
    """`recording_stopped`: the first pass has consumed all the audio."""

    name: ClassVar[str] = "recording_stopped"

    session_id: str
    received_samples: int

    def to_wire(self) -> dict[str, Any]:
        """The event's payload."""
        return {"session_id": self.session_id, "duration_s": samples_to_s(self.received_samples)}


@dataclass(frozen=True)
class ProgressEvent:
    """`processing_progress` of a live recording's final pass (`stage`: second_pass, llm_correction, done)."""

    name: ClassVar[str] = "processing_progress"

    progress: float
    stage: str

    def to_wire(self) -> dict[str, Any]:
        """The event's payload, `progress` rounded to 3 decimals."""
        return {"progress": round(self.progress, 3), "stage": self.stage}


@dataclass(frozen=True)
class ErrorEvent:
    """`error`: a stable code for programs and a message for people."""

    name: ClassVar[str] = "error"

    code: str
    message: str

    def to_wire(self) -> dict[str, Any]:
        """The event's payload."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class SessionSnapshot:
    """`resume_result`: where a recording stands."""

    name: ClassVar[str] = "resume_result"

    session_id: str
    state: SessionState
    current_text: str
    received_samples: int
    pending_bytes: int  # a frame's odd trailing byte, waiting for the next frame
    last_seq: int
    sentences: tuple[PushedSentence, ...] = ()  # the sentences pushed so far, latest revision of each

    def to_wire(self) -> dict[str, Any]:
        """The event's payload; the audio received in seconds, milliseconds and bytes."""
        return {
            "success": True,
            "session_id": self.session_id,
            "state": self.state.value,
            "current_text": self.current_text,
            "duration_s": samples_to_s(self.received_samples),
            "received_ms": samples_to_ms(self.received_samples),
            "received_bytes": samples_to_bytes(self.received_samples) + self.pending_bytes,
            "last_seq": self.last_seq,
            "sentences": [s.to_wire() for s in self.sentences],
        }


@dataclass(frozen=True)
class RealtimeSegment:
    """One VAD segment of the first pass, with the punctuated text committed while it was the latest."""

    segment: int
    text: str
    start_ms: int
    end_ms: int

    def to_wire(self) -> dict[str, Any]:
        """An entry of `final_result.realtime_segments`."""
        return {"segment": self.segment, "text": self.text, "start_ms": self.start_ms, "end_ms": self.end_ms}


@dataclass(frozen=True)
class FinalResult:
    """`final_result`: a finished live recording (also stored, and served over REST, as its wire form)."""

    name: ClassVar[str] = "final_result"

    session_id: str
    paraformer: str
    paraformer_raw: str
    sensevoice: str
    llm_merged: str
    llm_status: str
    timestamps: tuple[Sentence, ...]
    corrections: tuple[dict[str, Any], ...]
    llm_windows: tuple[dict[str, Any], ...]
    realtime_segments: tuple[RealtimeSegment, ...]
    duration_ms: int
    language: str | None  # spoken most (pipeline.spoken_language); None when no sentence names one
    language_requested: str  # the session's language option

    def to_wire(self) -> dict[str, Any]:
        """The event's payload, with the texts' lengths; the backup audio has the session's id."""
        return {
            "session_id": self.session_id,
            "paraformer": self.paraformer,
            "paraformer_raw": self.paraformer_raw,
            "sensevoice": self.sensevoice,
            "llm_merged": self.llm_merged,
            "llm_status": self.llm_status,
            "timestamps": [s.as_dict() for s in self.timestamps],
            "corrections": list(self.corrections),
            "llm_windows": list(self.llm_windows),
            "realtime_segments": [s.to_wire() for s in self.realtime_segments],
            "paraformer_length": len(self.paraformer),
            "sensevoice_length": len(self.sensevoice),
            "llm_merged_length": len(self.llm_merged),
            "duration_ms": self.duration_ms,
            "backup_audio_id": self.session_id,
            "language": self.language,
            "language_requested": self.language_requested,
        }


@dataclass(frozen=True)
class StoredFinalResult:
    """`final_result` of a recording another process finished: its stored wire form, as it was sent."""

    name: ClassVar[str] = "final_result"

    payload: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        """The stored payload, unchanged."""
        return self.payload


@dataclass(frozen=True)
class FileResult:
    """A transcribed upload: the `data` of POST /api/asr/transcribe."""

    text: str
    model: str
    duration_ms: int
    filename: str
    language: str | None  # spoken most (pipeline.spoken_language); None when no sentence names one
    language_requested: str  # the request's `language` field
    corrections: tuple[dict[str, Any], ...]
    llm_status: str
    warnings: tuple[MediaWarning, ...]
    llm_windows: tuple[dict[str, Any], ...] | None = None  # only when the LLM was asked for
    timestamps: tuple[Sentence, ...] | None = None  # only when timestamps were asked for
    mode: str = "offline"

    def to_wire(self) -> dict[str, Any]:
        """The response's `data` object; `llm_windows` and `timestamps` only when they were asked for."""
        data: dict[str, Any] = {
            "text": self.text,
            "length": len(self.text),
            "model": self.model,
            "duration_ms": self.duration_ms,
            "filename": self.filename,
            "mode": self.mode,
            "language": self.language,
            "language_requested": self.language_requested,
            "corrections": list(self.corrections),
            "llm_status": self.llm_status,
            "warnings": [w.as_dict() for w in self.warnings],
        }
        if self.llm_windows is not None:
            data["llm_windows"] = list(self.llm_windows)
        if self.timestamps is not None:
            data["timestamps"] = [s.as_dict() for s in self.timestamps]
        return data


# what a recording sends to its client, in order, through the session's sink
SentenceEvent = SentenceFinal | SentenceUpdate
LiveEvent = (
    TranscriptionEvent
    | SentenceFinal
    | SentenceUpdate
    | RecordingStopped
    | ProgressEvent
    | ErrorEvent
    | FinalResult
)
EventSink = Callable[[LiveEvent], None]
