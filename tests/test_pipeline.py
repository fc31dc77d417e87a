"""Offline pipeline: sentence invariants with fake models, and equality with direct FunASR calls."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from funasr.utils.postprocess_utils import rich_transcription_postprocess

from asr_service.model_loading import ModelSet
from asr_service.pipeline import OfflinePipeline, RecognitionOptions, Sentence, spoken_language
from asr_service.roles import Span
from asr_service.segments import SAMPLE_RATE

from .fakes import FixedDetector, LengthRecognizer


def test_sentences_follow_vad_spans_in_integer_ms() -> None:
    audio = np.zeros(10 * SAMPLE_RATE, dtype=np.float32)
    pipeline = OfflinePipeline(
        FixedDetector([Span(1000, 2500), Span(4000, 6000)]), LengthRecognizer(), 15000, 8
    )
    result = pipeline.transcribe(audio, RecognitionOptions())
    assert [(s.text, s.start_ms, s.end_ms) for s in result.sentences] == [
        ("clip1500", 1000, 2500),
        ("clip2000", 4000, 6000),
    ]
    assert result.text == "clip1500 clip2000"
    assert result.duration_ms == 10000


def test_silence_gives_empty_text_and_no_sentences() -> None:
    audio = np.zeros(3 * SAMPLE_RATE, dtype=np.float32)
    result = OfflinePipeline(FixedDetector([]), LengthRecognizer(), 15000, 8).transcribe(
        audio, RecognitionOptions()
    )
    assert result.text == "" and result.sentences == []


def test_clips_without_text_leave_no_sentence() -> None:
    audio = np.zeros(10 * SAMPLE_RATE, dtype=np.float32)
    pipeline = OfflinePipeline(
        FixedDetector([Span(0, 300), Span(1000, 3000)]), LengthRecognizer(500), 15000, 8
    )
    assert [s.start_ms for s in pipeline.transcribe(audio, RecognitionOptions()).sentences] == [1000]


def test_long_speech_is_cut_and_recognised_in_bounded_calls() -> None:
    audio = (0.1 * np.ones(100 * SAMPLE_RATE)).astype(np.float32)
    recognizer = LengthRecognizer()
    progress: list[tuple[float, str]] = []
    pipeline = OfflinePipeline(FixedDetector([Span(0, 100_000)]), recognizer, 15000, clips_per_call=3)
    result = pipeline.transcribe(audio, RecognitionOptions(), lambda f, s: progress.append((f, s)))
    assert all(s.end_ms - s.start_ms <= 15000 for s in result.sentences)
    assert result.sentences[0].start_ms == 0 and result.sentences[-1].end_ms == 100_000
    assert max(recognizer.calls) <= 3
    assert progress[0] == (0.0, "vad") and progress[-1] == (1.0, "done")
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions)


def test_vad_spans_past_the_end_are_clamped() -> None:
    audio = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    result = OfflinePipeline(FixedDetector([Span(1500, 2600)]), LengthRecognizer(), 15000, 8).transcribe(
        audio, RecognitionOptions()
    )
    assert [(s.start_ms, s.end_ms) for s in result.sentences] == [(1500, 2000)]


_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2753]")


def _direct_funasr(models: ModelSet, audio: np.ndarray, language: str, use_itn: bool) -> list[dict[str, Any]]:
    """The pipeline written straight against FunASR: one VAD call, one SenseVoice call per segment."""
    vad = models.loaded["vad"].model
    sensevoice = models.loaded["offline"].model
    segments = vad.generate(input=audio)[0]["value"]
    out = []
    for start, end in segments:
        clip = audio[start * 16 : end * 16]
        raw = sensevoice.generate(input=clip, language=language, use_itn=use_itn)[0]["text"]
        text = _EMOJI.sub("", rich_transcription_postprocess(raw)).strip()
        if text:
            out.append({"text": text, "start_ms": start, "end_ms": end})
    return out


def test_engine_equals_direct_funasr_pipeline(engine: Any, model_set: ModelSet, speech_wav: Path) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    for language, use_itn in (("auto", True), ("en", False)):
        result = engine.offline.transcribe(audio, RecognitionOptions(language, use_itn))
        expected = _direct_funasr(model_set, audio, language, use_itn)
        assert len(expected) >= 2, "the fixture should give several VAD segments"
        assert [
            {"text": s.text, "start_ms": s.start_ms, "end_ms": s.end_ms} for s in result.sentences
        ] == expected
        assert all(s.language is not None and s.words is None for s in result.sentences)


def test_engine_invariants_on_real_models(engine: Any, speech_wav: Path) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    result = engine.offline.transcribe(audio, RecognitionOptions())
    previous_end = 0
    for sentence in result.sentences:
        assert isinstance(sentence.start_ms, int) and isinstance(sentence.end_ms, int)
        assert previous_end <= sentence.start_ms < sentence.end_ms <= result.duration_ms
        assert "<|" not in sentence.text and not _EMOJI.search(sentence.text)
        previous_end = sentence.end_ms
    assert result.text.replace(" ", "") == "".join(s.text for s in result.sentences).replace(" ", "")


def test_word_times_lie_inside_their_sentences_and_never_go_backwards(engine: Any, speech_wav: Path) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    result = engine.offline.transcribe(audio, RecognitionOptions(word_timestamps=True))
    assert len(result.sentences) >= 2
    for sentence in result.sentences:
        assert sentence.words, "every sentence of the fixture has words"
        previous_end = sentence.start_ms
        for word in sentence.words:
            assert previous_end <= word.start_ms <= word.end_ms <= sentence.end_ms, (sentence, word)
            previous_end = word.end_ms
        assert "".join(w.text for w in sentence.words) == sentence.text.replace(" ", "")
    assert any(w.start_ms > 0 for s in result.sentences[1:] for w in s.words or ()), "times are absolute"


def test_silence_through_real_models_is_empty(engine: Any) -> None:
    result = engine.offline.transcribe(np.zeros(5 * SAMPLE_RATE, dtype=np.float32), RecognitionOptions())
    assert result.text == "" and result.sentences == []


# ---- uploads read from disk in windows ------------------------------------------------------


class SpySource:
    """A SampleSource over an array that remembers the longest read."""

    def __init__(self, samples: np.ndarray) -> None:
        self.samples, self.longest = samples, 0

    def __len__(self) -> int:
        return len(self.samples)

    def read(self, start: int, stop: int) -> np.ndarray:
        self.longest = max(self.longest, stop - start)
        return self.samples[start:stop]


class CountingVadModel:
    """FSMN-VAD's generate() shape: one speech span per chunk, in ms of the whole stream."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def generate(self, input: np.ndarray, cache: dict[str, Any], is_final: bool, chunk_size: int) -> Any:
        start = self.offset_ms
        self.offset_ms += len(input) * 1000 // SAMPLE_RATE
        return [{"value": [[start + 100, self.offset_ms - 100]]}]


