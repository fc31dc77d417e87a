"""The non-weight files of each model directory, named and laid out like the released models."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from . import configs
from .cmvn import am_mvn_text
from .configs import CamppDims, Config, ParaformerDims, PuncDims, SenseVoiceDims
from .sensevoice_vocab import BPE_MODEL_NAME, Piece, sensevoice_pieces, sentencepiece_model
from .vocab import paraformer_tokens, punc_tokens
from .weights import CHECKPOINT

# Directory names: the FunASR short names (or hub names) of the released models.
PARAFORMER_DIR = "paraformer-zh-streaming"
PUNC_DIR = "punc_ct-transformer_zh-cn-common-vad_realtime"
SENSEVOICE_DIR = "SenseVoiceSmall"
FSMN_VAD_DIR = "fsmn-vad"
CAMPP_DIR = "speech_campplus_sv_zh-cn_16k-common"
# The released CAM++ checkpoint is not model.pt: configuration.json's file_path_metas names it.
CAMPP_CHECKPOINT = "campplus_cn_common.bin"


def _write_json(path: Path, obj: object, indent: int | None = 2) -> None:
    """UTF-8 JSON with hanzi kept readable (tokens.json is written on one line, like the released one)."""
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=indent), encoding="utf-8")


def _write_yaml(path: Path, obj: Config) -> None:
    """config.yaml in the key order given."""
    with path.open("w", encoding="utf-8") as f:
        yaml.safe_dump(obj, f, allow_unicode=True, sort_keys=False, default_flow_style=False)


def _path_metas(**extra: object) -> Config:
    """file_path_metas entries every model has (checkpoint and config) plus the model's own."""
    return {"init_param": CHECKPOINT, "config": "config.yaml", **extra}


def write_paraformer_files(model_dir: Path, dims: ParaformerDims, dither: float | None) -> list[str]:
    """tokens.json, seg_dict, am.mvn, config.yaml and configuration.json; returns the token list."""
    tokens = paraformer_tokens(dims.vocab)
    _write_json(model_dir / "tokens.json", tokens, indent=None)
    # "<word> <unit> ...": read only by text2tokens / hotwords, never by decoding, so one unit per word
    (model_dir / "seg_dict").write_text("".join(f"{t} {t}\n" for t in tokens[3:-1]), encoding="utf-8")
    (model_dir / "am.mvn").write_text(am_mvn_text(lfr_m=7), encoding="utf-8")
    _write_yaml(model_dir / "config.yaml", configs.paraformer_config(dims, dither))
    _write_json(model_dir / "configuration.json", configs.configuration_json(
        "auto-speech-recognition",
        "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online",
        _path_metas(tokenizer_conf={"token_list": "tokens.json", "seg_dict_file": "seg_dict"},
                    frontend_conf={"cmvn_file": "am.mvn"})))
    return tokens


def write_punc_files(model_dir: Path, dims: PuncDims) -> None:
    """tokens.json, config.yaml and configuration.json of the realtime punctuation model."""
    _write_json(model_dir / "tokens.json", punc_tokens(dims.vocab), indent=None)
    _write_yaml(model_dir / "config.yaml", configs.punc_config(dims))
    _write_json(model_dir / "configuration.json", configs.configuration_json(
        "punctuation", "iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727",
        _path_metas(tokenizer_conf={"token_list": "tokens.json"})))


def write_sensevoice_files(model_dir: Path, dims: SenseVoiceDims, dither: float | None) -> list[Piece]:
    """The BPE model, am.mvn, config.yaml and configuration.json; returns the sentencepiece pieces."""
    pieces = sensevoice_pieces(dims.vocab)
    (model_dir / BPE_MODEL_NAME).write_bytes(sentencepiece_model(pieces))
    (model_dir / "am.mvn").write_text(am_mvn_text(lfr_m=7), encoding="utf-8")
    _write_yaml(model_dir / "config.yaml", configs.sensevoice_config(dims, dither))
    _write_json(model_dir / "configuration.json", configs.configuration_json(
        "auto-speech-recognition", "iic/SenseVoiceSmall",
        _path_metas(tokenizer_conf={"bpemodel": BPE_MODEL_NAME}, frontend_conf={"cmvn_file": "am.mvn"})))
    return pieces


def write_fsmn_vad_files(model_dir: Path) -> None:
    """am.mvn, config.yaml and configuration.json of the FSMN VAD (normally the real one is fetched)."""
    (model_dir / "am.mvn").write_text(am_mvn_text(lfr_m=5), encoding="utf-8")
    _write_yaml(model_dir / "config.yaml", configs.fsmn_vad_config())
    _write_json(model_dir / "configuration.json", configs.configuration_json(
        "voice-activity-detection", "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch",
        _path_metas(frontend_conf={"cmvn_file": "am.mvn"})))


def write_campplus_files(model_dir: Path, dims: CamppDims) -> None:
    """config.yaml (the released text) and configuration.json of CAM++; it has no am.mvn and no tokens."""
    (model_dir / "config.yaml").write_text(configs.campplus_yaml(dims), encoding="utf-8")
    # without file_path_metas FunASR looks for model.pt and the released checkpoint would not load
    _write_json(model_dir / "configuration.json", configs.configuration_json(
        "speaker-verification", "iic/speech_campplus_sv_zh-cn_16k-common",
        {"init_param": CAMPP_CHECKPOINT, "config": "config.yaml"}))
