"""The final sentences a recording's client has been sent: each pushed once, changes pushed as updates.

The second pass tells the log the recording's sentences as they stand (`sync`); the log emits the
difference from what it pushed before: `sentence_final` for a sentence not pushed yet, and
`sentence_update` with the next revision for one whose fields changed. Emission happens under the
session's lock, the lock that also guards binding a new client and taking its `snapshot`, so a
resuming client gets every sentence exactly once: in its snapshot or as a later event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from .events import PushedSentence, SentenceEvent, SentenceFinal, SentenceUpdate
from .pipeline import Sentence

log = logging.getLogger(__name__)


class SentenceLog:
    """The pushed sentences, latest revision of each, in time order; `sync` emits what differs."""

    def __init__(self, emit: Callable[[SentenceEvent], None], lock: threading.RLock | None = None) -> None:
        """`emit` sends an event to the client bound now; `lock` is the one that guards that binding."""
        self._emit = emit
        self._lock = lock if lock is not None else threading.RLock()
        self._pushed: list[PushedSentence] = []
        self._sources: list[Sentence] = []  # what each pushed sentence was made from

    def sync(self, current: Sequence[Sentence]) -> int:
        """Push the difference between `current` (every sentence so far, in order) and what was
        pushed; returns how many sentences were new."""
        with self._lock:
            events: list[SentenceEvent] = [
                SentenceUpdate(self._revise(index, sentence))
                for index, sentence in enumerate(current[: len(self._pushed)])
                if self._changed(index, sentence)
            ]
            new = current[len(self._pushed) :]
            for sentence in new:
                pushed = PushedSentence(len(self._pushed), 0, sentence.as_dict())
                self._pushed.append(pushed)
                self._sources.append(sentence)
                events.append(SentenceFinal(pushed))
            if len(current) < len(self._pushed):
                log.warning("%d sentences pushed, but only %d now", len(self._pushed), len(current))
            for event in events:
                self._emit(event)
            return len(new)

    def _changed(self, index: int, sentence: Sentence) -> bool:
        source = self._sources[index]  # mostly the very object pushed: the cheap test first
        return (
            sentence is not source and sentence != source and sentence.as_dict() != self._pushed[index].fields
        )

    def _revise(self, index: int, sentence: Sentence) -> PushedSentence:
        revised = PushedSentence(index, self._pushed[index].revision + 1, sentence.as_dict())
        self._pushed[index], self._sources[index] = revised, sentence
        return revised

    def snapshot(self) -> tuple[PushedSentence, ...]:
        """Every sentence pushed so far, latest revision of each (call with the lock held to bind a
        client at the same moment)."""
        with self._lock:
            return tuple(self._pushed)
