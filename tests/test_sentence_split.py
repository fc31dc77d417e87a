"""Cutting a sentence at speaker changes: at word boundaries with words, at marks or by time share without."""

from __future__ import annotations

from asr_service.pipeline import Sentence
from asr_service.roles import Word
from asr_service.sentence_split import split_sentence

TEXT = "你好我是张三。今天天气很好。"


def _char_words(text: str, step: int = 400) -> tuple[Word, ...]:
    return tuple(Word(ch, i * step, i * step + step) for i, ch in enumerate(text))


def _plain(pieces: list[tuple[Sentence, int]]) -> list[tuple[str, int, int, int]]:
    return [(s.text, s.start_ms, s.end_ms, n) for s, n in pieces]


def test_without_words_a_cut_moves_to_the_nearest_mark() -> None:
    sentence = Sentence(TEXT, 0, 6000, "zh", "NEUTRAL", ("Speech",), speaker="S1")
    pieces = split_sentence(sentence, [3375])
    assert _plain(pieces) == [("你好我是张三。", 0, 3375, 0), ("今天天气很好。", 3375, 6000, 1)]
    assert all((s.language, s.emotion, s.events) == ("zh", "NEUTRAL", ("Speech",)) for s, _ in pieces)
    assert all(s.words is None for s, _ in pieces)


def test_without_words_or_marks_a_cut_follows_the_time_share_and_keeps_latin_words_whole() -> None:
    sentence = Sentence("alpha beta gamma delta", 1000, 3200)
    pieces = split_sentence(sentence, [2300])  # 59 % of the time: character 13, inside "gamma"
    assert _plain(pieces) == [("alpha beta", 1000, 2300, 0), ("gamma delta", 2300, 3200, 1)]


def test_without_words_a_far_mark_is_not_taken() -> None:
    sentence = Sentence(
        "一，二三四五六七八九十", 0, 5500
    )  # the cut's share is character 5, the mark ends at 2
    assert _plain(split_sentence(sentence, [2500])) == [
        ("一，二三四", 0, 2500, 0),
        ("五六七八九十", 2500, 5500, 1),
    ]


def test_with_words_a_cut_is_at_the_nearest_word_boundary_and_pieces_keep_their_words() -> None:
    text = "一二三四五六七八九十"
    sentence = Sentence(text, 0, 4000, words=_char_words(text))
    pieces = split_sentence(sentence, [2250])  # boundaries every 400 ms: 2400 is nearest
    assert _plain(pieces) == [("一二三四五六", 0, 2400, 0), ("七八九十", 2400, 4000, 1)]
    assert [w.text for w in pieces[1][0].words or ()] == list("七八九十")
    assert all(w.start_ms >= s.start_ms and w.end_ms <= s.end_ms for s, _ in pieces for w in s.words or ())


def test_with_words_a_boundary_after_a_mark_near_the_change_wins() -> None:
    sentence = Sentence(TEXT, 0, 5600, words=_char_words(TEXT))
    pieces = split_sentence(sentence, [3375])  # nearest boundary is 3200 (after 今); the mark ends at 2800
    assert _plain(pieces) == [("你好我是张三。", 0, 2800, 0), ("今天天气很好。", 2800, 5600, 1)]


def test_with_latin_words_the_texts_keep_their_spacing() -> None:
    words = (
        Word("hello", 0, 500),
        Word("there", 600, 1100),
        Word("good", 1500, 1900),
        Word("morning", 2000, 2600),
    )
    sentence = Sentence("hello there good morning", 0, 2600, "en", words=words)
    pieces = split_sentence(sentence, [1300])
    assert _plain(pieces) == [("hello there", 0, 1500, 0), ("good morning", 1500, 2600, 1)]


def test_words_that_do_not_spell_the_text_are_joined_instead() -> None:
    words = (Word("hello", 0, 500), Word("world", 1500, 2000))
    pieces = split_sentence(Sentence("HELLO WORLD", 0, 2000, words=words), [1000])
    assert [s.text for s, _ in pieces] == ["hello", "world"]


def test_cuts_that_leave_no_piece_are_dropped() -> None:
    one_word = Sentence("好", 0, 3000, words=(Word("好", 0, 3000),))
    assert _plain(split_sentence(one_word, [1500])) == [("好", 0, 3000, 0)]
    two = Sentence("好的", 0, 3000, words=_char_words("好的", 1500))
    assert [n for _, n in split_sentence(two, [1000, 1400, 2000])] == [0, 1]
    assert _plain(split_sentence(Sentence("好。", 0, 3000), [2900, 3500])) == [("好。", 0, 3000, 0)]


def test_with_words_a_piece_never_starts_with_a_mark() -> None:
    words = (
        Word("一", 0, 400),
        Word("二", 400, 800),
        Word("。", 800, 820),
        Word("三", 2400, 2800),
        Word("四", 2800, 3200),
    )
    pieces = split_sentence(
        Sentence("一二。三四", 0, 3200, words=words), [800]
    )  # the boundary before 。 is at 800
    assert _plain(pieces) == [("一", 0, 400, 0), ("二。三四", 400, 3200, 1)]
