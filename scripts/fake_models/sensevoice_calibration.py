"""Make a random SenseVoiceSmall emit the released output format:
<|lang|><|NEUTRAL|><|Speech|><|withitn|> (or <|woitn|>) followed by ~4-5 random tokens per second.

SenseVoice prepends four query frames (language, emotion, event, text-norm) to the features and reads
the tags from the CTC output at those positions.  Random weights cannot tell the positions apart, so a
few reserved "lanes" of the encoder's residual stream carry the information to the CTC layer:

* the first layer (encoders0, which has no residual) writes a position one-hot, using FSMN taps over a
  constant value bias (they differ only at the sequence start), and a query-identity value, using
  query embeddings set to near-orthogonal directions;
* no later layer writes those lanes, so they reach the CTC layer unchanged;
* the CTC rows of the tags read only the lanes; all other tag ids are suppressed.

The language tag follows `language=` (auto -> zh) and the text-norm tag follows `use_itn`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .calibration import NEVER, Audio
from .sensevoice_vocab import (
    EN,
    JA,
    KO,
    NEUTRAL_EMOTION,
    NOSPEECH_ID,
    SPECIAL_START,
    SPEECH_EVENT,
    WITH_ITN,
    WITHOUT_ITN,
    YUE,
    ZH,
    Piece,
)

if TYPE_CHECKING:  # funasr is untyped: these name what is passed, mypy sees Any
    from funasr import AutoModel
    from funasr.models.sense_voice.model import EncoderLayerSANM, SenseVoiceSmall

# Query embedding ids, as in SenseVoiceSmall.lid_dict / textnorm_dict (event and emotion use 1 and 2).
LID_QUERY = {"auto": 0, "zh": 3, "en": 4, "yue": 7, "ja": 11, "ko": 12, "nospeech": 13}
WITH_ITN_QUERY, WITHOUT_ITN_QUERY = 14, 15
EVENT_EMOTION_QUERIES = [1, 2]
# The language tag each language= query should produce.
LID_TAG = {"zh": ZH, "en": EN, "yue": YUE, "ja": JA, "ko": KO, "nospeech": NOSPEECH_ID}
# Prompt frames in front of the features: language, emotion, event, text-norm.
N_PROMPT = 4

# Lane strength: must dominate the residual stream (rms ~5 in the full-size model).
VALUE_BIAS = 3.0
FSMN_GAIN = 100.0
QUERY_GAIN = 10.0
EMBED_SCALE = 30.0
# CTC read-out targets: a prompt position gives a tag logit of +24 - 12, its query identity +6.
POSITION_LOGIT, QUERY_LOGIT, TAG_BIAS = 24.0, 6.0, -12.0
# Kana and hangul pieces are made rarer, a Mandarin-like stand-in.
RARE_SCRIPT_PENALTY = 3.0
PROBE_FRAMES = 300
FEATURE_CHUNK_FRAMES = 500


@dataclass(frozen=True)
class Lanes:
    """Residual-stream channels reserved for the prompt signals."""

    position: list[int]  # position[p] is large only at prompt frame p
    query: dict[int, int]  # query embedding id -> channel that is large where that query sits

    @property
    def channels(self) -> list[int]:
        """Every reserved channel."""
        return self.position + list(self.query.values())


def calibrate_sensevoice(am: AutoModel, pieces: list[Piece], seed: int, audio: Audio | None = None,
                         blank_keep: float = 0.72) -> None:
    """Install the tag lanes, then fit the blank bias so ~blank_keep of speech frames are blank.

    The blank rate is measured on `audio` when given, else on Gaussian features (less realistic)."""
    model: SenseVoiceSmall = am.model
    generator = torch.Generator().manual_seed(seed)
    width = model.encoder.output_size()
    embed_dim = model.embed.weight.shape[1]
    directions = _query_directions(embed_dim, generator)
    queries = [*LID_QUERY.values(), WITH_ITN_QUERY, WITHOUT_ITN_QUERY]
    channels = torch.randperm(width, generator=generator)[: N_PROMPT + len(queries)].tolist()
    lanes = Lanes(position=channels[:N_PROMPT], query=dict(zip(queries, channels[N_PROMPT:], strict=True)))
    ctc: torch.nn.Linear = model.ctc.ctc_lo
    with torch.no_grad():
        model.embed.weight.copy_(EMBED_SCALE * directions)
        _write_lanes(model.encoder.encoders0[0], lanes, directions, width)
        _keep_lanes_clear(list(model.encoder.encoders) + list(model.encoder.tp_encoders), lanes, width)
        _prepare_ctc(ctc, pieces, lanes)
        probe = torch.randn(1, PROBE_FRAMES, embed_dim, generator=generator)
        _set_tag_rows(ctc, lanes, *_lane_strengths(model, probe, lanes))
        speech = _fbank(am, audio) if audio is not None else probe
        _fit_blank(model, ctc, speech, blank_keep)
        _self_test(model, ctc, probe)


def _query_directions(dim: int, generator: torch.Generator, n: int = 16) -> torch.Tensor:
    """n unit-norm, zero-mean, near-orthogonal rows of length dim (the query embeddings)."""
    a = torch.randn(dim, n, generator=generator)
    a = a - a.mean(0, keepdim=True)
    q, _ = torch.linalg.qr(a)
    u = q.T - q.T.mean(1, keepdim=True)  # zero mean survives the encoder's layer norm as signal
    return u / u.norm(dim=1, keepdim=True)


def _prompted_hidden(model: SenseVoiceSmall, feats: torch.Tensor, lid: int, textnorm: int) -> torch.Tensor:
    """Encoder output for feats behind the four query frames, exactly as SenseVoiceSmall.inference builds."""
    ids = [[lid]], [EVENT_EMOTION_QUERIES], [[textnorm]]
    prompt = [model.embed(torch.LongTensor(i)) for i in ids]
    x = torch.cat((*prompt, feats), dim=1)
    hidden, _ = model.encoder(x, torch.tensor([x.shape[1]]))
    out: torch.Tensor = hidden[0]
    return out


def _write_lanes(layer: EncoderLayerSANM, lanes: Lanes, directions: torch.Tensor, width: int) -> None:
    """Make the first encoder layer output the position one-hot and the query identity on the lanes."""
    attn = layer.self_attn
    qkv_w, qkv_b = attn.linear_q_k_v.weight, attn.linear_q_k_v.bias
    _zero_rows(attn.linear_out, lanes.channels)
    _zero_rows(layer.feed_forward.w_2, lanes.channels)
    taps = attn.fsmn_block.weight.shape[-1]
    centre = (taps - 1) // 2  # sanm_shfit == 0: the FSMN pads `centre` frames on the left
    for p, ch in enumerate(lanes.position):
        # value channel = constant VALUE_BIAS; fsmn(v) + v == VALUE_BIAS * FSMN_GAIN at t == p, 0 elsewhere
        qkv_w[2 * width + ch, :] = 0
        qkv_b[2 * width + ch] = VALUE_BIAS
        w = torch.zeros(taps)
        w[centre - 1 - p] -= FSMN_GAIN
        w[centre - p] += FSMN_GAIN
        w[centre] -= 1.0
        attn.fsmn_block.weight[ch, 0, :] = w
    for query, ch in lanes.query.items():
        # value channel = projection on the query's direction: large only on that query's frame
        qkv_w[2 * width + ch, :] = QUERY_GAIN * directions[query]
        qkv_b[2 * width + ch] = 0
        attn.fsmn_block.weight[ch, 0, :] = 0


def _keep_lanes_clear(layers: Iterable[EncoderLayerSANM], lanes: Lanes, width: int) -> None:
    """Stop every later layer from writing the lanes, so the residual stream carries them unchanged."""
    value_rows = [2 * width + ch for ch in lanes.channels]
    for layer in layers:
        attn = layer.self_attn
        _zero_rows(attn.linear_out, lanes.channels)
        attn.linear_q_k_v.weight[value_rows, :] = 0
        attn.linear_q_k_v.bias[value_rows] = 0
        attn.fsmn_block.weight[lanes.channels] = 0
        _zero_rows(layer.feed_forward.w_2, lanes.channels)


def _zero_rows(linear: torch.nn.Linear, rows: list[int]) -> None:
    """Zero some output channels of a Linear layer (weight rows and bias)."""
    linear.weight[rows, :] = 0
    linear.bias[rows] = 0


def _prepare_ctc(ctc: torch.nn.Linear, pieces: list[Piece], lanes: Lanes) -> None:
    """Suppress every tag, keep ordinary tokens blind to the lanes, make kana and hangul rarer."""
    ctc.weight[SPECIAL_START:, :] = 0
    ctc.bias[SPECIAL_START:] = -NEVER
    ctc.weight[:, lanes.channels] = 0
    for i, (piece, _kind) in enumerate(pieces[:SPECIAL_START]):
        first = piece.lstrip("▁")[:1]
        if first and ("\u3040" <= first <= "\u30ff" or "\uac00" <= first <= "\ud7a3"):
            ctc.bias[i] -= RARE_SCRIPT_PENALTY


def _lane_strengths(model: SenseVoiceSmall, probe: torch.Tensor, lanes: Lanes) -> tuple[float, float]:
    """The weakest position-lane and query-lane values seen at their prompt frames on the probe."""
    position: list[float] = []
    query: list[float] = []
    for lid in (LID_QUERY["auto"], LID_QUERY["zh"], LID_QUERY["en"]):
        textnorm = WITHOUT_ITN_QUERY if lid == LID_QUERY["en"] else WITH_ITN_QUERY
        hidden = _prompted_hidden(model, probe.clone(), lid, textnorm)
        position += [float(hidden[p, lanes.position[p]]) for p in range(N_PROMPT)]
        query.append(float(hidden[0, lanes.query[lid]]))
        query.append(float(hidden[3, lanes.query[textnorm]]))
    return min(position), min(query)


def _set_tag_rows(ctc: torch.nn.Linear, lanes: Lanes, position_strength: float,
                  query_strength: float) -> None:
    """CTC rows of the released prompt tags: fire at their prompt frame, gated by the query present."""
    pos_w, query_w = POSITION_LOGIT / position_strength, QUERY_LOGIT / query_strength

    def read_out(tag: int, frame: int, queries: list[int]) -> None:
        ctc.weight[tag, :] = 0
        ctc.weight[tag, lanes.position[frame]] = pos_w
        for q in queries:
            ctc.weight[tag, lanes.query[q]] = query_w
        ctc.bias[tag] = TAG_BIAS

    for lang, tag in LID_TAG.items():
        # language="auto" must come out as <|zh|>, like the released model on Mandarin
        read_out(tag, 0, [LID_QUERY[lang]] + ([LID_QUERY["auto"]] if lang == "zh" else []))
    read_out(NEUTRAL_EMOTION, 1, [])
    read_out(SPEECH_EVENT, 2, [])
    read_out(WITH_ITN, 3, [WITH_ITN_QUERY])
    read_out(WITHOUT_ITN, 3, [WITHOUT_ITN_QUERY])


def _fbank(am: AutoModel, audio: Audio) -> torch.Tensor:
    """Features of `audio` through the model's own frontend, as SenseVoice inference computes them."""
    # funasr is already loaded (am exists); importing here keeps this module cheap to import
    from funasr.utils.load_utils import extract_fbank

    feats, _ = extract_fbank([torch.from_numpy(audio)], frontend=am.kwargs["frontend"])
    out: torch.Tensor = feats
    return out


