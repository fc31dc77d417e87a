"""Pinyin similarity: where a Chinese hotword sounds like a stretch of recognised text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from rapidfuzz.distance import Levenshtein

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_INITIALS = (
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
)
# Initials many speakers (and ASR models) confuse; each maps to one representative.
_FUZZY_INITIALS = {"zh": "z", "ch": "c", "sh": "s", "n": "l", "h": "f"}
FUZZY_SCORE = 0.9  # a near-homophone (zh/z, in/ing, n/l ...) counts almost as the same syllable
OTHER_WEIGHT = 0.8  # otherwise: the spelling similarity of the two syllables, scaled down


@dataclass(frozen=True)
class SoundAlike:
    """A stretch of text [start, end) that sounds like a hotword, with its score in [0, 1]."""

    start: int
    end: int
    score: float


def is_han(text: str) -> bool:
    """Whether every character of `text` is a Chinese character."""
    return bool(text) and HAN.fullmatch(text) is not None


@lru_cache(maxsize=4096)
def syllables(han: str) -> tuple[str, ...]:
    """Toneless pinyin of a run of Chinese characters, one syllable per character."""
    found = lazy_pinyin(han, style=Style.NORMAL, errors="default")
    if len(found) != len(han):  # a phrase reading that does not split per character
        found = [lazy_pinyin(char, style=Style.NORMAL, errors="default")[0] for char in han]
    return tuple(found)


def _fuzzy(syllable: str) -> str:
    initial = next((i for i in _INITIALS if syllable.startswith(i)), "")
    final = syllable[len(initial) :]
    if final.endswith("ng"):
        final = final[:-1]  # ing/in, eng/en, ang/an
    return _FUZZY_INITIALS.get(initial, initial) + final


def syllable_similarity(a: str, b: str) -> float:
    """1 for the same syllable, FUZZY_SCORE for a near-homophone, less for other spellings."""
    if a == b:
        return 1.0
    if _fuzzy(a) == _fuzzy(b):
        return FUZZY_SCORE
    return OTHER_WEIGHT * Levenshtein.normalized_similarity(a, b)


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Mean syllable similarity of two equally long syllable sequences (0 when lengths differ)."""
    if len(a) != len(b) or not a:
        return 0.0
    return sum(syllable_similarity(x, y) for x, y in zip(a, b, strict=True)) / len(a)


def sound_alikes(text: str, word: str, threshold: float) -> list[SoundAlike]:
    """Every stretch of Chinese characters in `text`, as long as `word`, whose pinyin is close enough."""
    target = syllables(word)
    size = len(word)
    found: list[SoundAlike] = []
    for run in HAN.finditer(text):
        heard = syllables(run.group())
        for offset in range(len(heard) - size + 1):
            start = run.start() + offset
            if text[start : start + size] == word:
                continue
            score = similarity(heard[offset : offset + size], target)
            if score >= threshold:
                found.append(SoundAlike(start, start + size, round(score, 3)))
    return found
