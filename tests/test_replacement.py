"""Deterministic replacement: corrections, Latin casing, pinyin matches, and cases that must not fire."""

from __future__ import annotations

import pytest

from asr_service.hotwords import Vocabulary
from asr_service.replacement import HotwordReplacer

VOCABULARY = Vocabulary({"星御": 20, "DAC": 10, "SLA": 10, "备份演练": 10}, {"行驶": "星御"})


@pytest.fixture(scope="module")
def replacer() -> HotwordReplacer:
    return HotwordReplacer(threshold=0.85, min_chars=2)


@pytest.mark.parametrize(
    ("text", "expected", "heard", "rule"),
    [
        ("我们的星宇平台今天上线", "我们的星御平台今天上线", "星宇", "pinyin"),  # same pinyin
        ("新的心语产品", "新的星御产品", "心语", "pinyin"),  # xin/xing: a near-homophone
        ("今天讨论备份眼练的安排", "今天讨论备份演练的安排", "备份眼练", "pinyin"),
        ("车辆行驶平稳", "车辆星御平稳", "行驶", "correction"),  # explicit; by sound it is too far
        ("yes the sla is ready", "yes the SLA is ready", "sla", "case"),
    ],
)
def test_replacements_that_fire(
    replacer: HotwordReplacer, text: str, expected: str, heard: str, rule: str
) -> None:
    fixed, replacements = replacer.apply(text, VOCABULARY)
    assert fixed == expected
    [only] = replacements
    assert (only.heard, only.rule) == (heard, rule)
    assert text[only.start : only.end] == heard


@pytest.mark.parametrize(
    "text",
    [
        "请出示行驶证",  # 行驶 is inside the longer word 行驶证: the explicit correction stays out
        "新星宇宙",  # 星宇 would cut into 新星 on one side and 宇宙 on the other
        "SLAB and DACH are other words",  # Latin hotwords only as whole tokens
        "星御的SLA与DAC",  # already right
        "我们今天开会讨论行程",  # nothing sounds like a hotword
    ],
)
def test_replacements_that_must_not_fire(replacer: HotwordReplacer, text: str) -> None:
    assert replacer.apply(text, VOCABULARY) == (text, [])


def test_pinyin_alone_does_not_turn_xingshi_into_xingyu(replacer: HotwordReplacer) -> None:
    """行驶 (xing shi) and 星御 (xing yu) share only one syllable: without a correction nothing fires."""
    assert replacer.apply("车辆行驶平稳", Vocabulary({"星御": 20})) == ("车辆行驶平稳", [])


def test_a_span_inside_a_longer_hotword_is_left_alone(replacer: HotwordReplacer) -> None:
    vocabulary = Vocabulary({"备份演练": 10, "贝芬": 10})  # 备份 sounds exactly like 贝芬
    assert replacer.apply("安排备份演练", vocabulary) == ("安排备份演练", [])
    assert replacer.apply("备份数据", vocabulary)[0] == "贝芬数据"  # outside it, it fires


def test_threshold_one_needs_the_same_pinyin() -> None:
    strict = HotwordReplacer(threshold=1.0, min_chars=2)
    assert strict.apply("新的心语产品", VOCABULARY)[0] == "新的心语产品"
    assert strict.apply("星宇平台", VOCABULARY)[0] == "星御平台"


def test_short_hotwords_are_not_matched_by_sound() -> None:
    replacer = HotwordReplacer(threshold=0.85, min_chars=3)
    assert replacer.apply("星宇平台", VOCABULARY) == ("星宇平台", [])


def test_several_replacements_keep_input_offsets(replacer: HotwordReplacer) -> None:
    text = "星宇的sla和备份眼练"
    fixed, replacements = replacer.apply(text, VOCABULARY)
    assert fixed == "星御的SLA和备份演练"
    assert [(r.start, r.end, r.meant) for r in replacements] == [
        (0, 2, "星御"),
        (3, 6, "SLA"),
        (7, 11, "备份演练"),
    ]


def test_the_closest_and_heaviest_hotword_wins(replacer: HotwordReplacer) -> None:
    vocabulary = Vocabulary({"星宇": 5, "星御": 20})  # both sound the same; 星宇 itself is written right
    assert replacer.apply("星玉", vocabulary)[0] == "星御"


def test_an_injected_lexicon_decides_what_a_longer_word_is() -> None:
    replacer = HotwordReplacer(0.85, 2, lexicon=lambda word: word == "星宇站")
    assert replacer.apply("星宇站", VOCABULARY)[0] == "星宇站"
    assert replacer.apply("星宇", VOCABULARY)[0] == "星御"