def _fit_blank(model: SenseVoiceSmall, ctc: torch.nn.Linear, feats: torch.Tensor, blank_keep: float) -> None:
    """Shift the blank bias so blank wins on blank_keep of the feature frames (prompt frames excluded)."""
    hidden = torch.cat([
        _prompted_hidden(model, feats[:, i:i + FEATURE_CHUNK_FRAMES].clone(), LID_QUERY["auto"],
                         WITH_ITN_QUERY)[N_PROMPT:]
        for i in range(0, feats.shape[1], FEATURE_CHUNK_FRAMES)
    ])
    logits = ctc(hidden)
    best_other = torch.cat([logits[:, :1] * 0 - 1e9, logits[:, 1:]], dim=1).max(dim=1).values
    ctc.bias[0] += float(torch.quantile(best_other - logits[:, 0], blank_keep))


def _self_test(model: SenseVoiceSmall, ctc: torch.nn.Linear, probe: torch.Tensor) -> None:
    """On the probe, the prompt frames give the expected tags and no speech frame gives any tag."""
    cases = (
        (LID_QUERY["auto"], WITH_ITN_QUERY, (ZH, NEUTRAL_EMOTION, SPEECH_EVENT, WITH_ITN)),
        (LID_QUERY["en"], WITHOUT_ITN_QUERY, (EN, NEUTRAL_EMOTION, SPEECH_EVENT, WITHOUT_ITN)),
        (LID_QUERY["nospeech"], WITH_ITN_QUERY, (NOSPEECH_ID, NEUTRAL_EMOTION, SPEECH_EVENT, WITH_ITN)),
        (LID_QUERY["ko"], WITHOUT_ITN_QUERY, (KO, NEUTRAL_EMOTION, SPEECH_EVENT, WITHOUT_ITN)),
    )
    for lid, textnorm, want in cases:
        best = ctc(_prompted_hidden(model, probe.clone(), lid, textnorm)).argmax(-1)
        got = tuple(best[:N_PROMPT].tolist())
        if got != want:
            raise RuntimeError(f"SenseVoice calibration: query {lid}/{textnorm} gave tags {got}, want {want}")
        if int((best[N_PROMPT:] >= SPECIAL_START).sum()):
            raise RuntimeError(f"SenseVoice calibration: a tag leaked into speech frames (query {lid})")
