"""SenseVoice's raw output read: clean text, the tags as language/emotion/events, cleaned word times."""

from __future__ import annotations

import pytest

from asr_service.roles import Heard, Word
from asr_service.sensevoice_output import clean_text, clean_words, heard, read_tags


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<|zh|><|NEUTRAL|><|Speech|><|withitn|>今天开会。", "今天开会。"),
        ("<|en|><|HAPPY|><|Laughter|><|woitn|>Yes. OK. Well, we start.", "Yes. OK. Well, we start."),
        ("<|en|><|EMO_UNKNOWN|><|BGM|><|withitn|>OK", "OK"),
        ("<|nospeech|><|Event_UNK|>", ""),
        ("<|ja|><|NEUTRAL|><|Speech|><|withitn|>Well<|de|>", "Well"),
        ("", ""),
    ],
)
def test_clean_text_removes_tags_and_emoji_but_no_words(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("raw", "tags"),
    [
        ("<|zh|><|NEUTRAL|><|Speech|><|withitn|>今天开会。", ("zh", "neutral", ())),
        ("<|en|><|HAPPY|><|Laughter|><|woitn|>Yes.", ("en", "happy", ("laughter",))),
        ("<|yue|><|SAD|><|BGM|><|withitn|>", ("yue", "sad", ("music",))),
        ("<|ko|><|ANGRY|><|Applause|><|withitn|>", ("ko", "angry", ("applause",))),
        ("<|ja|><|FEARFUL|><|Cry|><|woitn|>", ("ja", "fearful", ("crying",))),
        ("<|en|><|DISGUSTED|><|Sneeze|><|withitn|>", ("en", "disgusted", ("sneeze",))),
        ("<|en|><|SURPRISED|><|Cough|><|withitn|>", ("en", "surprised", ("cough",))),
        ("<|zh|><|EMO_UNKNOWN|><|Breath|><|withitn|>", ("zh", None, ("breath",))),
        ("<|nospeech|><|Event_UNK|>", (None, None, ())),
        ("no tags at all", (None, None, ())),
        # random weights put tags anywhere: the first language and emotion count, every event once
        (
            "<|en|><|SAD|><|BGM|><|woitn|>ok<|zh|><|HAPPY|><|Laughter|>好<|BGM|><|Sing|>",
            ("en", "sad", ("music", "laughter")),
        ),
        ("text<|Cough|><|de|><|Speech_Noise|><|ja|>", ("ja", None, ("cough",))),
    ],
)
def test_tags_say_language_emotion_and_events(raw: str, tags: tuple[object, ...]) -> None:
    assert read_tags(raw) == tags


def test_words_are_cleaned_like_the_text_and_their_times_clamped_into_the_clip() -> None:
    words = ["\u2581Yes", ",", "<|HAPPY|>", "\u2581", "ok", "<|en|>好", "The.", "末"]
    times = [[-30, 60], [60, 120], [120, 180], [180, 200], [100, 400], [400, 460], [460, 500], [980, 1200]]
    assert clean_words(words, times, 1000) == (
        Word("Yes", 0, 60),
        Word(",", 60, 120),
        Word("ok", 120, 400),  # starts no earlier than the word before it ended
        Word("好", 400, 460),
        Word("末", 980, 1000),
    )


def test_a_result_becomes_heard_with_words_only_when_asked() -> None:
    result = {
        "text": "<|en|><|NEUTRAL|><|BGM|><|withitn|>Yes, ok.",
        "words": ["\u2581Yes", ",", "ok", "."],
        "timestamp": [[0, 90], [90, 150], [210, 450], [450, 510]],
    }
    words = (Word("Yes", 0, 90), Word(",", 90, 150), Word("ok", 210, 450), Word(".", 450, 500))
    assert heard(result, 500, word_timestamps=True) == Heard("Yes, ok.", "en", "neutral", ("music",), words)
    assert heard(result, 500, word_timestamps=False).words is None
    assert heard({"text": "<|nospeech|><|Event_UNK|>"}, 500, word_timestamps=True) == Heard("", words=())
