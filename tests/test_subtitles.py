"""Text and subtitles from timed sentences: readable cues, and files a player's demuxer reads back."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import av
import pytest

from asr_service import subtitles
from asr_service.pipeline import Sentence
from asr_service.roles import Word
from asr_service.subtitles import MAX_LINE_WIDTH, MAX_LINES, cues, to_srt, to_txt, to_vtt, width

SENTENCES = [
    Sentence(
        "今天我们开会讨论一下项目的进度，然后安排下周的工作。大家有什么问题可以随时提出来，"
        "我们一起解决这些困难，争取按时完成任务。",
        1200,
        10_500,
    ),
    Sentence("", 10_500, 10_600),  # nothing heard: no cue
    Sentence(
        "This English sentence is long enough to need more than one line & uses <angle> brackets --> here.",
        11_000,
        16_000,
    ),
    Sentence("短句。", 3_600_000 + 61_001, 3_600_000 + 62_345),
]


def _parsed(path: Path, demuxer: str) -> list[tuple[int, int, str]]:
    """(start ms, end ms, text) of each cue as FFmpeg's subtitle demuxer reads the file."""
    with av.open(str(path), format=demuxer) as container:
        stream = container.streams.subtitles[0]
        base = stream.time_base
        assert base is not None
        return [
            (int(p.pts * base * 1000), int((p.pts + p.duration) * base * 1000), bytes(p).decode("utf-8"))
            for p in container.demux(stream)
            if p.size and p.pts is not None and p.duration is not None
        ]


def test_cues_are_readable_and_cover_each_sentence_without_gaps() -> None:
    made = cues(SENTENCES)
    assert len(made) >= 5
    for cue in made:
        assert 1 <= len(cue.lines) <= MAX_LINES
        assert all(0 < width(line) <= MAX_LINE_WIDTH for line in cue.lines)
        assert cue.start_ms < cue.end_ms
    for sentence in (s for s in SENTENCES if s.text):
        own = [c for c in made if sentence.start_ms <= c.start_ms < sentence.end_ms]
        assert own[0].start_ms == sentence.start_ms and own[-1].end_ms == sentence.end_ms
        assert all(a.end_ms == b.start_ms for a, b in pairwise(own))
        text = "".join(line for cue in own for line in cue.lines)
        assert text.replace(" ", "") == sentence.text.replace(" ", "")  # every character kept, in order


def test_lines_break_after_punctuation_when_there_is_some() -> None:
    first = cues(SENTENCES[:1])[0]
    assert first.lines == ("今天我们开会讨论一下项目的进度，", "然后安排下周的工作。")


def test_a_line_without_any_break_is_cut_at_the_width() -> None:
    made = cues([Sentence("字" * 50, 0, 5000)])
    assert [line for cue in made for line in cue.lines] == ["字" * 21, "字" * 21, "字" * 8]


def test_width_counts_wide_characters_twice() -> None:
    assert width("abc") == 3 and width("会议") == 4 and width("ＡＢ") == 4


@pytest.mark.parametrize(("render", "demuxer", "suffix"), [(to_srt, "srt", "srt"), (to_vtt, "webvtt", "vtt")])
def test_a_demuxer_reads_back_every_cue_with_its_times(
    render: Callable[[list[Sentence]], str], demuxer: str, suffix: str, tmp_path: Path
) -> None:
    path = tmp_path / f"meeting.{suffix}"
    path.write_text(render(SENTENCES), encoding="utf-8")
    parsed = _parsed(path, demuxer)
    made = cues(SENTENCES)
    assert [(start, end) for start, end, _ in parsed] == [(c.start_ms, c.end_ms) for c in made]
    texts = [text for _, _, text in parsed]
    if demuxer == "webvtt":  # markup characters are escaped in WebVTT, so no cue can end early
        texts = [t.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for t in texts]
    assert texts == ["\n".join(c.lines) for c in made]


