"""Live speaker labels: stable provisional labels, returning voices, final re-clustering, durable state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asr_service.roles import Span
from asr_service.speaker_clustering import SpeakerCount
from asr_service.speaker_tracker import FinalSpeakers, SpeakerTracker
from asr_service.speaker_windows import span_windows

from .speaker_fakes import SyntheticVoices

# closed segments of a live recording: (span, voice); voice 0 returns, voice 2 comes late
SEGMENTS = [
    (Span(0, 4000), 0),
    (Span(4500, 9000), 1),
    (Span(9500, 11000), 0),
    (Span(12000, 16000), 2),
    (Span(16500, 17500), 1),
    (Span(18000, 22000), 0),
]


def _feed(
    tracker: SpeakerTracker, voices: SyntheticVoices, segments: list[tuple[Span, int]]
) -> list[list[int]]:
    out = []
    for span, voice in segments:
        windows = span_windows(span)
        out.append(tracker.add(windows, voices.embed([voice] * len(windows), [w.start_ms for w in windows])))
    return out


def _per_segment(labels: list[list[int]]) -> list[set[int]]:
    return [set(segment) for segment in labels]


def test_a_returning_voice_gets_its_earlier_label() -> None:
    labels = _feed(SpeakerTracker(), SyntheticVoices(3), SEGMENTS)
    assert _per_segment(labels) == [{0}, {1}, {0}, {2}, {1}, {0}]


def test_given_labels_never_change_as_the_recording_goes_on() -> None:
    tracker = SpeakerTracker()
    given = [label for segment in _feed(tracker, SyntheticVoices(3), SEGMENTS[:3]) for label in segment]
    _feed(tracker, SyntheticVoices(3), SEGMENTS[3:])
    assert tracker.labels[: len(given)] == given
    assert len(tracker.windows) == len(tracker.labels)


def test_a_change_of_voice_inside_one_segment_is_seen() -> None:
    tracker = SpeakerTracker()
    _feed(tracker, SyntheticVoices(2), [(Span(0, 3000), 1)])
    windows = span_windows(Span(4000, 10000))
    voices = [0 if w.end_ms <= 7000 else 1 for w in windows]
    labels = tracker.add(windows, SyntheticVoices(2).embed(voices, [w.start_ms for w in windows]))
    assert labels == [1 if v == 0 else 0 for v in voices]  # voice 1 was heard first, so it is label 0


def test_the_speaker_cap_joins_a_new_voice_to_the_nearest_known_one() -> None:
    labels = _feed(SpeakerTracker(SpeakerCount(max_speakers=2)), SyntheticVoices(3), SEGMENTS)
    assert set().union(*_per_segment(labels)) == {0, 1}
    assert _per_segment(labels)[:3] == [{0}, {1}, {0}]


def test_final_merges_what_live_split_and_maps_provisional_labels() -> None:
    strict = SpeakerTracker(match_threshold=0.999)  # live never matches: every segment is a new label
    labels = _feed(strict, SyntheticVoices(3), SEGMENTS)
    assert _per_segment(labels) == [{0}, {1}, {2}, {3}, {4}, {5}]
    final = strict.final()
    assert final.mapping == {0: 0, 1: 1, 2: 0, 3: 2, 4: 1, 5: 0}
    assert final.labels == [final.mapping[p] for p in strict.labels]


def test_final_honours_the_speaker_count() -> None:
    tracker = SpeakerTracker(SpeakerCount(num_speakers=2))
    _feed(tracker, SyntheticVoices(3), SEGMENTS)
    assert len(set(tracker.final().labels)) == 2


def test_an_empty_recording_has_empty_results() -> None:
    tracker = SpeakerTracker()
    assert tracker.add([], np.zeros((0, 192))) == []
    assert tracker.final() == FinalSpeakers([], {})
    assert SpeakerTracker.from_state(json.loads(json.dumps(tracker.to_state()))).final() == FinalSpeakers(
        [], {}
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"count": SpeakerCount(max_speakers=4), "match_threshold": 0.7},
        {"count": SpeakerCount(num_speakers=2), "match_threshold": 0.999},  # the cap decides after the cut
    ],
)
def test_a_state_round_trip_midway_gives_the_same_labels_as_one_run(settings: dict) -> None:
    voices = SyntheticVoices(3)
    whole = SpeakerTracker(**settings)
    expected = _feed(whole, voices, SEGMENTS)
    first = SpeakerTracker(**settings)
    got = _feed(first, voices, SEGMENTS[:3])
    restored = SpeakerTracker.from_state(json.loads(json.dumps(first.to_state())))
    got += _feed(restored, voices, SEGMENTS[3:])
    assert got == expected
    assert restored.labels == whole.labels and restored.windows == whole.windows
    assert restored.final() == whole.final()
    assert restored.to_state() == whole.to_state()


def test_the_state_keeps_the_thresholds_and_counts() -> None:
    tracker = SpeakerTracker(SpeakerCount(num_speakers=2), match_threshold=0.999)
    restored = SpeakerTracker.from_state(json.loads(json.dumps(tracker.to_state())))
    state = restored.to_state()
    assert state["count"] == {"num_speakers": 2, "min_speakers": None, "max_speakers": None}
    assert state["match_threshold"] == 0.999


@pytest.mark.parametrize(
    "broken",
    [
        {"version": 99},
        {"labels": [0, 7]},
        {"embeddings": "not base64!"},
        {"windows": "nope"},
        {"count": {"num_speakers": 0}},
    ],
)
def test_a_broken_state_is_refused(broken: dict[str, object]) -> None:
    tracker = SpeakerTracker()
    _feed(tracker, SyntheticVoices(2), SEGMENTS[:2])
    with pytest.raises(ValueError):
        SpeakerTracker.from_state({**tracker.to_state(), **broken})


def test_embeddings_that_do_not_fit_the_windows_are_refused() -> None:
    tracker = SpeakerTracker()
    tracker.add([Span(0, 1500)], np.ones((1, 192)))
    with pytest.raises(ValueError):
        tracker.add([Span(2000, 3500)], np.ones((1, 80)))
    with pytest.raises(ValueError):
        tracker.add([Span(2000, 3500)], np.ones((2, 192)))
    assert tracker.labels == [0]
