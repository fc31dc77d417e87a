"""Pinyin similarity: syllables in context, near-homophones, and stretches that sound like a hotword."""

from __future__ import annotations

import pytest

from asr_service.pinyin_match import (
    FUZZY_SCORE,
    OTHER_WEIGHT,
    SoundAlike,
    is_han,
    similarity,
    sound_alikes,
    syllable_similarity,
    syllables,
)


def test_syllables_and_similarity() -> None:
    assert syllables("星御") == ("xing", "yu") == syllables("星宇")
    assert syllables("银行") == ("yin", "hang")  # read in context, not character by character
    assert syllable_similarity("xing", "xin") == FUZZY_SCORE
    assert syllable_similarity("shi", "si") == FUZZY_SCORE
    assert syllable_similarity("lian", "nian") == FUZZY_SCORE
    assert syllable_similarity("shi", "yu") == 0.0
    assert similarity(("xing", "yu"), ("xing",)) == 0.0


def test_other_spellings_score_below_any_near_homophone() -> None:
    assert syllable_similarity("yu", "yu") == 1.0
    assert syllable_similarity("hu", "fu") == FUZZY_SCORE  # h/f
    assert syllable_similarity("yan", "yuan") == pytest.approx(OTHER_WEIGHT * 0.75)  # one edit in four
    assert similarity(("xing", "yu"), ("xin", "yu")) == pytest.approx((FUZZY_SCORE + 1) / 2)
    assert similarity((), ()) == 0.0


def test_only_chinese_characters_are_han() -> None:
    assert is_han("星御") and not is_han("") and not is_han("星A") and not is_han("星 御")


def test_stretches_that_sound_like_the_word_are_found_where_they_are() -> None:
    text = "今天星宇和心语,还有星御"
    found = sound_alikes(text, "星御", threshold=0.85)
    assert found == [SoundAlike(2, 4, 1.0), SoundAlike(5, 7, 0.95)]  # the word itself is not reported
    assert text[2:4] == "星宇" and text[5:7] == "心语"
    assert sound_alikes(text, "星御", threshold=0.96) == [SoundAlike(2, 4, 1.0)]


def test_a_stretch_never_spans_two_runs_of_chinese() -> None:
    assert sound_alikes("星 宇", "星御", threshold=0.5) == []
    assert sound_alikes("abc", "星御", threshold=0.0) == []
