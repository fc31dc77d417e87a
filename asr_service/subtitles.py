"""Timed sentences as plain text and subtitles (SRT, WebVTT), in cues of at most two readable lines."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .pipeline import Sentence
from .roles import Word

FORMATS = ("json", "txt", "srt", "vtt")
MAX_LINE_WIDTH = 42  # display columns per line: 42 Latin characters or 21 Chinese ones
MAX_LINES = 2
# A line break inside a sentence would end a cue early (a blank line) or break "one sentence a line":
# each becomes a space, one for one, so word positions in the text stay where they were.
_LINE_BREAKS = dict.fromkeys(map(ord, "\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029"), " ")
_BREAKS = "，。！？；：、,.!?;:）)」』】》"  # a line or cue may end after one of these


@dataclass(frozen=True)
class Cue:
    """One subtitle: its time span and up to MAX_LINES lines."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]


def width(text: str) -> int:
    """Display columns: wide and full-width characters (CJK) take two."""
    return sum(map(_char_width, text))


def _char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def _cut(text: str, limit: int, allowed: set[int] | None = None) -> int:
    """Where to end the first piece of `text` within `limit` columns: after punctuation or a space
    in its second half if there is one, else at the limit. With `allowed`, only at those positions
    (word boundaries), unless no boundary fits (one word wider than the limit)."""
    end, used = 0, 0
    while end < len(text) and used + _char_width(text[end]) <= limit:  # text may be long: no slicing
        used += _char_width(text[end])
        end += 1
    if end >= len(text):
        return len(text)
    for stop in range(end, max(end // 2, 1) - 1, -1):
        if allowed is not None and stop not in allowed:
            continue
        if text[stop - 1] in _BREAKS or text[stop - 1].isspace() or text[stop].isspace():
            return stop
    fitting = [stop for stop in allowed or () if 0 < stop <= end]
    return max(fitting) if fitting else max(end, 1)


def _line_spans(text: str, limit: int, allowed: set[int] | None = None) -> list[tuple[int, int]]:
    """`text` in lines of at most `limit` columns, cut where _cut says, as (start, end) character
    positions with the spaces at the cuts left out."""
    spans: list[tuple[int, int]] = []
    start = len(text) - len(text.lstrip())
    while start < len(text):
        cuts = None if allowed is None else {c - start for c in allowed if c > start}
        end = start + _cut(text[start:], limit, cuts)
        spans.append((start, start + len(text[start:end].rstrip())))
        start = end + len(text[end:]) - len(text[end:].lstrip())
    return spans


def _word_spans(sentence: Sentence) -> list[tuple[int, int, Word]] | None:
    """Each word's (start, end) position in the text, or None without words or when they do not spell it."""
    if not sentence.words:
        return None
    text, at, spans = sentence.text, 0, []
    for word in sentence.words:
        found = text.find(word.text, at)
        if found < 0 or text[at:found].strip():
            return None
        spans.append((found, found + len(word.text), word))
        at = found + len(word.text)
    return spans if not text[at:].strip() else None


def sentence_cues(sentence: Sentence) -> list[Cue]:
    """A sentence as lines of at most MAX_LINE_WIDTH columns, MAX_LINES to a cue. With words, lines end
    between words and each cue lasts from its first word's start to its last word's end; else each
    cue gets the share of the sentence's time that its characters have, without gaps or overlaps."""
    words = _word_spans(sentence)
    if words is not None:
        return _word_cues(sentence.text, words)
    lines = [sentence.text[a:b] for a, b in _line_spans(sentence.text, MAX_LINE_WIDTH)]
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


def _word_cues(text: str, words: list[tuple[int, int, Word]]) -> list[Cue]:
    """Cues cut at word boundaries, timed by the words in them; never overlapping."""
    bounds = {edge for start, end, _ in words for edge in (start, end)}
    spans = _line_spans(text, MAX_LINE_WIDTH, bounds)
    made: list[Cue] = []
    for first in range(0, len(spans), MAX_LINES):
        group = spans[first : first + MAX_LINES]
        lo, hi = group[0][0], group[-1][1]
        inside = [w for start, end, w in words if start < hi and end > lo]
        begin = max(inside[0].start_ms, made[-1].end_ms if made else 0)
        made.append(Cue(begin, max(inside[-1].end_ms, begin), tuple(text[a:b] for a, b in group)))
    return made


def cues(sentences: Sequence[Sentence]) -> list[Cue]:
    """Every sentence's cues, in order; empty sentences make none."""
    flat = (replace(s, text=_one_line(s.text)) for s in sentences)
    return [cue for sentence in flat if sentence.text.strip() for cue in sentence_cues(sentence)]


def _one_line(text: str) -> str:
    return text.translate(_LINE_BREAKS)


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
    lines = (_one_line(s.text).strip() for s in sentences)
    return "".join(f"{line}\n" for line in lines if line)
