"""The FunASR role adapters: text clean-up, the windowed position encoding, guarded punctuation,
streaming lanes."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from asr_service import model_adapters as adapters
from asr_service.model_loading import ModelSet
from asr_service.roles import RecognitionOptions, Word
from asr_service.sensevoice_output import clean_text, read_tags


def test_windowed_position_encoding_is_bit_identical_to_funasr() -> None:
    from funasr.models.transformer.embedding import StreamSinusoidalPositionEncoder

    original, windowed = StreamSinusoidalPositionEncoder(), adapters.WindowedStreamPositionEncoder()
    cache_a, cache_b = {"start_idx": 0}, {"start_idx": 0}
    generator = torch.Generator().manual_seed(0)
    for timesteps in (5, 10, 10, 7, 10, 1, 10):
        x = torch.randn(1, timesteps, 64, generator=generator)
        assert torch.equal(original(x, cache_a), windowed(x, cache_b))
    assert cache_a == cache_b
    far = {"start_idx": 60_000}  # an hour into a recording
    x = torch.randn(1, 10, 256, generator=generator)
    assert torch.equal(original(x, dict(far)), windowed(x, dict(far)))


def test_streaming_model_uses_the_windowed_encoder(model_set: ModelSet) -> None:
    automodel = model_set.loaded["streaming"].model
    adapters.ParaformerStreaming(automodel)
    assert isinstance(automodel.model.encoder.embed, adapters.WindowedStreamPositionEncoder)


def test_realtime_punctuation_survives_the_inputs_funasr_crashes_on(model_set: ModelSet) -> None:
    punctuator = adapters.RealtimePunctuator(model_set.loaded["punc"].model)
    cache: dict[str, object] = {}
    assert punctuator.punctuate("", cache) == ""
    assert punctuator.punctuate("   ", cache) == ""
    assert punctuator.punctuate("好", cache) == "好"
    assert punctuator.punctuate("OK", cache) == "OK"
    text = punctuator.punctuate("今天我们开会讨论备份演练的安排", cache)
    assert (
        text.replace("，", "").replace("。", "").replace("？", "").replace("、", "")
        == "今天我们开会讨论备份演练的安排"
    )
    assert punctuator.punctuate("好", cache)  # a lone token is fine once the cache holds context


def _unpunctuated(text: str) -> str:
    return "".join(c for c in text if c not in "，。？、")


def test_realtime_punctuation_context_stays_bounded_when_no_sentence_ends(
    model_set: ModelSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = model_set.loaded["punc"].model.model
    # the model may still place marks, but none of them ends a sentence: like noise recognised as text
    never_ending = ["，" if p in ("。", "？") else p for p in inner.punc_list]
    monkeypatch.setattr(inner, "punc_list", never_ending)
    punctuator = adapters.RealtimePunctuator(model_set.loaded["punc"].model)
    cache: dict[str, object] = {}
    sent, out = "", ""
    phrase = "今天我们开会讨论备份演练的安排"
    for n in range(60):  # 1,200 characters without a sentence end
        piece = (phrase * 2)[n % len(phrase) :][:20]
        sent += piece
        out += punctuator.punctuate(piece, cache)
        context = cache["pre_text"]
        assert isinstance(context, list)
        assert len(context) <= adapters.PUNC_CONTEXT_WORDS + len(piece), f"call {n}: {len(context)} words"
    assert _unpunctuated(out) == sent  # the cut drops context only: every word came out once, in order


def _stream_texts(lane: adapters.ParaformerStreaming, audio: np.ndarray) -> list[str]:
    cache: dict[str, object] = {}
    chunks = [audio[i : i + 9600] for i in range(0, len(audio), 9600)]
    return [lane.step(c, cache, is_final=n == len(chunks) - 1) for n, c in enumerate(chunks)]


def test_streaming_lanes_share_weights_and_run_side_by_side_exactly(
    model_set: ModelSet, speech_wav: Path
) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    halves = [audio[: len(audio) // 2], audio[len(audio) // 2 :]]
    first, second = model_set.streaming_lanes(2)
    assert first.model is second.model and first is not second
    alone = [_stream_texts(adapters.ParaformerStreaming(first), h) for h in halves]
    lanes = [adapters.ParaformerStreaming(first), adapters.ParaformerStreaming(second)]
    together: list[list[str]] = [[], []]
    threads = [
        threading.Thread(target=lambda i=i: together[i].extend(_stream_texts(lanes[i], halves[i])))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == alone
    assert any(t for texts in alone for t in texts)  # the model did produce text to compare


@pytest.mark.parametrize(("language", "use_itn"), [("auto", True), ("en", False)])
def test_sensevoice_words_equal_a_direct_funasr_call(
    model_set: ModelSet, speech_wav: Path, language: str, use_itn: bool
) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    clips = [audio[16000:80000], audio[80000:200000]]  # 1-5 s and 5-12.5 s of the fixture
    automodel = model_set.loaded["offline"].model
    recognizer = adapters.SenseVoiceRecognizer(automodel)
    options = RecognitionOptions(language, use_itn, word_timestamps=True)
    heard = recognizer.recognize(clips, options)
    for clip, ours in zip(clips, heard, strict=True):
        [direct] = automodel.generate(input=clip, output_timestamp=True, language=language, use_itn=use_itn)
        raw_words, raw_times = direct["words"], direct["timestamp"]
        assert len(raw_words) > 3, "the fixture should give words to compare"
        clip_ms = len(clip) * 1000 // 16000
        # this model's words carry no tags and its times lie in the clip in order: cleaning only
        # drops the first word's sentencepiece mark
        assert all(0 <= a <= b <= clip_ms for a, b in raw_times)
        assert all(p[1] <= n[0] for p, n in itertools.pairwise(raw_times))
        expected = [Word(w.lstrip("\u2581"), a, b) for w, (a, b) in zip(raw_words, raw_times, strict=True)]
        assert ours.words == tuple(w for w in expected if w.text)
        assert ours.text == clean_text(direct["text"])
        assert (ours.language, ours.emotion, ours.events) == read_tags(direct["text"])
        assert ours.language is not None and ours.emotion is not None
    plain = recognizer.recognize(clips, RecognitionOptions(language, use_itn))
    assert [(h.text, h.language, h.emotion, h.events) for h in plain] == [
        (h.text, h.language, h.emotion, h.events) for h in heard
    ]
    assert all(h.words is None for h in plain)
    # AutoModel keeps call arguments: a request without word times must not keep paying for them
    assert automodel.kwargs.get("output_timestamp") is False


def _speaker_windows(speech_wav: Path) -> list[np.ndarray]:
    """1.5 s windows of the fixture's speech, one shorter (0.6 s) and one longer (2.5 s)."""
    audio, _ = sf.read(speech_wav, dtype="float32")
    starts = [16000, 40000, 100000, 160000]
    windows = [audio[s : s + 24000] for s in starts]
    return [*windows[:2], audio[60000:69600], windows[2], audio[120000:160000], windows[3]]


