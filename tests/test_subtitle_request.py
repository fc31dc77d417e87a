"""The body of POST /api/asr/subtitles: well-formed transcripts become sentences, anything else a 400 code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asr_service.errors import BadRequest, BadTimestamps
from asr_service.pipeline import Sentence
from asr_service.roles import Word
from asr_service.subtitle_request import (
    MAX_SENTENCES,
    MAX_TEXT_CHARS,
    MAX_TIME_MS,
    MAX_TOTAL_CHARS,
    MAX_WORDS,
    parse_subtitle_request,
)

WORDS = [{"text": "你", "start_ms": 100, "end_ms": 300}, {"text": "好", "start_ms": 300, "end_ms": 500}]
SENTENCE = {"text": "你好", "start_ms": 0, "end_ms": 600, "language": "zh", "emotion": None, "events": []}


def _body(**fields: Any) -> bytes:
    return json.dumps({"timestamps": [SENTENCE], "format": "srt", **fields}).encode()


def test_a_result_s_timestamps_become_its_sentences() -> None:
    asked = parse_subtitle_request(_body(timestamps=[SENTENCE, {**SENTENCE, "words": WORDS}], format="vtt"))
    assert asked.output == "vtt" and asked.filename == "transcript"
    plain, worded = asked.sentences
    assert plain == Sentence("你好", 0, 600)  # language, emotion and events play no part in the text
    assert worded.words == (Word("你", 100, 300), Word("好", 300, 500))
    assert worded == Sentence.from_wire({**SENTENCE, "words": WORDS, "language": None, "events": None})


def test_no_sentences_and_the_largest_allowed_values_are_fine() -> None:
    assert parse_subtitle_request(_body(timestamps=[], format="txt")).sentences == ()
    edge = {"text": "x" * MAX_TEXT_CHARS, "start_ms": MAX_TIME_MS, "end_ms": MAX_TIME_MS, "words": []}
    assert parse_subtitle_request(_body(timestamps=[edge])).sentences[0].words == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.mp3", "passwd.mp3"),
        ('会议\u202e<script>".wav', "会议script.wav"),
        ("", "upload"),
        ("x" * 500 + ".m4a", "x" * 116 + ".m4a"),
    ],
)
def test_the_filename_is_a_cleaned_display_name(raw: str, expected: str) -> None:
    assert parse_subtitle_request(_body(filename=raw)).filename == expected


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b"{'timestamps': []}", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"timestamps": [], "format": "srt", "x": 1' + b"0" * 5000 + b"}", "not JSON"),  # int too long
        (b"[]", "JSON object"),
        (b'"srt"', "JSON object"),
        (_body(fromat="srt"), "unknown field 'fromat'"),
        (json.dumps({"timestamps": []}).encode(), "format must be one of txt, srt, vtt"),
        (_body(format="json"), "format must be"),
        (_body(format="SRT"), "format must be"),
        (_body(format=["srt"]), "format must be"),
        (_body(filename=7), "filename must be a string"),
        (_body(filename=None), "filename must be a string"),
    ],
)
def test_a_body_that_is_not_such_an_object_is_a_bad_request(body: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_subtitle_request(body)
    assert caught.value.code == "bad_request" and fragment in caught.value.message


def _with(**changes: Any) -> dict[str, Any]:
    return {**SENTENCE, **changes}


_WITHOUT_TEXT = {k: v for k, v in SENTENCE.items() if k != "text"}


@pytest.mark.parametrize(
    ("timestamps", "fragment"),
    [
        (None, "timestamps must be a list"),
        ({"0": SENTENCE}, "timestamps must be a list"),
        ("你好", "timestamps must be a list"),
        ([SENTENCE] * (MAX_SENTENCES + 1), f"at most {MAX_SENTENCES}"),
        ([SENTENCE, "你好"], "timestamps[1] must be an object"),
        ([SENTENCE, [0, 600, "你好"]], "timestamps[1] must be an object"),
        ([_WITHOUT_TEXT], "timestamps[0].text must be a string"),
        ([_with(text=None)], "timestamps[0].text must be a string"),
        ([_with(text=["你好"])], "timestamps[0].text must be a string"),
        ([_with(text="x" * (MAX_TEXT_CHARS + 1))], f"at most {MAX_TEXT_CHARS}"),
        ([_with(text="a\ud800b")], "timestamps[0].text has a lone surrogate"),
        ([_with(words=[{**WORDS[0], "text": "\udfff"}])], "timestamps[0].words[0].text has a lone surrogate"),
        ([_with(start_ms=-1)], "timestamps[0].start_ms must be a whole number"),
        ([_with(start_ms=1.5)], "timestamps[0].start_ms"),
        ([_with(start_ms=0.0)], "timestamps[0].start_ms"),
        ([_with(start_ms="0")], "timestamps[0].start_ms"),
        ([_with(start_ms=True)], "timestamps[0].start_ms"),
        ([_with(start_ms=None)], "timestamps[0].start_ms"),
        ([_with(start_ms=MAX_TIME_MS + 1, end_ms=MAX_TIME_MS + 2)], "timestamps[0].start_ms"),
        ([_with(end_ms=None)], "timestamps[0].end_ms"),
        ([_with(start_ms=700, end_ms=600)], "timestamps[0].end_ms must be a whole number of ms from 700"),
        ([_with(end_ms=MAX_TIME_MS + 1)], f"to {MAX_TIME_MS}"),
        ([_with(end_ms=float("inf"))], "timestamps[0].end_ms"),
        ([_with(words=None)], "timestamps[0].words must be a list"),
        ([_with(words="你好")], "timestamps[0].words must be a list"),
        ([_with(words=[WORDS[0]] * (MAX_WORDS + 1))], f"at most {MAX_WORDS}"),
        ([SENTENCE, _with(words=[WORDS[0], "好"])], "timestamps[1].words[1] must be an object"),
        ([_with(words=[{"start_ms": 0, "end_ms": 1}])], "timestamps[0].words[0].text must be a string"),
        ([_with(words=[{**WORDS[0], "text": "x" * (MAX_TEXT_CHARS + 1)}])], "words[0].text has"),
        ([_with(words=[{**WORDS[0], "end_ms": 99}])], "timestamps[0].words[0].end_ms"),
        ([_with(words=[{**WORDS[0], "start_ms": -5}])], "timestamps[0].words[0].start_ms"),
        ([_with(text="x" * MAX_TEXT_CHARS)] * (MAX_TOTAL_CHARS // MAX_TEXT_CHARS + 1), "characters in all"),
    ],
)
def test_malformed_timestamps_say_where(timestamps: Any, fragment: str) -> None:
    with pytest.raises(BadTimestamps) as caught:
        parse_subtitle_request(_body(timestamps=timestamps))
    assert caught.value.code == "bad_timestamps" and caught.value.status == 400
    assert fragment in caught.value.message, caught.value.message


def test_missing_timestamps_are_bad_timestamps() -> None:
    with pytest.raises(BadTimestamps, match="timestamps must be a list"):
        parse_subtitle_request(b'{"format": "txt"}')
