"""Word times through an edit of the text: kept, shared by a replacement, zero-length when inserted."""

from __future__ import annotations

import pytest

from asr_service.pipeline import Sentence
from asr_service.roles import Word
from asr_service.word_times import retime


def _chars(text: str, start_ms: int = 0, step_ms: int = 100) -> tuple[Word, ...]:
    """One word per character, back to back."""
    return tuple(Word(ch, start_ms + i * step_ms, start_ms + (i + 1) * step_ms) for i, ch in enumerate(text))


def _times(words: tuple[Word, ...]) -> list[tuple[str, int, int]]:
    return [(w.text, w.start_ms, w.end_ms) for w in words]


def test_unchanged_text_keeps_the_very_words() -> None:
    words = _chars("今天好")
    assert retime(words, "今天好", 0, 300) == words
    assert retime(words, " 今天 好 ", 0, 300) == words  # whitespace is not text


def test_a_replaced_character_keeps_the_span_of_the_one_it_replaced() -> None:
    words = _chars("讨论星宇的", 1000)
    assert _times(retime(words, "讨论星御的", 1000, 1500)) == [
        ("讨", 1000, 1100),
        ("论", 1100, 1200),
        ("星", 1200, 1300),
        ("御", 1300, 1400),
        ("的", 1400, 1500),
    ]


def test_new_words_in_one_replaced_stretch_share_its_time_by_characters() -> None:
    words = _chars("今天星宇好")  # 宇 at 300-400
    assert _times(retime(words, "今天星纪元好", 0, 500)) == [
        ("今", 0, 100),
        ("天", 100, 200),
        ("星", 200, 300),
        ("纪", 300, 350),
        ("元", 350, 400),
        ("好", 400, 500),
    ]
    latin = (Word("x", 0, 100), Word("yyy", 100, 700), Word("z", 700, 800))
    assert _times(retime(latin, "x p qq z", 0, 800)) == [
        ("x", 0, 100),
        ("p", 100, 300),
        ("qq", 300, 700),
        ("z", 700, 800),
    ]


def test_a_latin_word_edited_inside_stays_one_word_with_its_times() -> None:
    words = (Word("the", 0, 300), Word("servise", 300, 900), Word("is", 1000, 1200), Word("sla", 1200, 1500))
    assert _times(retime(words, "the service is SLA", 0, 1600)) == [
        ("the", 0, 300),
        ("service", 300, 900),
        ("is", 1000, 1200),
        ("SLA", 1200, 1500),
    ]


def test_an_inserted_word_is_zero_length_at_the_end_of_the_word_before_it() -> None:
    words = (Word("hello", 100, 400), Word("world", 600, 900))
    assert _times(retime(words, "hello big world", 0, 1000)) == [
        ("hello", 100, 400),
        ("big", 400, 400),
        ("world", 600, 900),
    ]
    assert _times(retime(_chars("今天好", 200), "今天，好", 200, 500)) == [
        ("今", 200, 300),
        ("天", 300, 400),
        ("，", 400, 400),
        ("好", 400, 500),
    ]


def test_a_word_inserted_first_is_at_the_sentence_start() -> None:
    assert _times(retime(_chars("好", 700), "嗯好", 500, 800)) == [("嗯", 500, 500), ("好", 700, 800)]


def test_deleted_words_leave_the_others_their_times() -> None:
    assert _times(retime(_chars("今天呃好"), "今天好", 0, 400)) == [
        ("今", 0, 100),
        ("天", 100, 200),
        ("好", 300, 400),
    ]


def test_times_stay_inside_the_sentence_and_never_go_backwards() -> None:
    words = (Word("a", 0, 100), Word("b", 50, 900))  # overlapping, the second past the sentence end
    retimed = retime(words, "a c", 0, 500)
    assert _times(retimed) == [("a", 0, 100), ("c", 100, 500)]
    edited = retime(_chars("今天星宇的安排"), "今天是星御，的排", 0, 700)
    previous = 0
    for word in edited:
        assert previous <= word.start_ms <= word.end_ms <= 700
        previous = word.end_ms
    assert "".join(w.text for w in edited) == "今天是星御，的排"


def test_words_without_a_source_text_are_all_inserted() -> None:
    assert _times(retime((), "ok", 300, 900)) == [("ok", 300, 300)]
    assert retime(_chars("好"), "", 0, 100) == ()


@pytest.mark.parametrize("words", [None, _chars("星宇")])
def test_a_sentence_edit_keeps_what_was_heard(words: tuple[Word, ...] | None) -> None:
    sentence = Sentence("星宇", 0, 200, "zh", "happy", ("music", "laughter"), words)
    edited = sentence.with_text("星御")
    assert (edited.text, edited.start_ms, edited.end_ms) == ("星御", 0, 200)
    assert (edited.language, edited.emotion, edited.events) == ("zh", "happy", ("music", "laughter"))
    assert edited.words == (None if words is None else (Word("星", 0, 100), Word("御", 100, 200)))
    assert sentence.with_text("星宇") is sentence
