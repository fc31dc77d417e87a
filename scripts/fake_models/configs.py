"""Model sizes and the config.yaml / configuration.json contents of each released model."""

from __future__ import annotations

from dataclasses import dataclass

from .sensevoice_vocab import VOCAB_SIZE as SENSEVOICE_VOCAB

Config = dict[str, object]


@dataclass(frozen=True)
class ParaformerDims:
    """Streaming Paraformer: SANM encoder, SANM decoder, CIF predictor."""

    d: int
    heads: int
    ffn: int
    enc_blocks: int
    dec_blocks: int
    vocab: int


@dataclass(frozen=True)
class PuncDims:
    """Realtime CT-Transformer punctuation model."""

    d: int
    heads: int
    ffn: int
    blocks: int
    vocab: int


@dataclass(frozen=True)
class SenseVoiceDims:
    """SenseVoiceSmall: SANM encoder plus time-pooling (tp) blocks and a CTC head."""

    d: int
    heads: int
    ffn: int
    blocks: int
    tp_blocks: int
    vocab: int


@dataclass(frozen=True)
class CamppDims:
    """CAM++ speaker embedding: only widths are configurable (FunASR fixes the block depths 12/24/16)."""

    init_channels: int
    growth_rate: int
    bn_size: int
    embedding_size: int


@dataclass(frozen=True)
class ModelSizes:
    """Dimensions of all generated models at one size."""

    para: ParaformerDims
    punc: PuncDims
    sv: SenseVoiceDims
    campp: CamppDims


# "full" = the released dimensions and vocabularies, so compute and memory are realistic (benchmarks);
# "tiny" = 2 blocks x 64 dims (tests).  SenseVoice keeps its 25055-piece layout at both sizes because
# FunASR hard-codes special-token ids into it.  Tiny CAM++ is narrower but keeps the released 192-dim
# embedding, so callers see the real output shape.
SIZES: dict[str, ModelSizes] = {
    "full": ModelSizes(
        para=ParaformerDims(d=512, heads=4, ffn=2048, enc_blocks=50, dec_blocks=16, vocab=8404),
        punc=PuncDims(d=256, heads=8, ffn=1024, blocks=3, vocab=272727),
        sv=SenseVoiceDims(d=512, heads=4, ffn=2048, blocks=50, tp_blocks=20, vocab=SENSEVOICE_VOCAB),
        campp=CamppDims(init_channels=128, growth_rate=32, bn_size=4, embedding_size=192),
    ),
    "tiny": ModelSizes(
        para=ParaformerDims(d=64, heads=4, ffn=128, enc_blocks=2, dec_blocks=2, vocab=404),
        punc=PuncDims(d=64, heads=4, ffn=128, blocks=2, vocab=504),
        sv=SenseVoiceDims(d=64, heads=4, ffn=128, blocks=2, tp_blocks=1, vocab=SENSEVOICE_VOCAB),
        campp=CamppDims(init_channels=32, growth_rate=8, bn_size=2, embedding_size=192),
    ),
}

# Released configs leave frontend dither unset, so WavFrontend adds Gaussian noise (dither 1.0) from the
# global torch RNG and the same audio gives different features on each call.  Real weights shrug that
# off, random weights do not: the generated configs set 0.0 (as the released FSMN-VAD config does)
# unless the caller asks to keep the released behaviour.
NO_DITHER = 0.0


def _specaug_lfr() -> Config:
    """SpecAugLFR settings of the released ASR configs (training only, kept for fidelity)."""
    return {
        "apply_time_warp": False, "time_warp_window": 5, "time_warp_mode": "bicubic",
        "apply_freq_mask": True, "freq_mask_width_range": [0, 30], "lfr_rate": 6, "num_freq_mask": 1,
        "apply_time_mask": True, "time_mask_width_range": [0, 12], "num_time_mask": 1,
    }


def _fbank_conf(lfr_m: int, lfr_n: int, extra: Config, dither: float | None) -> Config:
    """frontend_conf for 80-dim 16 kHz fbank stacked lfr_m deep every lfr_n frames; dither appended."""
    conf: Config = {"fs": 16000, "window": "hamming", "n_mels": 80, "frame_length": 25, "frame_shift": 10,
                    "lfr_m": lfr_m, "lfr_n": lfr_n, **extra}
    if dither is not None:
        conf["dither"] = dither
    return conf


