"""Speaker labels for a live recording: provisional ones as segments close, final ones at the end.

Provisional labels never change once given. Each closed segment's windows are first grouped among
themselves (speaker_clustering, so a change of voice inside a segment is seen); each group's
centroid is then matched to the running centroids of the speakers heard so far, best pairs first,
one group per speaker: a pair at least LIVE_MATCH_SIMILARITY alike gives the group that speaker's
label, so a returning voice gets its earlier label. An unmatched group is a new speaker, unless
num_speakers/max_speakers are reached, when it joins the most alike speaker. Running centroids
are sums of unit embeddings, so every window counts the same, however old.

Why 0.6: it compares a few windows' centroid with a speaker's centroid. For CAM++ one window is
about 0.75 alike to its own speaker's centroid and under 0.3 to another's; FunASR's realtime
server uses 0.6 for the same match. It is a setting to tune on real recordings.

At the end, `final` clusters every window of the recording again (the offline algorithm with the
same counts), and maps each provisional label to the final label most of its windows got.

The whole state (windows, float32 embeddings, labels, centroid sums, thresholds) is a JSON-able
dict, so a resumed, handed-off or restarted session goes on with exactly the same labels.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .roles import Span
from .speaker_clustering import SAME_SPEAKER_SIMILARITY, SpeakerCount, centroids, cluster_speakers, normalised

LIVE_MATCH_SIMILARITY = 0.6
STATE_VERSION = 1


@dataclass(frozen=True)
class FinalSpeakers:
    """The end-of-recording labels: one per window in the order added, and provisional -> final."""

    labels: list[int]
    mapping: dict[int, int]


class SpeakerTracker:
    """Stable live speaker labels over a recording's closed segments; see the module doc."""

    def __init__(
        self,
        count: SpeakerCount | None = None,
        match_threshold: float = LIVE_MATCH_SIMILARITY,
        same_threshold: float = SAME_SPEAKER_SIMILARITY,
    ) -> None:
        self._count = count or SpeakerCount()
        self._match = match_threshold
        self._same = same_threshold
        self._windows: list[Span] = []
        self._rows: list[np.ndarray] = []  # float32 embeddings as given, one per window
        self._labels: list[int] = []
        self._sums = np.zeros((0, 0))  # speakers x dims: sum of each speaker's unit embeddings

    @property
    def windows(self) -> list[Span]:
        """Every window added so far, in order."""
        return list(self._windows)

    @property
    def labels(self) -> list[int]:
        """The provisional label of every window added so far."""
        return list(self._labels)

    def add(self, windows: Sequence[Span], embeddings: np.ndarray) -> list[int]:
        """Provisional labels (0, 1, ... by first appearance) for one closed segment's windows."""
        if len(windows) == 0:
            return []
        rows = np.asarray(embeddings, dtype=np.float32)
        if rows.ndim != 2 or len(rows) != len(windows):
            raise ValueError("one embedding row per window is needed")
        if self._rows and rows.shape[1] != self._rows[0].shape[0]:
            raise ValueError("embedding size changed within a recording")
        labels = self._assign(rows)
        self._remember(windows, rows, labels)
        return labels

    def final(self) -> FinalSpeakers:
        """All windows clustered again with the recording's counts, and where each provisional label went."""
        if not self._rows:
            return FinalSpeakers([], {})
        labels = cluster_speakers(np.stack(self._rows), self._count, self._same)
        provisional = np.array(self._labels)
        mapping = {
            p: int(np.argmax(np.bincount(labels[provisional == p])))  # the smallest label on a tie
            for p in sorted(set(self._labels))
        }
        return FinalSpeakers(labels.tolist(), mapping)

    def _assign(self, rows: np.ndarray) -> list[int]:
        """Labels for a segment's rows: its own groups matched to known speakers, else new ones."""
        groups = cluster_speakers(rows, threshold=self._same)
        centres = centroids(normalised(rows), groups)
        chosen = self._matches(centres)
        for group in range(len(centres)):
            if group not in chosen:
                chosen[group] = self._new_or_nearest(centres[group])
        return [chosen[int(g)] for g in groups]

    def _matches(self, centres: np.ndarray) -> dict[int, int]:
        """Group -> known speaker for pairs at least the match threshold alike, best first, one-to-one."""
        if len(self._sums) == 0:
            return {}
        similarity = centres @ normalised(self._sums).T
        pairs = sorted(
            ((-similarity[g, s], g, s) for g in range(len(centres)) for s in range(len(self._sums))),
        )
        chosen: dict[int, int] = {}
        for negative, group, speaker in pairs:
            if -negative < self._match:
                break
            if group not in chosen and speaker not in chosen.values():
                chosen[group] = speaker
        return chosen

    def _new_or_nearest(self, centre: np.ndarray) -> int:
        """A new label, or the most alike known one when the speaker count is already reached."""
        cap = self._count.num_speakers or self._count.max_speakers
        known = len(self._sums)
        if cap is None or known < cap or known == 0:
            self._sums = np.vstack([self._sums.reshape(known, len(centre)), np.zeros((1, len(centre)))])
            return known
        return int(np.argmax(normalised(self._sums) @ centre))

    def _remember(self, windows: Sequence[Span], rows: np.ndarray, labels: list[int]) -> None:
        unit = normalised(rows)
        for window, row, vector, label in zip(windows, rows, unit, labels, strict=True):
            self._windows.append(window)
            self._rows.append(row)
            self._labels.append(label)
            self._sums[label] += vector

    def to_state(self) -> dict[str, object]:
        """The tracker as a JSON-able dict; from_state rebuilds exactly the same tracker."""
        dims = self._rows[0].shape[0] if self._rows else 0
        return {
            "version": STATE_VERSION,
            "count": self._count.as_dict(),
            "match_threshold": self._match,
            "same_threshold": self._same,
            "dims": dims,
            "windows": [[w.start_ms, w.end_ms] for w in self._windows],
            "labels": list(self._labels),
            "embeddings": _encode(np.stack(self._rows) if self._rows else np.zeros(0), "<f4"),
            "sums": _encode(self._sums, "<f8"),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> SpeakerTracker:
        """The tracker that to_state described; ValueError when the dict is not one."""
        try:
            return cls._restored(state)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a speaker tracker state: {error}") from error

    @classmethod
    def _restored(cls, state: Mapping[str, object]) -> SpeakerTracker:
        if state["version"] != STATE_VERSION:
            raise ValueError(f"version {state['version']!r}")
        count = state["count"]
        if not isinstance(count, Mapping):
            raise TypeError("count")
        tracker = cls(
            SpeakerCount(**count), _float(state["match_threshold"]), _float(state["same_threshold"])
        )
        dims = int(str(state["dims"]))
        windows = [Span(int(s), int(e)) for s, e in _list(state["windows"])]
        labels = [int(label) for label in _list(state["labels"])]
        rows = _decode(state["embeddings"], "<f4").reshape(len(windows), dims)
        sums = _decode(state["sums"], "<f8").reshape(-1, dims) if dims else np.zeros((0, 0))
        if len(labels) != len(windows) or (labels and max(labels) >= len(sums)) or min(labels, default=0) < 0:
            raise ValueError("labels do not fit the windows and speakers")
        tracker._windows, tracker._labels, tracker._sums = windows, labels, sums
        tracker._rows = [row.astype(np.float32) for row in rows]
        return tracker


def _encode(array: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _decode(text: object, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(str(text), validate=True), dtype=dtype).astype(dtype[1:]).copy()


def _list(value: object) -> list:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _float(value: object) -> float:
    if not isinstance(value, (int, float)):
        raise TypeError("expected a number")
    return float(value)