def test_a_long_upload_is_read_in_bounded_windows() -> None:
    from asr_service.file_vad import WindowedVad

    ten_minutes = np.zeros(600 * SAMPLE_RATE, dtype=np.float32)
    source = SpySource(ten_minutes)
    pipeline = OfflinePipeline(WindowedVad(CountingVadModel()), LengthRecognizer(), 15000, 4)
    result = pipeline.transcribe(source, RecognitionOptions())
    assert result.duration_ms == 600_000 and len(result.sentences) >= 40
    assert source.longest <= 60 * SAMPLE_RATE  # one VAD chunk; never the whole recording


def test_engine_gives_the_same_result_from_the_decoded_file(
    engine: Any, speech_wav: Path, tmp_path: Path
) -> None:
    from asr_service.audio import decode_stream
    from asr_service.decode_budget import DecodeBudget
    from asr_service.decoded_file import DecodeScratch

    audio, _ = sf.read(speech_wav, dtype="float32")
    in_memory = engine.offline.transcribe(audio, RecognitionOptions())
    with speech_wav.open("rb") as fh, DecodeScratch(tmp_path).new() as decoded:
        decode_stream(fh, DecodeBudget(3600, speech_wav.stat().st_size, 1000, 60), decoded.write)
        decoded.finish()
        np.testing.assert_array_equal(decoded.read(0, len(decoded)), audio)
        from_file = engine.offline.transcribe(decoded, RecognitionOptions())
    assert from_file == in_memory and in_memory.sentences
    assert list(tmp_path.iterdir()) == []  # the decoded file never had a name


def test_the_spoken_language_has_the_most_sentence_time() -> None:
    assert spoken_language([]) is None
    assert spoken_language([Sentence("嗯", 0, 5000)]) is None  # no sentence names one
    mixed = [Sentence("a", 0, 1000, "en"), Sentence("好", 1000, 1600, "zh"), Sentence("b", 2000, 2500, "zh")]
    assert spoken_language(mixed) == "zh"  # 1100 ms against 1000
    assert spoken_language([*mixed[:2], Sentence("b", 2000, 2300, "zh")]) == "en"
    assert (
        spoken_language([Sentence("a", 0, 500, "ja"), Sentence("b", 500, 1000, "ko")]) == "ja"
    )  # a tie: first


def test_the_speaker_is_on_the_wire_only_when_known_and_survives_an_edit() -> None:
    plain = Sentence("你好。", 0, 900)
    named = Sentence("你好。", 0, 900, speaker="S2")
    assert "speaker" not in plain.as_dict()
    assert named.as_dict()["speaker"] == "S2"
    assert Sentence.from_wire(named.as_dict()) == named and Sentence.from_wire(plain.as_dict()) == plain
    assert named.with_text("您好。").speaker == "S2"
