"""Speakers on sentences: turns from windows, the most-heard speaker, splits at changes, talk time."""

from __future__ import annotations

import pytest

from asr_service.pipeline import Sentence
from asr_service.roles import Span, Word
from asr_service.speaker_clustering import cluster_speakers
from asr_service.speaker_turns import Turn, label_sentences, speaker_name, speaker_turns, talk_times
from asr_service.speaker_windows import speech_windows

from .speaker_fakes import SyntheticVoices, voice_at


def _timeline(*turns: tuple[int, int, int]) -> tuple[list[Span], list[int]]:
    """Windows over continuous speech and the label of the turn each one overlaps most."""
    timeline = [(Span(start, end), label) for start, end, label in turns]
    windows = speech_windows([Span(turns[0][0], turns[-1][1])])
    return windows, [voice_at(w, timeline) for w in windows]


def test_overlapping_windows_share_their_overlap_and_same_labels_join() -> None:
    windows = [
        Span(0, 1500),
        Span(750, 2250),
        Span(1500, 3000),
        Span(2250, 3750),
        Span(2500, 4000),
        Span(5000, 6000),
    ]
    turns = speaker_turns(windows, [0, 0, 1, 1, 1, 0])
    assert turns == [Turn(0, 1875, 0), Turn(1875, 4000, 1), Turn(5000, 6000, 0)]


def test_turns_need_one_label_per_window() -> None:
    with pytest.raises(ValueError):
        speaker_turns([Span(0, 1500)], [])


def test_a_sentence_takes_the_speaker_heard_most_in_it() -> None:
    windows, labels = _timeline((0, 3000, 0), (3000, 8000, 1))
    sentences = [Sentence("甲", 0, 2500), Sentence("乙", 2600, 8000), Sentence("丙", 2000, 3900)]
    assert [s.speaker for s in label_sentences(sentences, windows, labels)] == ["S1", "S2", "S1"]


def test_a_short_interjection_does_not_split_a_sentence() -> None:
    windows, labels = _timeline((0, 3000, 0), (3000, 3800, 1), (3800, 7000, 0))
    assert 1 in labels
    out = label_sentences([Sentence("一二三四五六七八九十。", 0, 7000)], windows, labels)
    assert [(s.text, s.speaker) for s in out] == [("一二三四五六七八九十。", "S1")]


def test_a_change_of_speaker_splits_the_sentence_keeping_what_it_heard() -> None:
    windows, labels = _timeline((0, 3000, 0), (3000, 6000, 1))
    sentence = Sentence("你好我是张三。今天天气很好。", 0, 6000, "zh", "HAPPY", ("Laughter",))
    out = label_sentences([sentence], windows, labels)
    assert [(s.text, s.speaker) for s in out] == [("你好我是张三。", "S1"), ("今天天气很好。", "S2")]
    assert out[0].end_ms == out[1].start_ms and 2500 < out[0].end_ms < 3500
    assert all((s.language, s.emotion, s.events) == ("zh", "HAPPY", ("Laughter",)) for s in out)


def test_a_sentence_with_words_splits_at_a_word_boundary() -> None:
    windows, labels = _timeline((0, 4000, 0), (4000, 6000, 1), (6000, 9000, 0))
    text = "一二三四五六七八九"
    words = tuple(Word(ch, i * 1000, i * 1000 + 900) for i, ch in enumerate(text))
    out = label_sentences([Sentence(text, 0, 9000, words=words)], windows, labels)
    assert [(s.text, s.speaker) for s in out] == [("一二三四", "S1"), ("五六", "S2"), ("七八九", "S1")]
    assert [s.start_ms for s in out] == [0, 4000, 6000]
    assert [w.text for s in out for w in s.words or ()] == list(text)


def test_a_cut_that_cannot_be_made_leaves_one_sentence_with_one_speaker() -> None:
    windows, labels = _timeline((0, 3000, 0), (3000, 6000, 1))
    out = label_sentences([Sentence("好", 0, 6000, words=(Word("好", 0, 6000),))], windows, labels)
    assert [(s.text, s.start_ms, s.end_ms, s.speaker) for s in out] == [("好", 0, 6000, "S1")]


def test_a_sentence_outside_every_window_takes_the_nearest_speaker() -> None:
    windows, labels = _timeline((0, 3000, 0), (3000, 6000, 1))
    out = label_sentences([Sentence("喂", 6500, 7000), Sentence("嗯", 6000, 6000)], windows, labels)
    assert [s.speaker for s in out] == ["S2", "S2"]


def test_without_windows_sentences_are_left_unlabelled() -> None:
    sentence = Sentence("你好", 0, 1000)
    assert label_sentences([sentence], [], []) == [sentence]
    assert talk_times([sentence]) == []


def test_talk_time_adds_each_speakers_sentences_in_order_of_first_appearance() -> None:
    sentences = [
        Sentence("a", 0, 1000, speaker="S2"),
        Sentence("b", 1000, 4000, speaker="S1"),
        Sentence("c", 5000, 5500, speaker="S2"),
        Sentence("d", 6000, 7000),
    ]
    assert [t.as_dict() for t in talk_times(sentences)] == [
        {"speaker": "S2", "talk_ms": 1500},
        {"speaker": "S1", "talk_ms": 3000},
    ]


def test_names_count_from_one() -> None:
    assert [speaker_name(label) for label in (0, 1, 9)] == ["S1", "S2", "S10"]


def test_synthetic_voices_end_to_end() -> None:
    """Three voices, embedded by the fake role, clustered, and put on a transcript."""
    turns = [(Span(0, 5000), 2), (Span(5000, 9000), 0), (Span(9000, 12000), 1), (Span(12000, 16000), 2)]
    windows = speech_windows([Span(0, 16000)])
    labels = cluster_speakers(SyntheticVoices(3).embed_windows(windows, turns)).tolist()
    sentences = [
        Sentence("甲说。", 0, 4800),
        Sentence("乙说。丙说。", 5200, 11800),
        Sentence("甲又说。", 12100, 16000),
    ]
    out = label_sentences(sentences, windows, labels)
    assert [(s.text, s.speaker) for s in out] == [
        ("甲说。", "S1"),
        ("乙说。", "S2"),
        ("丙说。", "S3"),
        ("甲又说。", "S1"),
    ]
    assert out[1].end_ms == out[2].start_ms == 9375  # the change at 9000, known to within a window hop
    assert [(t.speaker, t.talk_ms) for t in talk_times(out)] == [
        ("S1", 4800 + 3900),
        ("S2", 4175),
        ("S3", 2425),
    ]