def test_speaker_embeddings_equal_a_direct_funasr_call(model_set: ModelSet, speech_wav: Path) -> None:
    from funasr.models.campplus.utils import sv_chunk

    automodel = model_set.loaded["speaker"].model
    windows = _speaker_windows(speech_wav)
    ours = adapters.CamppEmbedder(automodel, batch_size=4).embed(windows)
    assert ours.shape == (len(windows), 192) and ours.dtype == np.float32
    for window, row in zip(windows, ours, strict=True):
        # FunASR's own diarization windowing: a short window comes back zero-padded to 1.5 s
        funasr_window = window
        if len(window) < 24000:
            [[_, _, funasr_window]] = sv_chunk([[0.0, len(window) / 16000, window]])
        [direct] = automodel.generate(input=funasr_window)
        assert np.allclose(row, direct["spk_embedding"].numpy()[0], rtol=0, atol=1e-6)
    assert not np.allclose(ours[0], ours[1], atol=1e-3)  # different audio, different embeddings


def test_speaker_batches_give_what_one_by_one_gives(model_set: ModelSet, speech_wav: Path) -> None:
    automodel = model_set.loaded["speaker"].model
    windows = _speaker_windows(speech_wav)  # mixed lengths: only equal lengths may share a call
    one_by_one = adapters.CamppEmbedder(automodel, batch_size=1).embed(windows)
    for size in (2, 8):
        batched = adapters.CamppEmbedder(automodel, batch_size=size).embed(windows)
        assert np.allclose(batched, one_by_one, rtol=0, atol=1e-6)
    calls: list[int] = []
    original = automodel.generate

    def counting(**kwargs: object) -> object:
        calls.append(len(kwargs["input"]))  # type: ignore[arg-type]
        return original(**kwargs)

    automodel.generate = counting
    try:
        adapters.CamppEmbedder(automodel, batch_size=3).embed(windows)
    finally:
        del automodel.generate
    assert sorted(calls) == [1, 2, 3]  # five windows of 1.5 s (short one padded) in 3 + 2, one of 2.5 s


def test_speaker_short_empty_and_bad_windows(model_set: ModelSet) -> None:
    embedder = adapters.CamppEmbedder(model_set.loaded["speaker"].model)
    assert embedder.embed([]).shape == (0, 192)
    rng = np.random.default_rng(1)
    short = (rng.standard_normal(4000) * 0.1).astype(np.float32)
    padded = np.concatenate([short, np.zeros(24000 - 4000, dtype=np.float32)])
    got = embedder.embed([short, padded, np.zeros(0, dtype=np.float32), short.astype(np.float64)])
    assert np.array_equal(got[0], got[1]) and np.array_equal(got[0], got[3])
    assert np.isfinite(got).all()
    with pytest.raises(ValueError, match="float"):
        embedder.embed([(short * 32767).astype(np.int16)])
    with pytest.raises(ValueError, match="1-D"):
        embedder.embed([np.stack([short, short])])


def test_word_times_project_each_clip_onto_the_vocabulary_once(
    model_set: ModelSet, speech_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    clips = [audio[16000:80000], audio[80000:120000]]
    automodel = model_set.loaded["offline"].model
    ctc = automodel.model.ctc
    projections: list[int] = []
    original = type(ctc).log_softmax

    def counted(self: Any, hs_pad: Any) -> Any:
        projections.append(id(hs_pad))
        return original(self, hs_pad)

    monkeypatch.setattr(type(ctc), "log_softmax", counted)
    recognizer = adapters.SenseVoiceRecognizer(automodel)
    timed = recognizer.recognize(clips, RecognitionOptions(word_timestamps=True))
    assert len(projections) == len(clips)  # FunASR alone projects twice per clip for the alignment
    assert "log_softmax" not in vars(ctc)  # the model's own method is back
    projections.clear()
    [direct] = automodel.generate(input=clips[0], output_timestamp=True, language="auto", use_itn=True)
    assert len(projections) == 2  # what the adapter saves
    assert timed[0].words and [w.text for w in timed[0].words] == [
        w.lstrip("\u2581") for w in direct["words"] if w.lstrip("\u2581")
    ]
