"""SenseVoice's raw output read: clean text, what its tags say (language, emotion, events), word times.

SenseVoice starts each clip's text with tags, `<|zh|><|NEUTRAL|><|Speech|><|withitn|>`, and may
put more of them anywhere in it (random-weight models do). The tag sets are those of FunASR's
funasr/models/sense_voice/model.py and funasr/utils/postprocess_utils.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from funasr.utils.postprocess_utils import rich_transcription_postprocess

from .roles import Heard, Word

# What rich_transcription_postprocess turns event/emotion tags into; none of it is speech.
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2753\u2b50\ufe0f]")
_LEFTOVER_TAG = re.compile(r"<\|[^|<>]{1,40}\|>")
_TAG = re.compile(r"<\|([^|<>]{1,40})\|>")
_SPACES = re.compile(r"\s{2,}")
_PIECE_SPACE = "\u2581"  # sentencepiece's word-start mark, left on FunASR's first word

LANGUAGES = {"zh": "zh", "en": "en", "yue": "yue", "ja": "ja", "ko": "ko", "nospeech": None}
EMOTIONS = {
    "HAPPY": "happy",
    "SAD": "sad",
    "ANGRY": "angry",
    "NEUTRAL": "neutral",
    "FEARFUL": "fearful",
    "DISGUSTED": "disgusted",
    "SURPRISED": "surprised",
    "EMO_UNKNOWN": None,
}
EVENTS = {
    "BGM": "music",
    "Applause": "applause",
    "Laughter": "laughter",
    "Cry": "crying",
    "Sneeze": "sneeze",
    "Breath": "breath",
    "Cough": "cough",
}


def clean_text(raw: str) -> str:
    """SenseVoice output to plain text: tags and the emoji FunASR maps them to removed."""
    text = rich_transcription_postprocess(raw) if raw else ""
    text = _LEFTOVER_TAG.sub("", text)
    text = _EMOJI.sub("", text)
    return _SPACES.sub(" ", text).strip()


def read_tags(raw: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(language, emotion, events): the first language and emotion tags, every event tag in order once.

    nospeech and EMO_UNKNOWN give None, as does a text without such a tag; Speech is no event,
    and tags outside these sets (Event_UNK, Sing, Speech_Noise, withitn, ...) say nothing here.
    """
    tags = _TAG.findall(raw)
    language = next((LANGUAGES[t] for t in tags if t in LANGUAGES), None)
    emotion = next((EMOTIONS[t] for t in tags if t in EMOTIONS), None)
    events = tuple(dict.fromkeys(EVENTS[t] for t in tags if t in EVENTS))
    return language, emotion, events


def clean_words(words: Sequence[str], times: Sequence[Sequence[float]], clip_ms: int) -> tuple[Word, ...]:
    """FunASR's words with their [start_ms, end_ms], cleaned as the text is (a tag-only word vanishes),
    empty ones dropped, times clamped into [0, clip_ms] and made never to go backwards."""
    cleaned: list[Word] = []
    floor = 0
    for token, (start, end) in zip(words, times, strict=True):
        text = clean_text(token.replace(_PIECE_SPACE, " "))
        if not text:
            continue
        begin = min(max(int(start), floor), clip_ms)
        finish = min(max(int(end), begin), clip_ms)
        cleaned.append(Word(text, begin, finish))
        floor = finish
    return tuple(cleaned)


def heard(result: Mapping[str, Any], clip_ms: int, word_timestamps: bool) -> Heard:
    """One clip's FunASR result as a Heard; words only when they were asked for."""
    raw = str(result.get("text", ""))
    language, emotion, events = read_tags(raw)
    words = None
    if word_timestamps:
        words = clean_words(result.get("words") or [], result.get("timestamp") or [], clip_ms)
    return Heard(clean_text(raw), language, emotion, events, words)
