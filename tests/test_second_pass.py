"""The second pass: segments recognised while recording goes on, handed to correction in order, the result."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from asr_service.correction import CorrectedText
from asr_service.events import SentenceEvent
from asr_service.first_pass import LiveSegment, LiveTranscript
from asr_service.live_types import SessionOptions, SessionState
from asr_service.pipeline import Sentence
from asr_service.roles import Heard, RecognitionOptions, Word
from asr_service.scheduler import ModelWorker, OnWorker, Priority
from asr_service.second_pass import CorrectionHooks, SecondPass, final_result
from asr_service.sentence_log import SentenceLog

from .live_fakes import RATE, SlowRecognizer, live_session, pcm


def test_second_pass_starts_while_recording(tmp_path: Path, workers: list[ModelWorker]) -> None:
    recognizer = SlowRecognizer()
    session, _, _ = live_session(tmp_path, workers, recognizer=recognizer)
    audio = pcm(3.5)
    session.feed(audio[:56000])
    session.feed(audio[56000:])
    assert recognizer.called.wait(10), "the closed segment was not recognised before stop"
    assert session.state is SessionState.RECORDING
    session.stop()
    assert session.done.wait(10)  # type: ignore[attr-defined]
    assert recognizer.calls == 1  # the audio ends before the second stretch of speech


class HeldRecognizer(SlowRecognizer):
    """Holds its first call until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        if self.calls == 0:
            self.release.wait(10)
        return super().recognize(clips, options)


class Correction:
    """Notes the sentences handed over, segment by segment."""

    def __init__(self) -> None:
        self.added: list[list[tuple[str, int, int]]] = []
        self.watchers: list[Callable[[], None]] = []

    def add(self, sentences: Sequence[Sentence], references: Sequence[str] | None = None) -> None:
        self.added.append([(s.text, s.start_ms, s.end_ms) for s in sentences])

    def current(self) -> list[Sentence]:
        return [Sentence(*s) for added in self.added for s in added]

    def watch(self, on_window_done: Callable[[], None]) -> None:
        self.watchers.append(on_window_done)

    def finish(self) -> CorrectedText:
        return CorrectedText(self.current(), self.current(), [], "finished", [])


def _second_pass(
    worker: ModelWorker, recognizer: SlowRecognizer, max_sentence_ms: int = 15000
) -> tuple[SecondPass, threading.Semaphore, Correction]:
    audio = np.zeros(RATE * 10, dtype=np.float32)
    recognised = threading.Semaphore(0)
    correction = Correction()
    second = SecondPass(
        OnWorker(recognizer, worker, Priority.SECOND_PASS),
        lambda start, end: audio[start:end],
        SessionOptions(),
        max_sentence_ms,
        CorrectionHooks(correction),
        on_recognised=recognised.release,
    )
    return second, recognised, correction


def test_segments_reach_the_correction_in_order_once_recognised() -> None:
    worker = ModelWorker("offline")
    recognizer = HeldRecognizer()
    second, recognised, correction = _second_pass(worker, recognizer)
    segments = [LiveSegment(0, 1000, 2000, "[甲]"), LiveSegment(1, 3000, 3500, "[乙]"), LiveSegment(2, 4000)]
    second.queue(segments[0])
    second.queue(segments[1])
    second.hand_over(segments)
    assert correction.added == []  # the first is still being recognised: nothing goes yet
    recognizer.release.set()
    assert recognised.acquire(timeout=10) and recognised.acquire(timeout=10)
    second.hand_over(segments)  # both, in order; the open third segment waits
    assert correction.added == [[("s1000", 1000, 2000)], [("s500", 3000, 3500)]]
    assert list(second.collect(segments[:2])) == [0.5, 1.0]
    assert second.corrected(segments).llm_status == "finished"
    assert len(correction.added) == 2  # nothing is handed over twice
    worker.stop()


def test_without_correction_the_sentences_are_the_result() -> None:
    worker = ModelWorker("offline")
    second = SecondPass(
        OnWorker(SlowRecognizer(), worker, Priority.SECOND_PASS),
        lambda start, end: np.zeros(end - start, dtype=np.float32),
        SessionOptions(),
        15000,
    )
    segment = LiveSegment(0, 1000, 2000, "[甲]")
    second.queue(segment)
    assert list(second.collect([segment])) == [1.0]
    corrected = second.corrected([segment])
    assert corrected.llm_status == "disabled" and corrected.sentences == corrected.replaced
    assert [(s.text, s.start_ms, s.end_ms) for s in corrected.sentences] == [("s1000", 1000, 2000)]
    worker.stop()


class WordRecognizer(SlowRecognizer):
    """Hears English with two words per clip, the second running past the clip's end; notes the options."""

    def __init__(self) -> None:
        super().__init__()
        self.options: list[RecognitionOptions] = []

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        self.options.append(options)
        words = (Word("ok", 0, 100), Word("yes", 100, 99_999)) if options.word_timestamps else None
        return [Heard("ok yes", "en", "happy", ("laughter",), words) for _ in clips]


