"""MODEL_SPECS: the model roles, the setting naming each one's source, and lookup by role."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr_service.config import Settings
from asr_service.model_specs import MODEL_SPECS, spec_for


def test_the_four_roles_each_name_their_setting_and_variable() -> None:
    assert [spec.role for spec in MODEL_SPECS] == ["vad", "offline", "streaming", "punc"]
    for spec in MODEL_SPECS:
        assert spec.env_var == f"ASR_{spec.role.upper()}_MODEL" and spec.setting == f"{spec.role}_model"
        assert spec_for(spec.role) is spec


def test_a_spec_reads_its_source_from_the_settings(tmp_path: Path) -> None:
    env = {spec.env_var: str(tmp_path / spec.role) for spec in MODEL_SPECS}
    settings = Settings.from_env({**env, "ASR_DATA_DIR": str(tmp_path)})
    for spec in MODEL_SPECS:
        assert spec.source(settings) == str(tmp_path / spec.role)


def test_an_unknown_role_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown model role 'lm'; known: vad, offline, streaming, punc"):
        spec_for("lm")