def paraformer_config(p: ParaformerDims, dither: float | None) -> Config:
    """config.yaml of paraformer-large ..-vocab8404-online (ParaformerStreaming)."""
    return {
        "model": "ParaformerStreaming",
        "model_conf": {
            "ctc_weight": 0.0, "lsm_weight": 0.1, "length_normalized_loss": True,
            "predictor_weight": 1.0, "predictor_bias": 1, "sampling_ratio": 0.75,
        },
        "encoder": "SANMEncoderChunkOpt",
        "encoder_conf": {
            "output_size": p.d, "attention_heads": p.heads, "linear_units": p.ffn,
            "num_blocks": p.enc_blocks, "dropout_rate": 0.1, "positional_dropout_rate": 0.1,
            "attention_dropout_rate": 0.1, "input_layer": "pe_online",
            "pos_enc_class": "SinusoidalPositionEncoder", "normalize_before": True,
            "kernel_size": 11, "sanm_shfit": 0, "selfattention_layer_type": "sanm",
            "chunk_size": [12, 15], "stride": [8, 10], "pad_left": [0, 0],
            "encoder_att_look_back_factor": [4, 4], "decoder_att_look_back_factor": [1, 1],
        },
        "decoder": "ParaformerSANMDecoder",
        "decoder_conf": {
            "attention_heads": p.heads, "linear_units": p.ffn, "num_blocks": p.dec_blocks,
            "dropout_rate": 0.1, "positional_dropout_rate": 0.1, "self_attention_dropout_rate": 0.1,
            "src_attention_dropout_rate": 0.1, "att_layer_num": p.dec_blocks, "kernel_size": 11,
            "sanm_shfit": 5,
        },
        "predictor": "CifPredictorV2",
        "predictor_conf": {"idim": p.d, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45},
        "frontend": "WavFrontendOnline",
        "frontend_conf": _fbank_conf(7, 6, {}, dither),
        "specaug": "SpecAugLFR",
        "specaug_conf": _specaug_lfr(),
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
        "ctc_conf": {"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True, "ignore_nan_grad": True},
        "normalize": None,
    }


def punc_config(p: PuncDims) -> Config:
    """config.yaml of punc_ct-transformer_zh-cn-common-vad_realtime (CTTransformerStreaming)."""
    return {
        "model": "CTTransformerStreaming",
        "model_conf": {
            "ignore_id": 0, "embed_unit": p.d, "att_unit": p.d, "dropout_rate": 0.1,
            "punc_list": ["<unk>", "_", "，", "。", "？", "、"],
            "punc_weight": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0], "sentence_end_id": 3,
        },
        "encoder": "SANMVadEncoder",
        "encoder_conf": {
            "input_size": p.d, "output_size": p.d, "attention_heads": p.heads,
            "linear_units": p.ffn, "num_blocks": p.blocks, "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1, "attention_dropout_rate": 0.0, "input_layer": "pe",
            "pos_enc_class": "SinusoidalPositionEncoder", "normalize_before": True,
            "kernel_size": 11, "sanm_shfit": 5, "selfattention_layer_type": "sanm", "padding_idx": 0,
        },
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>"},
    }


def sensevoice_config(p: SenseVoiceDims, dither: float | None) -> Config:
    """config.yaml of iic/SenseVoiceSmall."""
    return {
        "encoder": "SenseVoiceEncoderSmall",
        "encoder_conf": {
            "output_size": p.d, "attention_heads": p.heads, "linear_units": p.ffn,
            "num_blocks": p.blocks, "tp_blocks": p.tp_blocks, "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1, "attention_dropout_rate": 0.1, "input_layer": "pe",
            "pos_enc_class": "SinusoidalPositionEncoder", "normalize_before": True,
            "kernel_size": 11, "sanm_shfit": 0, "selfattention_layer_type": "sanm",
        },
        "model": "SenseVoiceSmall",
        "model_conf": {"length_normalized_loss": True, "sos": 1, "eos": 2, "ignore_id": -1},
        "tokenizer": "SentencepiecesTokenizer",
        "tokenizer_conf": {"bpemodel": None, "unk_symbol": "<unk>", "split_with_space": True},
        "frontend": "WavFrontend",
        "frontend_conf": _fbank_conf(7, 6, {"cmvn_file": None}, dither),
        "specaug": "SpecAugLFR",
        "specaug_conf": _specaug_lfr(),
    }


