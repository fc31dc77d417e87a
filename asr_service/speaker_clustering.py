"""Who spoke when: speaker labels for a recording's window embeddings (issue 16).

Algorithm: agglomerative clustering with average linkage on cosine distance between
L2-normalised embeddings (scipy.cluster.hierarchy). Why this one:
- it is deterministic (no random initialisation, unlike k-means or spectral clustering's k-means);
- it gives a sensible answer for any number of windows: one window is one speaker, two windows
  are one speaker when they are alike and two when not (FunASR calls everything speaker 0 under
  20 windows; we do not);
- one threshold decides the number of speakers, and the dendrogram can be cut at any other
  number when the caller knows it (num_speakers) or bounds it (min_speakers, max_speakers).

The number of speakers: merges whose average cosine similarity is at least
SAME_SPEAKER_SIMILARITY are taken; the count left is then clamped to [min_speakers, max_speakers]
(num_speakers sets both), and to the number of windows. The threshold: windows of one voice from
CAM++ are about 0.6 alike on average, different voices about 0.1-0.3; FunASR merges clusters whose
*centroids* are 0.78 alike, which for clusters of 0.6-alike windows is about 0.78 x 0.6 ~ 0.47 in
average linkage. 0.5 sits between; it is a setting to tune on real recordings.

Size: the linkage needs the pairwise distances, so at most MAX_CLUSTERED windows are clustered
directly (2000 windows: a 32 MB matrix, well under a second). A longer recording (4 h of speech
is about 19,000 windows) clusters an evenly spaced sample of half that size; windows unlike every
sample cluster (a voice the sample missed) join a second, bounded sample, which is clustered again;
then every window outside the sample goes to the nearest cluster centroid. Memory stays
O(MAX_CLUSTERED^2 + N x speakers), time O(MAX_CLUSTERED^2 + N x speakers x dims).

Labels are numbered 0, 1, ... by first appearance in the input order (time order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import cut_tree, linkage
from scipy.spatial.distance import squareform

SAME_SPEAKER_SIMILARITY = 0.5
MAX_CLUSTERED = 2000


@dataclass(frozen=True)
class SpeakerCount:
    """What the caller knows about the number of speakers; None: not known."""

    num_speakers: int | None = None  # exactly this many (when there are as many windows)
    min_speakers: int | None = None
    max_speakers: int | None = None

    def __post_init__(self) -> None:
        for value in (self.num_speakers, self.min_speakers, self.max_speakers):
            if value is not None and value < 1:
                raise ValueError("speaker counts must be at least 1")
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers is above max_speakers")

    def bounds(self, windows: int) -> tuple[int, int]:
        """The allowed number of speakers for `windows` windows (at least one, at most one each)."""
        low = self.num_speakers or self.min_speakers or 1
        high = self.num_speakers or self.max_speakers or windows
        return min(low, windows), max(min(high, windows), 1)

    def as_dict(self) -> dict[str, int | None]:
        """The JSON form kept in a live recording's state."""
        return {
            "num_speakers": self.num_speakers,
            "min_speakers": self.min_speakers,
            "max_speakers": self.max_speakers,
        }


def cluster_speakers(
    embeddings: np.ndarray,
    count: SpeakerCount | None = None,
    threshold: float = SAME_SPEAKER_SIMILARITY,
    max_clustered: int = MAX_CLUSTERED,
) -> np.ndarray:
    """A speaker label per embedding row (N x D), numbered by first appearance; see the module doc."""
    count = count or SpeakerCount()
    unit = normalised(embeddings)
    if len(unit) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(unit) <= max_clustered:
        labels = _agglomerate(unit, count, threshold)
    else:
        labels = _cluster_sampled(unit, count, threshold, max(max_clustered, 2))
    return by_first_appearance(labels)


def normalised(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float64; an all-zero row stays zero (alike to nothing)."""
    rows = np.asarray(embeddings, dtype=np.float64)
    if rows.ndim != 2 or not np.all(np.isfinite(rows)):
        raise ValueError("embeddings must be a finite N x D array")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def by_first_appearance(labels: np.ndarray) -> np.ndarray:
    """The same grouping renumbered 0, 1, ... in order of first appearance."""
    _, first = np.unique(labels, return_index=True)
    order = np.asarray(labels)[np.sort(first)]
    renumber = {int(old): new for new, old in enumerate(order)}
    return np.array([renumber[int(label)] for label in labels], dtype=np.int64)


def centroids(unit: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The unit-length mean of each label's rows, row i for label i (labels 0..K-1)."""
    sums = np.zeros((int(labels.max()) + 1, unit.shape[1]))
    np.add.at(sums, labels, unit)
    return normalised(sums)


def _agglomerate(unit: np.ndarray, count: SpeakerCount, threshold: float) -> np.ndarray:
    """Labels of at most a few thousand unit rows: the dendrogram cut by threshold, clamped by count."""
    n = len(unit)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    distances = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    tree = linkage(squareform(distances, checks=False), method="average")
    # average linkage never merges at a smaller distance than before, so the taken merges come first
    taken = int(np.count_nonzero(tree[:, 2] <= 1.0 - threshold))
    low, high = count.bounds(n)
    speakers = min(max(n - taken, low), high)
    return np.asarray(cut_tree(tree, n_clusters=speakers)).ravel().astype(np.int64)


def _cluster_sampled(unit: np.ndarray, count: SpeakerCount, threshold: float, limit: int) -> np.ndarray:
    """Labels of many rows: a bounded sample clustered, the rest given to the nearest centroid."""
    sample = _evenly_spaced(np.arange(len(unit)), limit // 2)
    labels = _agglomerate(unit[sample], count, threshold)
    nearest, similarity = _nearest(unit, centroids(unit[sample], labels))
    unexplained = np.setdiff1d(np.flatnonzero(similarity < threshold), sample)
    if len(unexplained):
        sample = np.union1d(sample, _evenly_spaced(unexplained, limit - len(sample)))
        labels = _agglomerate(unit[sample], count, threshold)
        nearest, _ = _nearest(unit, centroids(unit[sample], labels))
    nearest[sample] = labels  # sampled windows keep their cluster, so every cluster keeps a window
    return nearest


def _evenly_spaced(indices: np.ndarray, size: int) -> np.ndarray:
    """At most `size` of the indices, spread evenly over them (first and last included)."""
    if len(indices) <= size:
        return indices
    return indices[np.unique(np.linspace(0, len(indices) - 1, size).round().astype(np.int64))]


def _nearest(unit: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the most alike centre (the first on a tie) and its cosine similarity."""
    similarity = unit @ centres.T
    nearest = np.argmax(similarity, axis=1).astype(np.int64)
    return nearest, similarity[np.arange(len(unit)), nearest]
