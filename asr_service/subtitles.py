"""Timed sentences as plain text and subtitles (SRT, WebVTT), in cues of at most two readable lines."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .pipeline import Sentence

FORMATS = ("json", "txt", "srt", "vtt")
MAX_LINE_WIDTH = 42  # display columns per line: 42 Latin characters or 21 Chinese ones
MAX_LINES = 2
_BREAKS = "，。！？；：、,.!?;:）)」』】》"  # a line or cue may end after one of these


@dataclass(frozen=True)
class Cue:
    """One subtitle: its time span and up to MAX_LINES lines."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]


def width(text: str) -> int:
    """Display columns: wide and full-width characters (CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, limit: int) -> int:
    """Where to end the first piece of `text` within `limit` columns: after punctuation or a space
    in its second half if there is one, else at the limit."""
    end, used = 0, 0
    while end < len(text) and used + width(text[end]) <= limit:
        used += width(text[end])
        end += 1
    if end >= len(text):
        return len(text)
    for stop in range(end, max(end // 2, 1) - 1, -1):
        if text[stop - 1] in _BREAKS or text[stop - 1].isspace() or text[stop].isspace():
            return stop
    return max(end, 1)


def _pieces(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` columns, cut where _cut says, spaces at the cuts dropped."""
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        end = _cut(rest, limit)
        pieces.append(rest[:end].strip())
        rest = rest[end:].strip()
    return [p for p in pieces if p]


def sentence_cues(sentence: Sentence) -> list[Cue]:
    """A sentence as lines of at most MAX_LINE_WIDTH columns, MAX_LINES to a cue; each cue gets the
    share of the sentence's time that its characters have, so cues follow without gaps or overlaps."""
    lines = _pieces(sentence.text, MAX_LINE_WIDTH)
    groups = [tuple(lines[i : i + MAX_LINES]) for i in range(0, len(lines), MAX_LINES)]
    total = sum(len(line) for line in lines) or 1
    span = max(sentence.end_ms - sentence.start_ms, 0)
    cues: list[Cue] = []
    start, done = sentence.start_ms, 0
    for group in groups:
        done += sum(len(line) for line in group)
        end = sentence.start_ms + span * done // total
        cues.append(Cue(start, end, group))
        start = end
    return cues


def cues(sentences: Sequence[Sentence]) -> list[Cue]:
    """Every sentence's cues, in order; empty sentences make none."""
    return [cue for sentence in sentences if sentence.text.strip() for cue in sentence_cues(sentence)]


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(max(ms, 0), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def to_srt(sentences: Sequence[Sentence]) -> str:
    """SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each."""
    blocks = [
        f"{n}\n{_clock(c.start_ms, ',')} --> {_clock(c.end_ms, ',')}\n" + "\n".join(c.lines) + "\n"
        for n, c in enumerate(cues(sentences), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(sentences: Sequence[Sentence]) -> str:
    """WebVTT: the header, then cues with `HH:MM:SS.mmm --> HH:MM:SS.mmm`."""
    blocks = [
        f"{_clock(c.start_ms, '.')} --> {_clock(c.end_ms, '.')}\n" + "\n".join(map(_vtt_text, c.lines)) + "\n"
        for c in cues(sentences)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def _vtt_text(line: str) -> str:
    """A cue line as WebVTT text: `&`, `<` and `>` escaped (so no `-->` and no markup)."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_txt(sentences: Sequence[Sentence]) -> str:
    """Plain text: one sentence a line."""
    return "".join(f"{s.text.strip()}\n" for s in sentences if s.text.strip())
