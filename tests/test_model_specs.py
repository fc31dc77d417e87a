"""MODEL_SPECS: the model roles, the setting naming each one's source, and lookup by role."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr_service.config import Settings
from asr_service.model_specs import MODEL_SPECS, configured_specs, spec_for


def test_the_five_roles_each_name_their_setting_and_variable() -> None:
    assert [spec.role for spec in MODEL_SPECS] == ["vad", "offline", "streaming", "punc", "speaker"]
    for spec in MODEL_SPECS:
        assert spec.env_var == f"ASR_{spec.role.upper()}_MODEL" and spec.setting == f"{spec.role}_model"
        assert spec_for(spec.role) is spec


def test_a_spec_reads_its_source_from_the_settings(tmp_path: Path) -> None:
    env = {spec.env_var: str(tmp_path / spec.role) for spec in MODEL_SPECS}
    settings = Settings.from_env({**env, "ASR_DATA_DIR": str(tmp_path)})
    for spec in MODEL_SPECS:
        assert spec.source(settings) == str(tmp_path / spec.role)


def test_an_unknown_role_names_the_known_ones() -> None:
    known = "vad, offline, streaming, punc, speaker"
    with pytest.raises(KeyError, match=f"unknown model role 'lm'; known: {known}"):
        spec_for("lm")


def test_an_empty_speaker_model_turns_that_role_off_and_only_that_one() -> None:
    assert [s.role for s in configured_specs(Settings.from_env({}))] == [s.role for s in MODEL_SPECS]
    for blank in ("", "  "):
        settings = Settings.from_env({"ASR_SPEAKER_MODEL": blank})
        assert [s.role for s in configured_specs(settings)] == ["vad", "offline", "streaming", "punc"]
        assert not spec_for("speaker").configured(settings)
    # the other roles cannot be turned off: blank means their default
    assert len(configured_specs(Settings.from_env({"ASR_OFFLINE_MODEL": ""}))) == len(MODEL_SPECS)
