"""Deterministic hotword replacement in one sentence: explicit corrections, Latin casing, pinyin matches."""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .hotwords import Vocabulary
from .pinyin_match import is_han, sound_alikes

log = logging.getLogger(__name__)

Lexicon = Callable[[str], bool]
"""Whether a string is a known word (used to keep replacements out of longer words)."""

_LONGEST_WORD = 8
_RULE_ORDER = {"correction": 0, "case": 1, "pinyin": 2}


@dataclass(frozen=True)
class Replacement:
    """One change made to a text: `heard` at [start, end) became `meant`."""

    start: int
    end: int
    heard: str
    meant: str
    rule: str  # correction | case | pinyin
    score: float = 1.0


@lru_cache(maxsize=1)
def dictionary_words() -> frozenset[str]:
    """Chinese words of two or more characters from jieba's dictionary (FunASR installs jieba)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        log.warning("jieba is not installed: hotword replacement cannot see words around a match")
        return frozenset()
    with (Path(spec.origin).parent / "dict.txt").open(encoding="utf-8") as lines:
        return frozenset(w for w in (line.split(" ", 1)[0] for line in lines) if len(w) >= 2)


def dictionary_lexicon(word: str) -> bool:
    """The default lexicon: jieba's dictionary."""
    return word in dictionary_words()


class HotwordReplacer:
    """Applies a vocabulary to a text; never touches a span that lies inside a longer word."""

    def __init__(self, threshold: float, min_chars: int, lexicon: Lexicon = dictionary_lexicon) -> None:
        self._threshold, self._min_chars, self._lexicon = threshold, min_chars, lexicon

    def warm_up(self) -> None:
        """Load the word list and pinyin tables (both take a moment the first time)."""
        self._lexicon("热身")
        sound_alikes("热身", "热身", 1.0)

    def apply(self, text: str, vocabulary: Vocabulary) -> tuple[str, list[Replacement]]:
        """The text with replacements made, and the replacements (offsets refer to the input text)."""
        if not text or not (vocabulary.weights or vocabulary.corrections):
            return text, []
        known = set(vocabulary.weights) | set(vocabulary.corrections)
        protected = _exact_spans(text, vocabulary.weights)
        weights = {**vocabulary.weights}
        candidates = [
            c for c in self._candidates(text, vocabulary) if not self._inside_longer_word(text, c, known)
        ]
        candidates.sort(
            key=lambda c: (_RULE_ORDER[c.rule], -c.score, -weights.get(c.meant, 0), c.start - c.end, c.start)
        )
        chosen: list[Replacement] = []
        for cand in candidates:
            if any(cand.start < end and start < cand.end for start, end in protected):
                continue
            chosen.append(cand)
            protected.append((cand.start, cand.end))
        chosen.sort(key=lambda c: c.start)
        return _rewrite(text, chosen), chosen

    def _candidates(self, text: str, vocabulary: Vocabulary) -> Iterable[Replacement]:
        for heard, meant in vocabulary.corrections.items():
            for start, end in _occurrences(text, heard, fold_case=not is_han(heard)):
                yield Replacement(start, end, text[start:end], meant, "correction")
        for word in vocabulary.weights:
            if _LATIN.search(word) and not is_han(word):
                for start, end in _occurrences(text, word, fold_case=True):
                    if text[start:end] != word:
                        yield Replacement(start, end, text[start:end], word, "case")
            elif is_han(word) and len(word) >= self._min_chars:
                for alike in sound_alikes(text, word, self._threshold):
                    heard = text[alike.start : alike.end]
                    yield Replacement(alike.start, alike.end, heard, word, "pinyin", alike.score)

    def _inside_longer_word(self, text: str, cand: Replacement, known: set[str]) -> bool:
        """A Chinese span inside a longer word, or cutting into a word at both ends, is left alone."""
        if not is_han(cand.heard):
            return False  # Latin spans already end at word boundaries
        size = cand.end - cand.start
        cuts_left = cuts_right = False
        for start in range(max(0, cand.start - _LONGEST_WORD + 1), cand.end):
            for end in range(max(start + 2, cand.start + 1), min(len(text), start + _LONGEST_WORD) + 1):
                if not _is_word(text[start:end], known, self._lexicon):
                    continue
                if start <= cand.start and end >= cand.end and end - start > size:
                    return True
                cuts_left = cuts_left or start < cand.start < end < cand.end
                cuts_right = cuts_right or cand.start < start < cand.end < end
        return cuts_left and cuts_right


_LATIN = re.compile(r"[A-Za-z0-9]")


def _is_word(piece: str, known: set[str], lexicon: Lexicon) -> bool:
    return is_han(piece) and (piece in known or lexicon(piece))


def _occurrences(text: str, word: str, fold_case: bool) -> list[tuple[int, int]]:
    """Where `word` occurs; a word with Latin letters or digits only as a whole token."""
    pattern = re.escape(word)
    if _LATIN.search(word[:1]):
        pattern = r"(?<![A-Za-z0-9])" + pattern
    if _LATIN.search(word[-1:]):
        pattern += r"(?![A-Za-z0-9])"
    flags = re.IGNORECASE if fold_case else 0
    return [(m.start(), m.end()) for m in re.finditer(pattern, text, flags)]


def _exact_spans(text: str, words: Iterable[str]) -> list[tuple[int, int]]:
    """Hotwords already spelled right: nothing inside them is replaced."""
    return [span for word in words for span in _occurrences(text, word, fold_case=False)]


def _rewrite(text: str, chosen: list[Replacement]) -> str:
    out, position = [], 0
    for rep in chosen:
        out += [text[position : rep.start], rep.meant]
        position = rep.end
    out.append(text[position:])
    return "".join(out)