def fsmn_vad_config() -> Config:
    """config.yaml of speech_fsmn_vad_zh-cn-16k-common-pytorch (FsmnVADStreaming), dither already 0."""
    return {
        "frontend": "WavFrontendOnline",
        "frontend_conf": {"fs": 16000, "window": "hamming", "n_mels": 80, "frame_length": 25,
                          "frame_shift": 10, "dither": 0.0, "lfr_m": 5, "lfr_n": 1},
        "model": "FsmnVADStreaming",
        "model_conf": {
            "sample_rate": 16000, "detect_mode": 1, "snr_mode": 0, "max_end_silence_time": 800,
            "max_start_silence_time": 3000, "do_start_point_detection": True,
            "do_end_point_detection": True, "window_size_ms": 200, "sil_to_speech_time_thres": 150,
            "speech_to_sil_time_thres": 150, "speech_2_noise_ratio": 1.0, "do_extend": 1,
            "lookback_time_start_point": 200, "lookahead_time_end_point": 100,
            "max_single_segment_time": 60000, "snr_thres": -100.0, "noise_frame_num_used_for_snr": 100,
            "decibel_thres": -100.0, "speech_noise_thres": 0.6, "fe_prior_thres": 0.0001,
            "silence_pdf_num": 1, "sil_pdf_ids": [0], "speech_noise_thresh_low": -0.1,
            "speech_noise_thresh_high": 0.3, "output_frame_probs": False, "frame_in_ms": 10,
            "frame_length_ms": 25,
        },
        "encoder": "FSMN",
        "encoder_conf": {"input_dim": 400, "input_affine_dim": 140, "fsmn_layers": 4, "linear_dim": 250,
                         "proj_dim": 128, "lorder": 20, "rorder": 0, "lstride": 1, "rstride": 0,
                         "output_affine_dim": 140, "output_dim": 248},
    }


# config.yaml of iic/speech_campplus_sv_zh-cn_16k-common as released (537 bytes at the full size),
# comments included; only the widths are filled in.
_CAMPPLUS_YAML = """\
# This is an example that demonstrates how to configure a model file.
# You can modify the configuration according to your own requirements.

# to print the register_table:
# from funasr.register import tables
# tables.print()

# network architecture
model: CAMPPlus
model_conf:
    feat_dim: 80
    embedding_size: {embedding_size}
    growth_rate: {growth_rate}
    bn_size: {bn_size}
    init_channels: {init_channels}
    config_str: 'batchnorm-relu'
    memory_efficient: True
    output_level: 'segment'

# frontend related
frontend: WavFrontend
frontend_conf:
    fs: 16000
"""


def campplus_yaml(c: CamppDims) -> str:
    """config.yaml text of the CAM++ speaker model (its frontend is unused: CAM++ computes its own fbank)."""
    return _CAMPPLUS_YAML.format(embedding_size=c.embedding_size, growth_rate=c.growth_rate,
                                 bn_size=c.bn_size, init_channels=c.init_channels)


def configuration_json(task: str, hub_id: str, file_path_metas: Config) -> Config:
    """configuration.json: how funasr.AutoModel finds config, checkpoint and tokenizer files in a dir.

    AutoModel maps a file_path_metas entry only when that file exists, which is what lets a directory
    without model.pt build a freshly initialised model."""
    return {
        "framework": "pytorch",
        "task": task,
        "model": {"type": "funasr"},
        "pipeline": {"type": "funasr-pipeline"},
        "model_name_in_hub": {"ms": hub_id, "hf": ""},
        "file_path_metas": file_path_metas,
    }