def test_srt_and_vtt_shapes() -> None:
    srt = to_srt(SENTENCES)
    assert srt.startswith("1\n00:00:01,200 --> ")
    assert "01:01:01,001 --> 01:01:02,345\n短句。\n" in srt
    vtt = to_vtt(SENTENCES)
    assert vtt.startswith("WEBVTT\n\n00:00:01.200 --> ")
    assert "&lt;angle&gt;" in vtt and "--&gt;" in vtt and "-->  here" not in vtt


def test_text_is_one_sentence_a_line() -> None:
    assert to_txt(SENTENCES).splitlines() == [SENTENCES[0].text, SENTENCES[2].text, "短句。"]
    assert subtitles.FORMATS == ("json", "txt", "srt", "vtt")


def _worded(pieces: list[str], start_ms: int = 1000) -> Sentence:
    """A sentence whose words are `pieces`, each 80 ms long, 100 ms apart."""
    words = tuple(Word(p, start_ms + i * 100, start_ms + i * 100 + 80) for i, p in enumerate(pieces))
    return Sentence("".join(pieces), start_ms, start_ms + 100 * len(pieces), words=words)


def test_with_words_lines_end_between_words_and_cues_take_their_words_times() -> None:
    pieces = [
        *"一二三四五六七八九十一二三四五六七",
        "Kubernetes",
        *"集群部署的情况怎么样我们一起来看一下吧好的没问题的。",
    ]
    sentence = _worded(pieces)
    made = cues([sentence])
    lines = [line for cue in made for line in cue.lines]
    assert lines[0] == "一二三四五六七八九十一二三四五六七" and lines[1].startswith("Kubernetes")
    assert all(0 < width(line) <= MAX_LINE_WIDTH for line in lines) and "".join(lines) == sentence.text
    assert sentence.words is not None
    done = 0
    for cue in made:
        text = "".join(cue.lines)
        taken: list[Word] = []
        while text:
            word = sentence.words[done + len(taken)]
            assert text.startswith(word.text)
            taken.append(word)
            text = text[len(word.text) :]
        assert (cue.start_ms, cue.end_ms) == (taken[0].start_ms, taken[-1].end_ms)
        done += len(taken)
    assert done == len(sentence.words) and len(made) == 2
    assert made[0].end_ms < made[1].start_ms  # the pause between words stays a pause
    plain = cues([Sentence(sentence.text, sentence.start_ms, sentence.end_ms)])
    assert plain[0].lines[0].endswith("Kubernet")  # without words the width alone cuts


@pytest.mark.parametrize("spelt", [("明天",), ("今天",), ("开会。",), ("今天", "会。")])
def test_words_that_do_not_spell_the_text_fall_back_to_the_character_share(spelt: tuple[str, ...]) -> None:
    words = tuple(Word(text, 100 * i, 100 * i + 50) for i, text in enumerate(spelt))
    sentence = Sentence("今天开会。", 0, 1000, words=words)
    assert cues([sentence]) == cues([Sentence("今天开会。", 0, 1000)]) == [cue(0, 1000, "今天开会。")]


def cue(start_ms: int, end_ms: int, *lines: str) -> subtitles.Cue:
    return subtitles.Cue(start_ms, end_ms, lines)


def test_a_line_break_inside_a_sentence_is_a_space_so_no_cue_ends_early(tmp_path: Path) -> None:
    sentence = Sentence("first half\n\n2\n00:00:00,000 --> 00:09:00,000\r\nforged", 0, 4000)
    path = tmp_path / "broken.srt"
    path.write_text(to_srt([sentence]), encoding="utf-8")
    parsed = _parsed(path, "srt")
    assert len(parsed) == len(cues([sentence])) == 1 and parsed[0][:2] == (0, 4000)
    assert "\n" not in "".join(cues([sentence])[0].lines)
    assert to_txt([sentence, Sentence("a\u2028b", 4000, 5000)]).splitlines() == [
        sentence.text.replace("\n", " ").replace("\r", " "),
        "a b",
    ]
