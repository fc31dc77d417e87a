"""Word times kept through an edit of a sentence's text (hotword replacement, the LLM).

The words' texts and the new text are aligned character by character, whitespace ignored
(difflib). New words are cut where the old ones were in unchanged stretches; in changed stretches
a run of ASCII letters and digits is one word and every other character one of its own (a space
always cuts). Then:
- a word made of exactly one old word's characters, unchanged, keeps that word's times;
- a word in a replaced stretch gets its character share of the time the replaced characters had
  (several new words in one stretch share it in order), joined with the times of any unchanged
  characters it also holds;
- a word only of inserted characters gets a zero-length time at the end of the word before it,
  or at the sentence start.
Times are then clamped into the sentence and made never to go backwards.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from .roles import Word


@dataclass(frozen=True)
class _Source:
    """Where one new character came from: an old word's character, or a share of a changed stretch."""

    owner: int | None  # index of the old word whose character it is unchanged; None when changed
    start_ms: int | None = None  # its share of the changed stretch's time; None when inserted
    end_ms: int | None = None


def retime(words: Sequence[Word], text: str, start_ms: int, end_ms: int) -> tuple[Word, ...]:
    """The words of `text`, timed from `words` (the words of the text before the edit) as above."""
    old = "".join(ch for w in words for ch in w.text if not ch.isspace())
    if old == "".join(ch for ch in text if not ch.isspace()):
        return tuple(words)
    owners = [i for i, w in enumerate(words) for ch in w.text if not ch.isspace()]
    chars, spaced = _chars(text)
    sources = _sources(words, owners, old, "".join(chars))
    groups = _groups(chars, spaced, sources)
    timed: list[Word] = []
    previous_end = start_ms
    for group in groups:
        begin, finish = _span(words, [sources[j] for j in group], previous_end)
        begin = min(max(begin, previous_end, start_ms), end_ms)
        finish = min(max(finish, begin), end_ms)
        timed.append(Word("".join(chars[j] for j in group), begin, finish))
        previous_end = finish
    return tuple(timed)


def _chars(text: str) -> tuple[list[str], list[bool]]:
    """The text's non-space characters, and for each whether whitespace came before it."""
    chars: list[str] = []
    spaced: list[bool] = []
    gap = False
    for ch in text:
        if ch.isspace():
            gap = True
            continue
        chars.append(ch)
        spaced.append(gap)
        gap = False
    return chars, spaced


def _sources(words: Sequence[Word], owners: list[int], old: str, new: str) -> list[_Source]:
    """Each new character's source, from difflib's alignment of the old characters with the new."""
    sources: list[_Source] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            sources += [_Source(owners[i]) for i in range(i1, i2)]
        elif tag == "replace":
            begin, finish = words[owners[i1]].start_ms, words[owners[i2 - 1]].end_ms
            span, count = max(finish - begin, 0), j2 - j1
            sources += [
                _Source(None, begin + span * k // count, begin + span * (k + 1) // count)
                for k in range(count)
            ]
        elif tag == "insert":
            sources += [_Source(None)] * (j2 - j1)
    return sources


def _joins(a: str, b: str) -> bool:
    """Whether two adjacent characters belong to one word in a changed stretch."""
    return a.isascii() and a.isalnum() and b.isascii() and b.isalnum()


def _groups(chars: list[str], spaced: list[bool], sources: list[_Source]) -> list[list[int]]:
    """Indices of the new characters, cut into words."""
    groups: list[list[int]] = []
    for j in range(len(chars)):
        if j == 0 or spaced[j]:
            cut = True
        elif sources[j].owner is not None and sources[j - 1].owner is not None:
            cut = sources[j].owner != sources[j - 1].owner
        else:
            cut = not _joins(chars[j - 1], chars[j])
        if cut:
            groups.append([j])
        else:
            groups[-1].append(j)
    return groups


def _span(words: Sequence[Word], sources: list[_Source], previous_end: int) -> tuple[int, int]:
    """One new word's (start, end): from the first to the last time its characters had (an unchanged
    word's own), or zero-length at `previous_end` when all of them are inserted."""
    times = [(words[s.owner].start_ms, words[s.owner].end_ms) for s in sources if s.owner is not None]
    times += [(s.start_ms, s.end_ms) for s in sources if s.start_ms is not None and s.end_ms is not None]
    if not times:
        return previous_end, previous_end  # only inserted characters
    return min(t[0] for t in times), max(t[1] for t in times)
