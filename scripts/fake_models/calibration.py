"""Output calibration of the Paraformer and punctuation models, so random weights give output of the
released format at realistic rates.  Only output biases move; every tensor keeps its released shape."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import soundfile as sf
import torch

from .vocab import is_cjk

if TYPE_CHECKING:  # funasr is untyped: these name what is passed, mypy sees Any
    from funasr import AutoModel
    from funasr.models.ct_transformer_streaming.model import CTTransformerStreaming

Audio = npt.NDArray[np.float32]

SAMPLE_RATE = 16000
# The streaming settings the service uses: 600 ms chunks, chunk_size=[0, 10, 5].
CHUNK_SAMPLES = 9600
CHUNK_SIZE = [0, 10, 5]
# Frames per streaming chunk at the 60 ms low frame rate.
FRAMES_PER_CHUNK = 10
LFR_FRAME_S = 0.06

# A logit offset large enough that the softmax never picks the token.
NEVER = 30.0


def load_calib_audio(path: Path | None, seconds: float = 60.0) -> Audio | None:
    """The first `seconds` of a 16 kHz wav (first channel), or None when no usable file is given."""
    if path is None or not path.exists():
        return None
    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise ValueError(f"calibration audio {path} is {rate} Hz; it must be {SAMPLE_RATE} Hz")
    mono: Audio = samples[: int(seconds * rate), 0].copy()
    return mono


def calibrate_paraformer(am: AutoModel, tokens: list[str], audio: Audio | None,
                         tokens_per_s: float = 4.5) -> None:
    """Never emit <unk>, make English units rarer than hanzi, and (given audio) emit ~tokens_per_s.

    Random CIF predictors fire ~5-10 tokens/s depending on size; real Mandarin is ~4-5 chars/s.  The
    predictor's output bias is shifted until its mean firing weight per 60 ms frame matches."""
    output_bias = am.model.decoder.output_layer.bias
    output_bias[tokens.index("<unk>")] -= NEVER
    for i, token in enumerate(tokens):
        if 3 <= i < len(tokens) - 1 and not is_cjk(token):
            output_bias[i] -= 2.0  # a Mandarin-like stand-in: English units 2 logits down
    if audio is None:
        return
    cif_output: torch.nn.Linear = am.model.predictor.cif_output
    pre_sigmoid = _streaming_cif_logits(am, cif_output, audio)
    cif_output.bias.add_(_bias_for_mean_sigmoid(pre_sigmoid, tokens_per_s * LFR_FRAME_S))


def _streaming_cif_logits(am: AutoModel, cif_output: torch.nn.Linear, audio: Audio) -> torch.Tensor:
    """The CIF predictor's pre-sigmoid outputs over `audio`, decoded in the service's streaming mode."""
    logits: list[torch.Tensor] = []

    def keep(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
        logits.append(output[0, :FRAMES_PER_CHUNK, 0].clone())

    hook = cif_output.register_forward_hook(keep)
    try:
        cache: dict[str, object] = {}
        n_chunks = len(audio) // CHUNK_SAMPLES
        for i in range(n_chunks):
            am.generate(input=audio[i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES], cache=cache,
                        is_final=i == n_chunks - 1, chunk_size=CHUNK_SIZE, encoder_chunk_look_back=4,
                        decoder_chunk_look_back=1)
    finally:
        hook.remove()
    return torch.cat(logits)


def _bias_for_mean_sigmoid(z: torch.Tensor, target: float) -> float:
    """Offset b with mean(sigmoid(z + b)) == target, by bisection over [-20, 20]."""
    lo, hi = -20.0, 20.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if torch.sigmoid(z + mid).mean() > target:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


# Output classes of the punctuation model: <unk>, '_' (none), ，, 。, ？, 、
PUNC_CLASS_FREQS = (0.0, 0.85, 0.08, 0.05, 0.01, 0.01)


def calibrate_punc(am: AutoModel, vocab_size: int, seed: int,
                   freqs: tuple[float, ...] = PUNC_CLASS_FREQS) -> None:
    """Give the punctuation classes a Mandarin-like mix: mostly none, some ，, a few 。/？/、, never <unk>.

    Frequent enough sentence ends matter: the realtime model keeps every word after the last one in
    cache['pre_text'] and re-runs it on the next call, so a model that never ends a sentence gets slower
    per call than the real one.  Logits are W h + b, so the bias is fitted offline on probe logits from
    random token sequences."""
    model: CTTransformerStreaming = am.model
    probe = _punc_probe_logits(model, vocab_size, seed)
    want = torch.tensor(freqs)
    delta = torch.zeros(len(freqs))
    delta[0] = -NEVER
    for _ in range(400):  # multiplicative-weights steps towards the wanted class frequencies
        got = torch.bincount((probe + delta).argmax(-1), minlength=len(freqs)).float() / probe.shape[0]
        delta[1:] += 0.05 * torch.log((want[1:] + 1e-3) / (got[1:] + 1e-3))
    model.decoder.bias += delta


def _punc_probe_logits(model: CTTransformerStreaming, vocab_size: int, seed: int,
                       n_rows: int = 96, length: int = 20) -> torch.Tensor:
    """Punctuation logits for n_rows random token sequences, one row per token."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab_size - 1, (n_rows, length), generator=generator)
    rows = [model.punc_forward(text=row[None], text_lengths=torch.tensor([length]),
                               vad_indexes=torch.tensor([0]))[0][0] for row in ids]
    return torch.cat(rows)