def test_sentences_carry_what_was_heard_with_word_times_in_the_recording() -> None:
    worker = ModelWorker("offline")
    recognizer = WordRecognizer()
    second = SecondPass(
        OnWorker(recognizer, worker, Priority.SECOND_PASS),
        lambda start, end: np.zeros(end - start, dtype=np.float32),
        SessionOptions(language="en", use_itn=False, word_timestamps=True),
        15000,
    )
    segment = LiveSegment(0, 1000, 2000, "[甲]")
    second.queue(segment)
    assert list(second.collect([segment])) == [1.0]
    (sentence,), _ = second.sentences(segment)
    assert recognizer.options == [RecognitionOptions("en", False, True)]
    assert (sentence.language, sentence.emotion, sentence.events) == ("en", "happy", ("laughter",))
    assert sentence.words == (Word("ok", 1000, 1100), Word("yes", 1100, 2000))
    assert sentence.as_dict()["words"] == [
        {"text": "ok", "start_ms": 1000, "end_ms": 1100},
        {"text": "yes", "start_ms": 1100, "end_ms": 2000},
    ]


def test_handed_over_sentences_go_to_the_client_and_so_do_corrections() -> None:
    worker = ModelWorker("offline")
    events: list[SentenceEvent] = []
    correction = Correction()
    recognised = threading.Semaphore(0)
    second = SecondPass(
        OnWorker(SlowRecognizer(), worker, Priority.SECOND_PASS),
        lambda start, end: np.zeros(end - start, dtype=np.float32),
        SessionOptions(),
        15000,
        CorrectionHooks(correction),
        SentenceLog(events.append),
        recognised.release,
    )
    assert correction.watchers == [recognised.release]  # LLM windows wake the session thread too
    segments = [LiveSegment(0, 1000, 2000, "[甲]"), LiveSegment(1, 3000, 3500, "[乙]")]
    for segment in segments:
        second.queue(segment)
    assert recognised.acquire(timeout=10) and recognised.acquire(timeout=10)
    second.hand_over(segments)
    assert second.handed == 2
    assert [(e.name, e.to_wire()["index"], e.to_wire()["text"]) for e in events] == [
        ("sentence_final", 0, "s1000"),
        ("sentence_final", 1, "s500"),
    ]
    correction.added[1] = [("s500。", 3000, 3500)]  # as an LLM window that finished would
    second.hand_over(segments)
    assert [(e.name, e.to_wire()["revision"], e.to_wire()["text"]) for e in events[2:]] == [
        ("sentence_update", 1, "s500。")
    ]
    second.corrected(segments)
    assert len(events) == 3  # the result is what the client has: nothing more to send
    worker.stop()


def test_a_segment_found_ahead_is_recognised_once() -> None:
    worker = ModelWorker("offline")
    recognizer = SlowRecognizer()
    second, _, _ = _second_pass(worker, recognizer, max_sentence_ms=700)
    second.queue_ahead(1000, 2500)
    segment = LiveSegment(0, 1000, 2500, "[abcdef]")
    second.queue(segment)
    assert list(second.collect([segment])) == [1.0]
    assert recognizer.calls == 1
    sentences, references = second.sentences(segment)
    # cut into consecutive pieces of at most 700 ms, each with its share of the first-pass text
    bounds = [(s.start_ms, s.end_ms) for s in sentences]
    assert len(bounds) > 1 and bounds[0][0] == 1000 and bounds[-1][1] == 2500
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(0 < end - start <= 700 for start, end in bounds)
    assert [s.text for s in sentences] == [f"s{end - start}" for start, end in bounds]
    assert "".join(references) == "[abcdef]" and all(references)
    worker.stop()


def test_a_failed_second_pass_fails_the_collection() -> None:
    class Broken(SlowRecognizer):
        def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
            raise RuntimeError("second pass crashed")

    worker = ModelWorker("offline")
    second, _, _ = _second_pass(worker, Broken())
    segment = LiveSegment(0, 0, 1000)
    second.queue(segment)
    with pytest.raises(RuntimeError, match="crashed"):
        list(second.collect([segment]))
    second.hand_over([segment])  # a failure is left for collect() to raise, never handed over
    worker.stop()


def test_the_final_result_takes_both_passes_and_the_correction() -> None:
    transcript = LiveTranscript(raw_text="ab", punc_text="[ab]", segments=[LiveSegment(0, 100, 900, "[ab]")])
    replaced = [Sentence("星纪", 100, 400, "en"), Sentence("开会", 400, 900, "zh")]
    llm = [Sentence("星纪，", 100, 400, "en"), Sentence("开会。", 400, 900, "zh")]
    corrections = [{"from": "星际", "to": "星纪", "start_ms": 100, "end_ms": 500, "rule": "pinyin"}]
    corrected = CorrectedText(llm, replaced, corrections, "ok", [{"status": "ok"}])
    result = final_result("a" * 32, transcript, corrected, 1000, "auto")
    assert (result.paraformer, result.paraformer_raw) == ("[ab]", "ab")
    assert (result.sensevoice, result.llm_merged, result.llm_status) == ("星纪开会", "星纪，开会。", "ok")
    assert result.timestamps == tuple(llm) and result.corrections == tuple(corrections)
    segments = [(s.segment, s.text, s.start_ms, s.end_ms) for s in result.realtime_segments]
    assert segments == [(0, "[ab]", 100, 900)]
    assert (result.duration_ms, result.llm_windows) == (1000, ({"status": "ok"},))
    assert (result.language, result.language_requested) == ("zh", "auto")  # zh has the most time
