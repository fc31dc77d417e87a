"""Wire forms: each typed event or result gives exactly the documented object, keys in today's order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from asr_service.audio import MediaWarning
from asr_service.events import (
    ErrorEvent,
    FileResult,
    FinalResult,
    ProgressEvent,
    PushedSentence,
    RealtimeSegment,
    RecordingStopped,
    SentenceFinal,
    SentenceUpdate,
    SessionSnapshot,
    TranscriptionEvent,
)
from asr_service.live_types import SessionState
from asr_service.pipeline import Sentence
from asr_service.roles import Word

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = (
    Sentence("今天开会。", 1250, 4810, "zh", "neutral", ("music",)),
    Sentence("Yes, the SLA is ready.", 6290, 8540, "en", None, (), (Word("Yes", 6290, 6500),)),
)
CORRECTION = {"from": "sla", "to": "SLA", "start_ms": 6290, "end_ms": 8540, "rule": "case"}
WINDOW = {"start_ms": 1250, "end_ms": 8540, "sentences": 2, "status": "ok", "changed": 1, "rejected": 0}


def _final() -> FinalResult:
    return FinalResult(
        session_id="9583743fab87476e84ab9ece3cd80b93",
        paraformer="今天开会。yes the sla is ready。",
        paraformer_raw="今天开会yes the sla is ready",
        sensevoice="今天开会。Yes, the SLA is ready.",
        llm_merged="今天开会。Yes, the SLA is ready.",
        llm_status="ok",
        timestamps=SENTENCES,
        corrections=(CORRECTION,),
        llm_windows=(WINDOW,),
        realtime_segments=(
            RealtimeSegment(0, "今天开会。", 1250, 4810),
            RealtimeSegment(1, "yes", 6290, 8540),
        ),
        duration_ms=10020,
        language="zh",
        language_requested="auto",
    )


def _file(**asked: Any) -> FileResult:
    return FileResult(
        text="今天开会。",
        model="iic/SenseVoiceSmall",
        duration_ms=4810,
        filename="meeting.m4a",
        language="zh",
        language_requested="auto",
        corrections=(CORRECTION,),
        llm_status="off",
        warnings=(MediaWarning("truncated", "ended early"),),
        **asked,
    )


def test_transcription() -> None:
    event = TranscriptionEvent("备份", "今天，备份", False, None, True, 0, 2400, 5)
    assert event.name == "transcription"
    assert list(event.to_wire().items()) == [
        ("text", "备份"),
        ("partial_text", "今天，备份"),
        ("is_final", False),
        ("vad_event", None),
        ("is_speech_active", True),
        ("segment", 0),
        ("current_time_ms", 2400),
        ("seq", 5),
    ]


def test_transcription_with_the_whole_text_asked_for() -> None:
    event = TranscriptionEvent("备份", "备份", False, None, True, 1, 2400, 5, "今天，", "今天，备份")
    assert list(event.to_wire().items()) == [
        ("text", "备份"),
        ("punc_text", "今天，"),
        ("full_text", "今天，备份"),
        ("partial_text", "备份"),
        ("is_final", False),
        ("vad_event", None),
        ("is_speech_active", True),
        ("segment", 1),
        ("current_time_ms", 2400),
        ("seq", 5),
    ]


def test_sentence_events_carry_the_sentence_fields() -> None:
    pushed = PushedSentence(3, 0, SENTENCES[1].as_dict())
    assert SentenceFinal.name == "sentence_final" and SentenceUpdate.name == "sentence_update"
    assert list(SentenceFinal(pushed).to_wire().items()) == [
        ("index", 3),
        ("revision", 0),
        ("text", "Yes, the SLA is ready."),
        ("start_ms", 6290),
        ("end_ms", 8540),
        ("language", "en"),
        ("emotion", None),
        ("events", []),
        ("words", [{"text": "Yes", "start_ms": 6290, "end_ms": 6500}]),
    ]
    update = SentenceUpdate(PushedSentence(3, 1, SENTENCES[1].as_dict())).to_wire()
    assert update == {**SentenceFinal(pushed).to_wire(), "revision": 1, "reason": "llm"}


def test_small_events_round_as_documented() -> None:
    assert (RecordingStopped.name, ProgressEvent.name, ErrorEvent.name) == (
        "recording_stopped",
        "processing_progress",
        "error",
    )
    stopped = RecordingStopped("9583743fab87476e84ab9ece3cd80b93", 333_584)  # 20.849 s
    assert list(stopped.to_wire().items()) == [
        ("session_id", "9583743fab87476e84ab9ece3cd80b93"),
        ("duration_s", 20.849),
    ]
    assert list(ProgressEvent(2 / 3, "second_pass").to_wire().items()) == [
        ("progress", 0.667),
        ("stage", "second_pass"),
    ]
    assert ProgressEvent(1.0, "done").to_wire() == {"progress": 1.0, "stage": "done"}
    assert list(ErrorEvent("busy", "try again").to_wire().items()) == [
        ("code", "busy"),
        ("message", "try again"),
    ]


def test_snapshot_counts_the_audio_in_three_units() -> None:
    snapshot = SessionSnapshot(
        "273656e3a42046d990e89e33cb6d4a61", SessionState.RECORDING, "今天", 48_001, 1, 6
    )
    assert snapshot.name == "resume_result"
    wire = snapshot.to_wire()
    assert list(wire.items()) == [
        ("success", True),
        ("session_id", "273656e3a42046d990e89e33cb6d4a61"),
        ("state", "recording"),
        ("current_text", "今天"),
        ("duration_s", 3.0),
        ("received_ms", 3000),
        ("received_bytes", 96_003),
        ("last_seq", 6),
        ("sentences", []),
    ]
    assert type(wire["duration_s"]) is float and type(wire["received_ms"]) is int


def test_final_result() -> None:
    final = _final()
    assert final.name == "final_result"
    assert list(final.to_wire().items()) == [
        ("session_id", "9583743fab87476e84ab9ece3cd80b93"),
        ("paraformer", "今天开会。yes the sla is ready。"),
        ("paraformer_raw", "今天开会yes the sla is ready"),
        ("sensevoice", "今天开会。Yes, the SLA is ready."),
        ("llm_merged", "今天开会。Yes, the SLA is ready."),
        ("llm_status", "ok"),
        ("timestamps", [s.as_dict() for s in SENTENCES]),
        ("corrections", [CORRECTION]),
        ("llm_windows", [WINDOW]),
        (
            "realtime_segments",
            [
                {"segment": 0, "text": "今天开会。", "start_ms": 1250, "end_ms": 4810},
                {"segment": 1, "text": "yes", "start_ms": 6290, "end_ms": 8540},
            ],
        ),
        ("paraformer_length", 26),
        ("sensevoice_length", 27),
        ("llm_merged_length", 27),
        ("duration_ms", 10020),
        ("backup_audio_id", "9583743fab87476e84ab9ece3cd80b93"),
        ("language", "zh"),
        ("language_requested", "auto"),
    ]
    assert list(final.to_wire()["realtime_segments"][0]) == ["segment", "text", "start_ms", "end_ms"]


def test_file_result_has_the_optional_fields_only_when_asked() -> None:
    plain = [
        ("text", "今天开会。"),
        ("length", 5),
        ("model", "iic/SenseVoiceSmall"),
        ("duration_ms", 4810),
        ("filename", "meeting.m4a"),
        ("mode", "offline"),
        ("language", "zh"),
        ("language_requested", "auto"),
        ("corrections", [CORRECTION]),
        ("llm_status", "off"),
        ("warnings", [{"code": "truncated", "message": "ended early"}]),
    ]
    assert list(_file().to_wire().items()) == plain
    both = _file(llm_windows=(WINDOW,), timestamps=SENTENCES[:1]).to_wire()
    assert list(both.items()) == [*plain, ("llm_windows", [WINDOW]), ("timestamps", [SENTENCES[0].as_dict()])]
    assert list(_file(timestamps=()).to_wire().items()) == [*plain, ("timestamps", [])]


def _documented_fields(section: str) -> set[str]:
    """The field names in the table of a docs/websocket.md section ("4.3 `transcription`", ...)."""
    text = (ROOT / "docs" / "websocket.md").read_text(encoding="utf-8")
    body = text.split(f"### {section}", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    table = body.split("| field |", 1)[1]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))


@pytest.mark.parametrize(
    ("section", "wire"),
    [
        (
            "4.3 `transcription`",
            TranscriptionEvent("", "", True, "speech_end", False, 0, 0, 1, "", "").to_wire(),
        ),
        ("4.4 `recording_stopped`", RecordingStopped("s", 0).to_wire()),
        ("4.5 `processing_progress`", ProgressEvent(1.0, "done").to_wire()),
        ("4.6 `final_result`", _final().to_wire()),
        ("4.7 `resume_result`", SessionSnapshot("s", SessionState.DONE, "", 0, 0, 0).to_wire()),
        ("4.9 `sentence_final`", SentenceFinal(PushedSentence(0, 0, SENTENCES[1].as_dict())).to_wire()),
        ("4.10 `sentence_update`", SentenceUpdate(PushedSentence(0, 1, SENTENCES[1].as_dict())).to_wire()),
        ("4.8 `error`", ErrorEvent("busy", "").to_wire()),
    ],
)
def test_every_socket_payload_has_exactly_the_documented_fields(section: str, wire: dict[str, Any]) -> None:
    documented = _documented_fields(section)
    assert documented, f"no field table found in {section}"
    assert set(wire) == documented


def test_the_whole_text_fields_are_documented_as_asked_for_only() -> None:
    documented = _documented_fields("4.3 `transcription`")
    plain = TranscriptionEvent("", "", True, "speech_end", False, 0, 0, 1).to_wire()
    assert set(plain) == documented - {"punc_text", "full_text"}
    entry = PushedSentence(0, 0, SENTENCES[1].as_dict()).to_wire()
    snapshot = SessionSnapshot(
        "s", SessionState.DONE, "", 0, 0, 0, (PushedSentence(0, 0, SENTENCES[1].as_dict()),)
    )
    assert snapshot.to_wire()["sentences"] == [entry] and set(entry) == _documented_fields(
        "4.9 `sentence_final`"
    )


def test_rest_results_have_exactly_the_openapi_fields() -> None:
    schemas = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))["components"]["schemas"]
    data = schemas["TranscriptionData"]
    assert set(_file(llm_windows=(), timestamps=()).to_wire()) == set(data["properties"])
    assert set(data["required"]) == set(_file().to_wire())
    final = schemas["FinalResult"]
    assert set(_final().to_wire()) == set(final["properties"]) >= set(final["required"])


def test_sentences_have_exactly_the_openapi_fields() -> None:
    schemas = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))["components"]["schemas"]
    sentence, word = schemas["Sentence"], schemas["Word"]
    plain, worded = SENTENCES[0].as_dict(), SENTENCES[1].as_dict()
    assert set(worded) == set(sentence["properties"]) and set(plain) == set(sentence["required"])
    assert list(plain) == ["text", "start_ms", "end_ms", "language", "emotion", "events"]
    assert plain["events"] == ["music"] and worded["emotion"] is None
    assert worded["words"] == [{"text": "Yes", "start_ms": 6290, "end_ms": 6500}]
    assert set(worded["words"][0]) == set(word["properties"]) == set(word["required"])
    assert Sentence.from_wire(worded) == SENTENCES[1] and Sentence.from_wire(plain) == SENTENCES[0]
