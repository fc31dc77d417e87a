"""Offline speaker clustering on synthetic voices: right answers, counts honoured, short inputs, scale."""

from __future__ import annotations

import time

import numpy as np
import pytest

from asr_service.speaker_clustering import (
    SAME_SPEAKER_SIMILARITY,
    SpeakerCount,
    by_first_appearance,
    cluster_speakers,
    normalised,
)

from .speaker_fakes import SyntheticVoices

# a conversation: voices 2, 0, 1, 0, 2 in turns of different lengths
TURNS = [2] * 12 + [0] * 20 + [1] * 8 + [0] * 15 + [2] * 10


def test_the_fake_voices_sit_either_side_of_the_threshold() -> None:
    unit = normalised(SyntheticVoices(2).embed([0, 0, 1]))
    same, other = float(unit[0] @ unit[1]), float(unit[0] @ unit[2])
    assert other < SAME_SPEAKER_SIMILARITY < same


def test_three_voices_are_found_and_numbered_by_first_appearance() -> None:
    labels = cluster_speakers(SyntheticVoices(3).embed(TURNS))
    expected = by_first_appearance(np.array(TURNS))
    assert labels.tolist() == expected.tolist()
    assert labels[0] == 0 and labels[12] == 1 and labels[32] == 2


def test_clustering_is_repeatable() -> None:
    embeddings = SyntheticVoices(3).embed(TURNS)
    assert cluster_speakers(embeddings).tolist() == cluster_speakers(embeddings.copy()).tolist()


@pytest.mark.parametrize(
    ("voices", "expected"),
    [
        ([0], [0]),
        ([0, 0], [0, 0]),
        ([0, 1], [0, 1]),
        ([0, 1, 0, 0, 1], [0, 1, 0, 0, 1]),
        ([1, 1, 1, 1, 1], [0] * 5),
    ],
)
def test_short_inputs_get_real_answers(voices: list[int], expected: list[int]) -> None:
    assert cluster_speakers(SyntheticVoices(2).embed(voices)).tolist() == expected


def test_no_embeddings_give_no_labels() -> None:
    assert cluster_speakers(np.zeros((0, 192))).tolist() == []


def test_num_speakers_is_exact() -> None:
    embeddings = SyntheticVoices(3).embed(TURNS)
    assert len(set(cluster_speakers(embeddings, SpeakerCount(num_speakers=2)).tolist())) == 2
    assert len(set(cluster_speakers(embeddings, SpeakerCount(num_speakers=5)).tolist())) == 5
    one = SyntheticVoices(1).embed([0] * 6)
    assert len(set(cluster_speakers(one, SpeakerCount(num_speakers=2)).tolist())) == 2


def test_min_and_max_speakers_clamp_the_threshold_answer() -> None:
    embeddings = SyntheticVoices(3).embed(TURNS)
    assert len(set(cluster_speakers(embeddings, SpeakerCount(max_speakers=2)).tolist())) == 2
    assert len(set(cluster_speakers(embeddings, SpeakerCount(min_speakers=4)).tolist())) == 4
    # bounds that the threshold answer already meets change nothing
    free = cluster_speakers(embeddings).tolist()
    assert cluster_speakers(embeddings, SpeakerCount(min_speakers=2, max_speakers=4)).tolist() == free


def test_counts_above_the_window_count_give_one_speaker_per_window() -> None:
    embeddings = SyntheticVoices(1).embed([0, 0])
    assert cluster_speakers(embeddings, SpeakerCount(num_speakers=3)).tolist() == [0, 1]


@pytest.mark.parametrize(
    "count",
    [{"num_speakers": 0}, {"min_speakers": 3, "max_speakers": 2}, {"max_speakers": -1}],
)
def test_impossible_counts_are_refused(count: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SpeakerCount(**count)


def test_bad_embeddings_are_refused_and_zero_rows_are_alike_to_nothing() -> None:
    with pytest.raises(ValueError):
        cluster_speakers(np.full((2, 3), np.nan))
    with_zero = np.vstack([SyntheticVoices(1).embed([0, 0]), np.zeros((1, 192))])
    assert cluster_speakers(with_zero).tolist() == [0, 0, 1]


def test_a_sampled_run_finds_a_rare_voice_the_sample_missed() -> None:
    """Over the direct limit: voice 2 speaks 3 windows only, between samples, yet gets its own label."""
    voices = [0] * 150 + [1] * 150 + [0] * 101 + [2] * 3 + [1] * 96
    labels = cluster_speakers(SyntheticVoices(3).embed(voices), max_clustered=40)
    assert labels.tolist() == by_first_appearance(np.array(voices)).tolist()


def test_a_sampled_run_keeps_num_speakers_exact() -> None:
    voices = [0] * 300 + [1] * 200
    labels = cluster_speakers(
        SyntheticVoices(2).embed(voices), SpeakerCount(num_speakers=3), max_clustered=50
    )
    assert len(set(labels.tolist())) == 3


def test_five_thousand_windows_are_clustered_in_bounded_time(capsys: pytest.CaptureFixture[str]) -> None:
    """About 1 h of speech; the time is printed once for the record, not asserted."""
    rng = np.random.default_rng(3)
    voices = np.repeat(rng.integers(0, 4, size=250), 20).tolist()
    embeddings = SyntheticVoices(4).embed(voices)
    began = time.perf_counter()
    labels = cluster_speakers(embeddings)
    with capsys.disabled():
        print(f"\n5000 windows clustered in {time.perf_counter() - began:.2f} s")
    assert labels.tolist() == by_first_appearance(np.array(voices)).tolist()


def test_labels_are_renumbered_by_first_appearance() -> None:
    assert by_first_appearance(np.array([5, 5, 2, 7, 2])).tolist() == [0, 0, 1, 2, 1]


def test_the_length_of_an_embedding_does_not_matter() -> None:
    embeddings = SyntheticVoices(3).embed(TURNS)
    scales = np.random.default_rng(5).uniform(0.01, 100.0, size=(len(TURNS), 1))
    assert cluster_speakers(embeddings * scales).tolist() == cluster_speakers(embeddings).tolist()


def test_count_bounds_never_exceed_the_window_count() -> None:
    assert SpeakerCount(num_speakers=3).bounds(2) == (2, 2)
    assert SpeakerCount(min_speakers=2, max_speakers=6).bounds(10) == (2, 6)
    assert SpeakerCount().bounds(4) == (1, 4)
