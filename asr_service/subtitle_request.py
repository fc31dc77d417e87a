"""The body of POST /api/asr/subtitles: a transcript the client already has, checked before it is formatted.

The body comes from anyone holding the API key, so every part of it is bounded and typed here and
the formatter (subtitles.py) only ever sees well-formed sentences.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import BadRequest, BadTimestamps
from .filenames import display_name
from .pipeline import Sentence
from .roles import Word

MAX_BODY_BYTES = 4 * 1024 * 1024  # a 4-hour upload's sentences with word times fit
MAX_SENTENCES = 20_000
MAX_WORDS = 2_000  # per sentence
MAX_TEXT_CHARS = 2_000  # per sentence, and per word
MAX_TOTAL_CHARS = 500_000  # of all sentences' text: twice a 4-hour English talk; bounds the formatting work
MAX_TIME_MS = 7 * 24 * 3600 * 1000
TEXT_FORMATS = ("txt", "srt", "vtt")
DEFAULT_NAME = "transcript"
_FIELDS = {"timestamps", "format", "filename"}


@dataclass(frozen=True)
class SubtitleRequest:
    """What to format: the sentences, as which format, and the name its download gets."""

    sentences: tuple[Sentence, ...]
    output: str
    filename: str


def parse_subtitle_request(body: bytes) -> SubtitleRequest:
    """The checked request; BadRequest for a body that is not such a JSON object, BadTimestamps for its
    `timestamps` (each message names the first offending place, e.g. `timestamps[3].end_ms`)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, a number too long, nested too deep
        raise BadRequest("the body is not JSON: send {timestamps, format, filename?}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object {timestamps, format, filename?}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:40]!r}: the body has timestamps, format, filename")
    output = data.get("format")
    if output not in TEXT_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(TEXT_FORMATS)}, not {str(output)[:40]!r}")
    raw_name = data.get("filename", DEFAULT_NAME)
    if not isinstance(raw_name, str):
        raise BadRequest("filename must be a string")
    return SubtitleRequest(_sentences(data.get("timestamps")), output, display_name(raw_name))


def _sentences(raw: object) -> tuple[Sentence, ...]:
    if not isinstance(raw, list):
        raise BadTimestamps("timestamps must be a list of sentences {text, start_ms, end_ms, words?}")
    if len(raw) > MAX_SENTENCES:
        raise BadTimestamps(f"timestamps has {len(raw)} sentences; at most {MAX_SENTENCES}")
    sentences = tuple(_sentence(item, f"timestamps[{i}]") for i, item in enumerate(raw))
    total = sum(len(s.text) for s in sentences)
    if total > MAX_TOTAL_CHARS:
        raise BadTimestamps(f"the sentences have {total} characters in all; at most {MAX_TOTAL_CHARS}")
    return sentences


def _sentence(raw: object, where: str) -> Sentence:
    fields = _object(raw, where)
    text, start, end = _timed(fields, where)
    if "words" not in fields:
        return Sentence(text, start, end)
    words = fields["words"]
    if not isinstance(words, list):
        raise BadTimestamps(f"{where}.words must be a list of words {{text, start_ms, end_ms}}")
    if len(words) > MAX_WORDS:
        raise BadTimestamps(f"{where}.words has {len(words)} words; at most {MAX_WORDS}")
    timed = (_timed(_object(w, f"{where}.words[{j}]"), f"{where}.words[{j}]") for j, w in enumerate(words))
    return Sentence(text, start, end, words=tuple(Word(*w) for w in timed))


def _object(raw: object, where: str) -> Mapping[str, object]:
    if not isinstance(raw, dict):
        raise BadTimestamps(f"{where} must be an object {{text, start_ms, end_ms}}")
    return raw


def _timed(raw: Mapping[str, object], where: str) -> tuple[str, int, int]:
    """(text, start_ms, end_ms) of a sentence or word; other fields are ignored."""
    text = raw.get("text")
    if not isinstance(text, str):
        raise BadTimestamps(f"{where}.text must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise BadTimestamps(f"{where}.text has {len(text)} characters; at most {MAX_TEXT_CHARS}")
    if not _is_unicode(text):
        raise BadTimestamps(f"{where}.text has a lone surrogate escape (\\ud800-\\udfff): not Unicode text")
    start = _milliseconds(raw.get("start_ms"), 0, f"{where}.start_ms")
    return text, start, _milliseconds(raw.get("end_ms"), start, f"{where}.end_ms")


def _milliseconds(raw: object, least: int, where: str) -> int:
    # bool is an int to Python, never to a client
    if not isinstance(raw, int) or isinstance(raw, bool) or not least <= raw <= MAX_TIME_MS:
        raise BadTimestamps(f"{where} must be a whole number of ms from {least} to {MAX_TIME_MS}")
    return raw


def _is_unicode(text: str) -> bool:
    """False for JSON's escaped lone surrogates, which no UTF-8 file (or response) can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
