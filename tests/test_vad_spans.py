"""SpanCollector: FunASR's streaming VAD events to closed spans."""

from __future__ import annotations

from asr_service.roles import Span
from asr_service.vad_spans import SpanCollector


def test_whole_spans_in_one_chunk_are_kept_as_they_come() -> None:
    collector = SpanCollector()
    collector.add([(100, 900), (1500, 2300)])
    assert collector.close(5000) == [Span(100, 900), Span(1500, 2300)]


def test_a_span_opened_in_one_chunk_closes_in_a_later_one() -> None:
    collector = SpanCollector()
    collector.add([(100, 900), (4000, -1)])
    collector.add([])
    collector.add([(-1, 61_200), (62_000, -1)])
    collector.add([(-1, 63_000)])
    assert collector.close(70_000) == [Span(100, 900), Span(4000, 61_200), Span(62_000, 63_000)]


def test_speech_still_open_at_the_end_closes_at_the_end_of_the_audio() -> None:
    collector = SpanCollector()
    collector.add([(2500, -1)])
    assert collector.close(3000) == [Span(2500, 3000)]


def test_an_end_without_a_start_is_ignored() -> None:
    collector = SpanCollector()
    collector.add([(-1, 800)])
    assert collector.close(1000) == []
