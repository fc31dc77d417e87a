"""Model loading: sources, device choice, weight checks, clean one-line failures, the loaded set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from asr_service import model_loading
from asr_service.config import Settings
from asr_service.model_specs import MODEL_SPECS, spec_for

OFFLINE = spec_for("offline")


def test_every_role_has_its_own_env_var() -> None:
    assert {s.env_var for s in MODEL_SPECS} == {
        "ASR_STREAMING_MODEL",
        "ASR_PUNC_MODEL",
        "ASR_VAD_MODEL",
        "ASR_OFFLINE_MODEL",
        "ASR_SPEAKER_MODEL",
    }


def test_local_directory_is_used_as_is(model_dirs: dict[str, Path]) -> None:
    assert model_loading.resolve_source(OFFLINE, str(model_dirs["offline"])) == model_dirs["offline"]


def test_missing_directory_names_role_source_and_fix() -> None:
    with pytest.raises(model_loading.ModelLoadError) as info:
        model_loading.resolve_source(OFFLINE, "/no/such/model/dir")
    message = str(info.value)
    assert "offline ASR" in message and "/no/such/model/dir" in message and "ASR_OFFLINE_MODEL" in message
    assert "\n" not in message


def test_hub_id_not_in_cache_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))
    with pytest.raises(model_loading.ModelLoadError, match="not in the ModelScope cache") as info:
        model_loading.resolve_source(OFFLINE, "iic/SenseVoiceSmall", allow_download=False)
    assert "download_models.py" in str(info.value)


def test_funasr_short_names_map_to_hub_ids() -> None:
    assert model_loading.hub_id("fsmn-vad") == "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch"
    assert model_loading.hub_id("iic/SenseVoiceSmall") == "iic/SenseVoiceSmall"
    assert model_loading.hub_id("cam++") == "iic/speech_campplus_sv_zh-cn_16k-common"


def test_device_auto_is_cpu_here_and_forced_devices_must_exist() -> None:
    if not torch.cuda.is_available():
        assert model_loading.select_device(Settings.from_env({"USE_MPS": "0"})) == "cpu"
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            model_loading.select_device(Settings.from_env({"ASR_DEVICE": "cuda"}))
    assert model_loading.select_device(Settings.from_env({"ASR_DEVICE": "cpu"})) == "cpu"


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
    with pytest.raises(model_loading.ModelLoadError, match=r"model\.pt"):
        model_loading.load_one(OFFLINE, _settings_with_offline(model_env, target), "cpu")


def test_checkpoint_lacking_weights_is_an_error(
    model_env: dict[str, str], model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    target = _copy_model(model_dirs, tmp_path)
    state = torch.load(target / "model.pt", map_location="cpu", weights_only=True)
    dropped = sorted(state)[0]
    del state[dropped]
    torch.save(state, target / "model.pt")
    with pytest.raises(model_loading.ModelLoadError, match="1 weights missing") as info:
        model_loading.load_one(OFFLINE, _settings_with_offline(model_env, target), "cpu")
    assert dropped in str(info.value)


def test_checkpoint_with_wrong_shapes_is_an_error(
    model_env: dict[str, str], model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    target = _copy_model(model_dirs, tmp_path)
    state = torch.load(target / "model.pt", map_location="cpu", weights_only=True)
    key = next(k for k, v in state.items() if v.ndim == 2)
    state[key] = torch.zeros(3, 3)
    torch.save(state, target / "model.pt")
    with pytest.raises(model_loading.ModelLoadError, match="wrong shape"):
        model_loading.load_one(OFFLINE, _settings_with_offline(model_env, target), "cpu")


def test_directory_that_is_not_a_model(model_env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(model_loading.ModelLoadError, match=r"configuration\.json"):
        model_loading.load_one(OFFLINE, _settings_with_offline(model_env, tmp_path), "cpu")


def test_loaded_models_are_described(model_set: model_loading.ModelSet) -> None:
    described = {m["role"]: m for m in model_set.describe()}
    assert set(described) == {"vad", "offline", "streaming", "punc", "speaker"}
    assert described["speaker"]["title"] == "speaker embedding (CAM++)"
    assert all(Path(m["path"]).is_dir() and m["device"] == "cpu" for m in described.values())


def test_dither_is_off_so_results_repeat(model_set: model_loading.ModelSet) -> None:
    for role in ("offline", "streaming"):
        assert model_set.loaded[role].model.kwargs["frontend_conf"]["dither"] == 0.0


SPEAKER = spec_for("speaker")
CAMPP_CHECKPOINT = "campplus_cn_common.bin"


def _copy_speaker(model_dirs: dict[str, Path], tmp_path: Path) -> tuple[Path, Settings]:
    target = tmp_path / "speech_campplus_sv_zh-cn_16k-common"
    shutil.copytree(model_dirs["speaker"], target)
    return target, Settings.from_env({"ASR_SPEAKER_MODEL": str(target), "ASR_WARMUP": "0"})


def test_speaker_weights_come_from_the_checkpoint_its_directory_names(
    model_set: model_loading.ModelSet,
) -> None:
    loaded = model_set.loaded["speaker"]
    assert not (loaded.path / "model.pt").exists()
    assert str(loaded.model.kwargs["init_param"]).endswith(CAMPP_CHECKPOINT)
    assert model_loading.expected_checkpoint(loaded.path) == loaded.path / CAMPP_CHECKPOINT
    assert model_loading.expected_checkpoint(model_set.loaded["offline"].path).name == "model.pt"


def test_missing_speaker_checkpoint_is_named(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    target, settings = _copy_speaker(model_dirs, tmp_path)
    (target / CAMPP_CHECKPOINT).unlink()
    with pytest.raises(model_loading.ModelLoadError, match=r"campplus_cn_common\.bin is missing") as info:
        model_loading.load_one(SPEAKER, settings, "cpu")
    assert "ASR_SPEAKER_MODEL" in str(info.value)


def test_speaker_checkpoint_with_a_wrong_shape_is_an_error(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    target, settings = _copy_speaker(model_dirs, tmp_path)
    state = torch.load(target / CAMPP_CHECKPOINT, map_location="cpu", weights_only=True)
    key = next(k for k, v in state.items() if v.ndim == 3)  # a convolution
    state[key] = torch.zeros(3, 3, 3)
    torch.save(state, target / CAMPP_CHECKPOINT)
    with pytest.raises(model_loading.ModelLoadError, match="1 with the wrong shape"):
        model_loading.load_one(SPEAKER, settings, "cpu")


def test_an_empty_speaker_model_is_not_loaded(model_env: dict[str, str]) -> None:
    settings = Settings.from_env({**model_env, "ASR_SPEAKER_MODEL": "", "ASR_WARMUP": "0"})
    assert model_loading.load_models(settings, roles=("speaker",)).loaded == {}
    assert set(model_loading.load_models(settings, roles=("vad", "speaker")).loaded) == {"vad"}
