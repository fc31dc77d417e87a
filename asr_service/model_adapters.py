"""FunASR models in the roles the core uses (roles.py): VAD, streaming and offline ASR, punctuation,
speaker embeddings."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from funasr.models.transformer.embedding import StreamSinusoidalPositionEncoder

from .audio_units import ms_to_samples, samples_to_ms
from .paraformer_batch import BatchedParaformer
from .roles import Heard, RecognitionOptions, Span, StreamStep
from .sensevoice_output import heard
from .vad_spans import SpanCollector

log = logging.getLogger(__name__)

# Files are run through VAD in 60 s chunks: memory stays flat on hours-long files, and a file
# shorter than a chunk gets exactly the segments of one whole-file call.
_VAD_CHUNK_MS = 60_000


class FunasrVad:
    """Offline speech detection with FSMN-VAD, run in chunks so memory stays flat."""

    def __init__(self, model: Any, chunk_ms: int = _VAD_CHUNK_MS) -> None:
        self._model = model
        self._chunk_ms = chunk_ms

    def detect(self, audio: np.ndarray) -> list[Span]:
        """Speech spans in ms, from streaming FSMN-VAD over fixed chunks."""
        step = ms_to_samples(self._chunk_ms)
        cache: dict[str, Any] = {}
        collector = SpanCollector()
        for begin in range(0, max(len(audio), 1), step):
            result = self._model.generate(
                input=audio[begin : begin + step],
                cache=cache,
                is_final=begin + step >= len(audio),
                chunk_size=self._chunk_ms,
            )
            collector.add(result[0]["value"] if result else [])
        return collector.close(samples_to_ms(len(audio)))  # speech running to the very end


class FsmnStreamingVad:
    """Streaming FSMN-VAD: one call per chunk with the stream's own cache."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> list[tuple[int, int]]:
        """See StreamingDetector.step."""
        chunk_ms = max(1, samples_to_ms(len(chunk)))
        result = self._model.generate(input=chunk, cache=cache, is_final=is_final, chunk_size=chunk_ms)
        return [(int(a), int(b)) for a, b in (result[0]["value"] if result else [])]


class WindowedStreamPositionEncoder(StreamSinusoidalPositionEncoder):
    """FunASR's streaming position encoder, computing only the positions of the current chunk.

    FunASR encodes every position from the start of the stream on each call and keeps the last
    few, so a chunk's cost and memory grow with the recording (hundreds of MB per call after
    hours). The values are the same element-wise formula, so the output is bit-identical.
    """

    def forward(self, x: torch.Tensor, cache: dict[str, Any] | None = None) -> torch.Tensor:
        """Add the sinusoidal encoding of positions start_idx+1 .. start_idx+T to x."""
        _batch, timesteps, input_dim = x.size()
        start_idx = 0
        if cache is not None:
            start_idx = cache["start_idx"]
            cache["start_idx"] += timesteps
        positions = torch.arange(start_idx + 1, start_idx + timesteps + 1)[None, :]
        return x + self.encode(positions, input_dim, x.dtype).to(x.device)


def use_windowed_position_encoding(model: Any) -> bool:
    """Swap a streaming encoder's position encoder for the windowed one; False if it has none."""
    encoder = getattr(model.model, "encoder", None)
    embed = getattr(encoder, "embed", None)
    if encoder is None or type(embed) is not StreamSinusoidalPositionEncoder:
        return False
    encoder.embed = WindowedStreamPositionEncoder()
    return True


class ParaformerStreaming:
    """Streaming Paraformer with the released 600 ms chunking and look-back settings."""

    CHUNK_SIZE = (0, 10, 5)
    ENCODER_LOOK_BACK = 4
    DECODER_LOOK_BACK = 1

    def __init__(self, model: Any) -> None:
        self._model = model
        use_windowed_position_encoding(model)
        self._batched = BatchedParaformer(model, self._options(), self._one)

    def _options(self) -> dict[str, Any]:
        return {
            "chunk_size": list(self.CHUNK_SIZE),
            "encoder_chunk_look_back": self.ENCODER_LOOK_BACK,
            "decoder_chunk_look_back": self.DECODER_LOOK_BACK,
        }

    def step(self, chunk: np.ndarray, cache: dict[str, object], is_final: bool) -> str:
        """See StreamingRecognizer.step."""
        result = self._model.generate(input=chunk, cache=cache, is_final=is_final, **self._options())
        return str(result[0].get("text", "")) if result else ""

    def step_many(self, steps: Sequence[StreamStep]) -> list[str]:
        """See BatchStreamingRecognizer.step_many: streams due together share one encoder call."""
        return self._batched.step_many(steps)

    def _one(self, step: StreamStep) -> str:
        return self.step(step.chunk, step.cache, step.is_final)


# The realtime model keeps every word since the last sentence end as context (cache["pre_text"])
# and reads it again on each call, in 20-word pieces that each carry the unfinished rest: text
# that never ends a sentence makes each call cost the square of the transcript. Context beyond
# this many words is cut, oldest first; its words were emitted already, so no output changes.
PUNC_CONTEXT_WORDS = 100


class RealtimePunctuator:
    """CT-Transformer realtime punctuation, guarded against the inputs it crashes on."""

    def __init__(self, model: Any, context_words: int | None = PUNC_CONTEXT_WORDS) -> None:
        self._model = model
        self._context_words = context_words  # None: unbounded, as FunASR does (benchmarks only)

    def punctuate(self, text: str, cache: dict[str, object]) -> str:
        """See Punctuator.punctuate; on a model failure the text comes back unpunctuated."""
        text = text.strip()
        if not text:
            return ""  # the model raises on empty input
        if not cache.get("pre_text") and _single_token(text):
            return text  # and on a lone token with nothing cached
        self._bound_context(cache)
        try:
            result = self._model.generate(input=text, cache=cache)
        except Exception:
            log.warning(
                "punctuation failed on %d characters; keeping the text as is", len(text), exc_info=True
            )
            return text
        return str(result[0].get("text", text)) if result else text

    def _bound_context(self, cache: dict[str, object]) -> None:
        """Keep only the latest context words: a forced cut in a sentence that will not end."""
        words = cache.get("pre_text")
        limit = self._context_words
        if limit is not None and isinstance(words, list) and len(words) > limit:
            cache["pre_text"] = words[-limit:]


