"""Model loading: sources, device choice, weight checks, clean one-line failures, text clean-up."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asr_service import models
from asr_service.config import Settings
from asr_service.model_specs import MODEL_SPECS, spec_for

from .conftest import ROOT, free_port

OFFLINE = spec_for("offline")


def test_every_role_has_its_own_env_var() -> None:
    assert {s.env_var for s in MODEL_SPECS} == {
        "ASR_STREAMING_MODEL",
        "ASR_PUNC_MODEL",
        "ASR_VAD_MODEL",
        "ASR_OFFLINE_MODEL",
    }


def test_local_directory_is_used_as_is(model_dirs: dict[str, Path]) -> None:
    assert models.resolve_source(OFFLINE, str(model_dirs["offline"])) == model_dirs["offline"]


def test_missing_directory_names_role_source_and_fix() -> None:
    with pytest.raises(models.ModelLoadError) as info:
        models.resolve_source(OFFLINE, "/no/such/model/dir")
    message = str(info.value)
    assert "offline ASR" in message and "/no/such/model/dir" in message and "ASR_OFFLINE_MODEL" in message
    assert "\n" not in message


def test_hub_id_not_in_cache_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))
    with pytest.raises(models.ModelLoadError, match="not in the ModelScope cache") as info:
        models.resolve_source(OFFLINE, "iic/SenseVoiceSmall", allow_download=False)
    assert "download_models.py" in str(info.value)


def test_funasr_short_names_map_to_hub_ids() -> None:
    assert models.hub_id("fsmn-vad") == "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch"
    assert models.hub_id("iic/SenseVoiceSmall") == "iic/SenseVoiceSmall"


def test_device_auto_is_cpu_here_and_forced_devices_must_exist() -> None:
    if not torch.cuda.is_available():
        assert models.select_device(Settings.from_env({"USE_MPS": "0"})) == "cpu"
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            models.select_device(Settings.from_env({"ASR_DEVICE": "cuda"}))
    assert models.select_device(Settings.from_env({"ASR_DEVICE": "cpu"})) == "cpu"


def _copy_model(model_dirs: dict[str, Path], tmp_path: Path) -> Path:
    target = tmp_path / "SenseVoiceSmall"
    shutil.copytree(model_dirs["offline"], target)
    return target


def _settings_with_offline(model_env: dict[str, str], path: Path) -> Settings:
    return Settings.from_env({**model_env, "ASR_OFFLINE_MODEL": str(path), "ASR_WARMUP": "0"})


def test_missing_weights_file_is_an_error(
    model_env: dict[str, str], model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    target = _copy_model(model_dirs, tmp_path)
    (target / "model.pt").unlink()
    with pytest.raises(models.ModelLoadError, match=r"model\.pt"):
        models.load_one(OFFLINE, _settings_with_offline(model_env, target), "cpu")


def test_checkpoint_lacking_weights_is_an_error(
    model_env: dict[str, str], model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    target = _copy_model(model_dirs, tmp_path)
    state = torch.load(target / "model.pt", map_location="cpu", weights_only=True)
    dropped = sorted(state)[0]
    del state[dropped]
    torch.save(state, target / "model.pt")
    with pytest.raises(models.ModelLoadError, match="1 weights missing") as info:
        models.load_one(OFFLINE, _settings_with_offline(model_env, target), "cpu")
    assert dropped in str(info.value)


def test_checkpoint_with_wrong_shapes_is_an_error(
    model_env: dict[str, str], model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    target = _copy_model(model_dirs, tmp_path)
    state = torch.load(target / "model.pt", map_location="cpu", weights_only=True)
    key = next(k for k, v in state.items() if v.ndim == 2)
    state[key] = torch.zeros(3, 3)
    torch.save(state, target / "model.pt")
    with pytest.raises(models.ModelLoadError, match="wrong shape"):
        models.load_one(OFFLINE, _settings_with_offline(model_env, target), "cpu")


def test_directory_that_is_not_a_model(model_env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(models.ModelLoadError, match=r"configuration\.json"):
        models.load_one(OFFLINE, _settings_with_offline(model_env, tmp_path), "cpu")


def test_loaded_models_are_described(model_set: models.ModelSet) -> None:
    described = {m["role"]: m for m in model_set.describe()}
    assert set(described) == {"vad", "offline", "streaming", "punc"}
    assert all(Path(m["path"]).is_dir() and m["device"] == "cpu" for m in described.values())


def test_dither_is_off_so_results_repeat(model_set: models.ModelSet) -> None:
    for role in ("offline", "streaming"):
        assert model_set.loaded[role].model.kwargs["frontend_conf"]["dither"] == 0.0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<|zh|><|NEUTRAL|><|Speech|><|withitn|>今天开会。", "今天开会。"),
        ("<|en|><|HAPPY|><|Laughter|><|woitn|>Yes. OK. Well, we start.", "Yes. OK. Well, we start."),
        ("<|en|><|EMO_UNKNOWN|><|BGM|><|withitn|>OK", "OK"),
        ("<|nospeech|><|Event_UNK|>", ""),
        ("<|ja|><|NEUTRAL|><|Speech|><|withitn|>Well<|de|>", "Well"),
        ("", ""),
    ],
)
def test_clean_text_removes_tags_and_emoji_but_no_words(raw: str, clean: str) -> None:
    assert models.clean_text(raw) == clean


def _run_server(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full_env = {
        "PATH": "/usr/bin:/bin",
        "ASR_HOST": "127.0.0.1",
        "ASR_PORT": str(free_port()),
        "ASR_DATA_DIR": str(tmp_path / "data"),
        "HOME": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "asr_api_server.py")],
        env=full_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_server_exits_with_one_clear_line_when_a_model_is_missing(
    model_env: dict[str, str], tmp_path: Path
) -> None:
    result = _run_server({**model_env, "ASR_OFFLINE_MODEL": str(tmp_path / "nowhere")}, tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("asr: ")]
    assert len(lines) == 1, result.stderr
    assert "ASR_OFFLINE_MODEL" in lines[0] and "nowhere" in lines[0] and "no such directory" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_server_exits_cleanly_on_bad_configuration(tmp_path: Path) -> None:
    result = _run_server({"ASR_PORT": "not-a-port"}, tmp_path)
    assert result.returncode == 2
    assert "ASR_PORT" in result.stderr and "Traceback" not in result.stderr


def test_windowed_position_encoding_is_bit_identical_to_funasr() -> None:
    from funasr.models.transformer.embedding import StreamSinusoidalPositionEncoder

    original, windowed = StreamSinusoidalPositionEncoder(), models.WindowedStreamPositionEncoder()
    cache_a, cache_b = {"start_idx": 0}, {"start_idx": 0}
    generator = torch.Generator().manual_seed(0)
    for timesteps in (5, 10, 10, 7, 10, 1, 10):
        x = torch.randn(1, timesteps, 64, generator=generator)
        assert torch.equal(original(x, cache_a), windowed(x, cache_b))
    assert cache_a == cache_b
    far = {"start_idx": 60_000}  # an hour into a recording
    x = torch.randn(1, 10, 256, generator=generator)
    assert torch.equal(original(x, dict(far)), windowed(x, dict(far)))


def test_streaming_model_uses_the_windowed_encoder(model_set: models.ModelSet) -> None:
    automodel = model_set.loaded["streaming"].model
    models.ParaformerStreaming(automodel)
    assert isinstance(automodel.model.encoder.embed, models.WindowedStreamPositionEncoder)


def test_realtime_punctuation_survives_the_inputs_funasr_crashes_on(model_set: models.ModelSet) -> None:
    punctuator = models.RealtimePunctuator(model_set.loaded["punc"].model)
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
    model_set: models.ModelSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = model_set.loaded["punc"].model.model
    # the model may still place marks, but none of them ends a sentence: like noise recognised as text
    never_ending = ["，" if p in ("。", "？") else p for p in inner.punc_list]
    monkeypatch.setattr(inner, "punc_list", never_ending)
    punctuator = models.RealtimePunctuator(model_set.loaded["punc"].model)
    cache: dict[str, object] = {}
    sent, out = "", ""
    phrase = "今天我们开会讨论备份演练的安排"
    for n in range(60):  # 1,200 characters without a sentence end
        piece = (phrase * 2)[n % len(phrase) :][:20]
        sent += piece
        out += punctuator.punctuate(piece, cache)
        context = cache["pre_text"]
        assert isinstance(context, list)
        assert len(context) <= models.PUNC_CONTEXT_WORDS + len(piece), f"call {n}: {len(context)} words"
    assert _unpunctuated(out) == sent  # the cut drops context only: every word came out once, in order


def _stream_texts(lane: models.ParaformerStreaming, audio: np.ndarray) -> list[str]:
    cache: dict[str, object] = {}
    chunks = [audio[i : i + 9600] for i in range(0, len(audio), 9600)]
    return [lane.step(c, cache, is_final=n == len(chunks) - 1) for n, c in enumerate(chunks)]


def test_streaming_lanes_share_weights_and_run_side_by_side_exactly(
    model_set: models.ModelSet, speech_wav: Path
) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    halves = [audio[: len(audio) // 2], audio[len(audio) // 2 :]]
    first, second = model_set.streaming_lanes(2)
    assert first.model is second.model and first is not second
    alone = [_stream_texts(models.ParaformerStreaming(first), h) for h in halves]
    lanes = [models.ParaformerStreaming(first), models.ParaformerStreaming(second)]
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
