"""Speakers on a transcript: each sentence gets the speaker heard most in it, split where the voice changes.

Labelled windows (speaker_clustering or speaker_tracker) become turns: a window holds its own time,
two overlapping windows share their overlap at its middle, and touching pieces of one label join.

A sentence's speaker is the label with the most time inside it (the earlier label on a tie); a
sentence that no turn touches takes the nearest turn's. A sentence is split where another speaker
holds at least MIN_TURN_MS of it in one run: runs shorter than that are counted with the run
before them (or after, at the sentence start), then neighbouring runs of one label join, and
each run left becomes a part. Where a part starts is decided by sentence_split: at a word
boundary when the sentence has words, else at punctuation or by the characters' share of time.

Labels are shown as "S1", "S2", ...: label 0 is S1. Clustering numbers labels by first
appearance in time, so the names are in that order too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from .pipeline import Sentence
from .roles import Span
from .sentence_split import split_sentence

MIN_TURN_MS = 1000


@dataclass(frozen=True)
class Turn:
    """A stretch of the recording held by one speaker label; times in ms."""

    start_ms: int
    end_ms: int
    label: int

    @property
    def duration_ms(self) -> int:
        """Length of the turn."""
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class SpeakerTalk:
    """One speaker's total talk time over a transcript's sentences."""

    speaker: str
    talk_ms: int

    def as_dict(self) -> dict[str, object]:
        """The wire form, an entry of a result's speaker summary."""
        return {"speaker": self.speaker, "talk_ms": self.talk_ms}


def speaker_name(label: int) -> str:
    """The shown name of a label: 0 is "S1"."""
    return f"S{label + 1}"


def speaker_turns(windows: Sequence[Span], labels: Sequence[int]) -> list[Turn]:
    """Turns in time order from labelled windows (see the module doc)."""
    if len(windows) != len(labels):
        raise ValueError("one label per window is needed")
    order = sorted(range(len(windows)), key=lambda i: (windows[i].start_ms, windows[i].end_ms))
    turns: list[Turn] = []
    for position, index in enumerate(order):
        window = windows[index]
        start, end = window.start_ms, window.end_ms
        # the window before ended at the middle of its overlap with this one, so this starts there
        start = max(start, turns[-1].end_ms) if turns else start
        if position + 1 < len(order) and (after := windows[order[position + 1]]).start_ms < end:
            end = (after.start_ms + end) // 2
        if end > start:
            _append(turns, Turn(start, end, labels[index]))
    return turns


def label_sentences(
    sentences: Iterable[Sentence], windows: Sequence[Span], labels: Sequence[int]
) -> list[Sentence]:
    """The sentences with speakers, split at changes of speaker; unchanged when there are no windows."""
    turns = speaker_turns(windows, labels)
    return [part for sentence in sentences for part in _labelled(sentence, turns)]


def talk_times(sentences: Iterable[Sentence]) -> list[SpeakerTalk]:
    """Each speaker's total sentence time, in order of first appearance; unlabelled sentences skipped."""
    totals: dict[str, int] = {}
    for sentence in sentences:
        if sentence.speaker is not None:
            totals[sentence.speaker] = totals.get(sentence.speaker, 0) + sentence.end_ms - sentence.start_ms
    return [SpeakerTalk(speaker, ms) for speaker, ms in totals.items()]


def _labelled(sentence: Sentence, turns: list[Turn]) -> list[Sentence]:
    if not turns:
        return [sentence]
    runs = _runs_inside(sentence, turns)
    if not runs:
        return [replace(sentence, speaker=speaker_name(_nearest(sentence, turns)))]
    parts = _parts(runs)
    if len(parts) == 1:
        return [replace(sentence, speaker=speaker_name(_most_time(runs)))]
    return _split_at_changes(sentence, parts)


def _split_at_changes(sentence: Sentence, parts: list[Turn]) -> list[Sentence]:
    """The sentence cut between its parts; a piece past a dropped cut has its first part's speaker."""
    cuts = [(a.end_ms + b.start_ms) // 2 for a, b in pairwise(parts)]
    return [
        replace(piece, speaker=speaker_name(parts[number].label))
        for piece, number in split_sentence(sentence, cuts)
    ]


def _runs_inside(sentence: Sentence, turns: list[Turn]) -> list[Turn]:
    """The turns clipped to the sentence, those with time inside it only."""
    clipped = [
        Turn(max(t.start_ms, sentence.start_ms), min(t.end_ms, sentence.end_ms), t.label)
        for t in turns
        if t.end_ms > sentence.start_ms and t.start_ms < sentence.end_ms
    ]
    return [t for t in clipped if t.duration_ms > 0]


def _parts(runs: list[Turn]) -> list[Turn]:
    """Runs of at least MIN_TURN_MS, short runs counted with their neighbour, same labels joined."""
    parts: list[Turn] = []
    leading_start: int | None = None
    for run in runs:
        if run.duration_ms < MIN_TURN_MS:
            if parts:
                parts[-1] = replace(parts[-1], end_ms=run.end_ms)
            elif leading_start is None:
                leading_start = run.start_ms
            continue
        if parts and parts[-1].label == run.label:
            parts[-1] = replace(parts[-1], end_ms=run.end_ms)
        else:
            parts.append(run if parts or leading_start is None else replace(run, start_ms=leading_start))
    return parts or [Turn(runs[0].start_ms, runs[-1].end_ms, _most_time(runs))]


def _most_time(runs: Iterable[Turn]) -> int:
    """The label with the most time in the runs; the smallest (earliest heard) on a tie."""
    totals: dict[int, int] = {}
    for run in runs:
        totals[run.label] = totals.get(run.label, 0) + run.duration_ms
    return min(totals, key=lambda label: (-totals[label], label))


def _nearest(sentence: Sentence, turns: list[Turn]) -> int:
    """The label of the turn closest in time to a sentence that no turn overlaps (the earlier on a tie)."""

    def gap(turn: Turn) -> int:
        return max(turn.start_ms - sentence.end_ms, sentence.start_ms - turn.end_ms)

    return min(turns, key=gap).label


def _append(turns: list[Turn], turn: Turn) -> None:
    """Adds a turn, joining it to the last one when they touch and have the same label."""
    if turns and turns[-1].label == turn.label and turns[-1].end_ms >= turn.start_ms:
        turns[-1] = replace(turns[-1], end_ms=turn.end_ms)
    else:
        turns.append(turn)