def _single_token(text: str) -> bool:
    """One CJK character or one Latin word: what the punctuation model cannot take alone."""
    parts = text.split()
    return len(parts) == 1 and (len(parts[0]) == 1 or parts[0].isascii())


@contextmanager
def ctc_projection_once(model: Any, active: bool = True) -> Iterator[None]:
    """While the block runs, SenseVoice's CTC log-softmax is computed once per encoder output.

    With output_timestamp, SenseVoiceSmall.inference projects the encoder output onto the
    25,055-token vocabulary a second time for the alignment (about 7 % of a clip's cost on CPU),
    with the very tensor it decoded from. The second call gets the first result: the same values,
    since the alignment only changes the row of the clip already decoded (FunASR's ban_emo_unk,
    which edits the logits first, is never used here). The model's own method is back afterwards;
    calls on one model never overlap (its worker owns it).
    """
    ctc = getattr(model, "ctc", None)
    if not active or ctc is None:
        yield
        return
    project = ctc.log_softmax
    last: list[torch.Tensor] = []  # [input, output] of the latest projection

    def once(hs_pad: torch.Tensor) -> torch.Tensor:
        if last and last[0] is hs_pad:
            return last[1]
        last[:] = [hs_pad, project(hs_pad)]
        return last[1]

    ctc.log_softmax = once
    try:
        yield
    finally:
        del ctc.log_softmax


class SenseVoiceRecognizer:
    """Offline recognition of clips with SenseVoice (batched where FunASR allows)."""

    def __init__(self, model: Any, batch_size: int = 1) -> None:
        self._model = model
        self._batch_size = batch_size

    def recognize(self, clips: Sequence[np.ndarray], options: RecognitionOptions) -> list[Heard]:
        """See SpeechRecognizer.recognize; word times come from FunASR's CTC alignment when asked."""
        if not clips:
            return []
        with ctc_projection_once(self._model.model, options.word_timestamps):
            # always passed: AutoModel keeps each call's arguments, so one request's True would stick
            results = self._model.generate(
                input=list(clips),
                language=options.language,
                use_itn=options.use_itn,
                batch_size=self._batch_size,
                output_timestamp=options.word_timestamps,
            )
        if len(results) != len(clips):
            raise RuntimeError(f"SenseVoice returned {len(results)} results for {len(clips)} clips")
        return [
            heard(r, samples_to_ms(len(clip)), options.word_timestamps)
            for r, clip in zip(results, clips, strict=True)
        ]


# FunASR's diarization (sv_chunk) embeds 1.5 s windows and zero-pads a shorter one to that length.
SPEAKER_WINDOW_SAMPLES = ms_to_samples(1500)


class CamppEmbedder:
    """CAM++ speaker embeddings of 16 kHz mono float windows, several windows per model call.

    A window shorter than 1.5 s is zero-padded at its end to 1.5 s, as FunASR's sv_chunk does, so
    its embedding is the one FunASR's own diarization gives that window; a longer window is embedded
    whole. Only windows of one length share a call: FunASR zero-pads the features of a mixed batch,
    which would change the shorter ones' embeddings. So batching never changes a result.
    """

    def __init__(self, model: Any, batch_size: int = 8) -> None:
        self._model = model
        self._batch_size = batch_size
        conf = model.kwargs.get("model_conf") or {}
        self.dim = int(conf.get("embedding_size", 192))

    def embed(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """See SpeakerEmbedder.embed; ValueError on a window that is not 1-D float audio."""
        prepared = [_speaker_window(w) for w in windows]
        rows = np.zeros((len(prepared), self.dim), dtype=np.float32)
        for indices in self._batches(prepared):
            rows[indices] = self._run([prepared[i] for i in indices])
        return rows

    def _batches(self, windows: list[np.ndarray]) -> list[list[int]]:
        """Indices of equal-length windows, at most batch_size per call, in first-seen order."""
        by_length: dict[int, list[int]] = {}
        for index, window in enumerate(windows):
            by_length.setdefault(len(window), []).append(index)
        size = self._batch_size
        return [same[i : i + size] for same in by_length.values() for i in range(0, len(same), size)]

    def _run(self, batch: list[np.ndarray]) -> np.ndarray:
        # batch_size always given: AutoModel would otherwise use whatever its kwargs hold
        results = self._model.generate(input=batch, batch_size=len(batch))
        embeddings = torch.cat([r["spk_embedding"] for r in results]).float().cpu().numpy()
        if embeddings.shape != (len(batch), self.dim):
            raise RuntimeError(f"CAM++ returned {embeddings.shape} for {len(batch)} windows")
        return embeddings


def _speaker_window(window: np.ndarray) -> np.ndarray:
    """A window as float32, zero-padded at the end to 1.5 s; FunASR's fbank rejects integer audio."""
    audio = np.asarray(window)
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"a speaker window must be 1-D float audio, not {audio.dtype} {audio.shape}")
    audio = audio.astype(np.float32, copy=False)
    if len(audio) < SPEAKER_WINDOW_SAMPLES:
        audio = np.pad(audio, (0, SPEAKER_WINDOW_SAMPLES - len(audio)))
    return audio
