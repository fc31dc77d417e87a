"""Cutting one timed sentence into pieces at given times (where the speaker changes, issue 16).

With words, a piece starts at the word boundary nearest its cut time (the middle of the gap
between two words), never before a punctuation mark, so a mark stays with the words it ends; a
boundary right after a mark within MARK_REACH_MS of the cut is taken before any nearer one; a
piece keeps its words, its text is the sentence text from its first word on, and it starts at
its first word's start. Without words, a piece starts after the punctuation mark nearest the
cut's character position (its share of the sentence time, in characters), when one lies within
a quarter of the text of it; otherwise at that position, moved back to the start of a Latin word
it would cut; it starts at the cut time. A cut that would leave a piece without text is dropped.
Pieces keep the sentence's language, emotion, events and speaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .pipeline import Sentence
from .roles import Word
from .segments import join_texts

BREAKS = frozenset("，。！？；：、…,.!?;:")
MARK_REACH_MS = 750  # a speaker change is known to about one window hop, so a mark this near wins


def split_sentence(sentence: Sentence, cuts: Sequence[int]) -> list[tuple[Sentence, int]]:
    """The pieces at the sorted cut times (ms), each with the number of the part it starts: 0 for
    the first, i + 1 for the piece cut i starts; a dropped cut's number is missing."""
    if sentence.words:
        return _by_words(sentence, sentence.words, cuts)
    return _by_text(sentence, cuts)


def _by_words(sentence: Sentence, words: tuple[Word, ...], cuts: Sequence[int]) -> list[tuple[Sentence, int]]:
    starts = [(0, 0)]  # (part number, index of its first word)
    for number, cut in enumerate(cuts, start=1):
        options = [j for j in range(starts[-1][1] + 1, len(words)) if not _is_mark(words[j].text)]
        after_marks = [
            j
            for j in options
            if _is_mark(words[j - 1].text) and abs(_gap_middle(words, j) - cut) <= MARK_REACH_MS
        ]
        if options:
            starts.append(
                (number, min(after_marks or options, key=lambda j: (abs(_gap_middle(words, j) - cut), j)))
            )
    chars = _char_starts(sentence.text, words)
    pieces = []
    for (number, first), (_, after) in zip(starts, [*starts[1:], (0, len(words))], strict=True):
        own = words[first:after]
        if chars is None:
            text = join_texts([w.text for w in own])
        else:
            text = sentence.text[
                0 if first == 0 else chars[first] : len(sentence.text)
                if after == len(words)
                else chars[after]
            ]
        start = sentence.start_ms if first == 0 else own[0].start_ms
        end = sentence.end_ms if after == len(words) else words[after].start_ms
        pieces.append((replace(sentence, text=text.strip(), start_ms=start, end_ms=end, words=own), number))
    return pieces


def _by_text(sentence: Sentence, cuts: Sequence[int]) -> list[tuple[Sentence, int]]:
    text, length = sentence.text, len(sentence.text)
    duration = max(sentence.end_ms - sentence.start_ms, 1)
    starts = [(0, 0, sentence.start_ms)]  # (part number, first character, start time)
    for number, cut in enumerate(cuts, start=1):
        if not sentence.start_ms < cut < sentence.end_ms:
            continue
        position = _cut_position(text, round(length * (cut - sentence.start_ms) / duration), starts[-1][1])
        if text[starts[-1][1] : position].strip() and text[position:].strip():
            starts.append((number, position, cut))
    ends = [(position, time) for _, position, time in starts[1:]] + [(length, sentence.end_ms)]
    return [
        (replace(sentence, text=text[first:last].strip(), start_ms=start, end_ms=end, words=None), number)
        for (number, first, start), (last, end) in zip(starts, ends, strict=True)
    ]


def _cut_position(text: str, guess: int, after: int) -> int:
    """Where a piece should start near character `guess`: after a nearby mark, else a word start."""
    reach = max(len(text) // 4, 1)
    marks = [p for p in range(after + 1, len(text)) if text[p - 1] in BREAKS and abs(p - guess) <= reach]
    if marks:
        return min(marks, key=lambda p: (abs(p - guess), p))
    position = min(max(guess, after + 1), len(text))
    while (
        after < position - 1
        and _latin(text[position - 1])
        and position < len(text)
        and _latin(text[position])
    ):
        position -= 1
    return position


def _char_starts(text: str, words: Sequence[Word]) -> list[int] | None:
    """Where each word starts in the text; None when the words do not spell the text in order."""
    starts, position = [], 0
    for word in words:
        found = text.find(word.text.strip(), position)
        if not word.text.strip() or found < 0:
            return None
        starts.append(found)
        position = found + len(word.text.strip())
    return starts


def _gap_middle(words: Sequence[Word], index: int) -> float:
    return (words[index - 1].end_ms + words[index].start_ms) / 2


def _is_mark(text: str) -> bool:
    return bool(text.strip()) and all(ch in BREAKS for ch in text.strip())


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()
