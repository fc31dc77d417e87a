"""download_models.py: --check reports presence; an unreachable hub is a clear non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ASR_", "MODELSCOPE"))}
    return subprocess.run(
        [sys.executable, str(ROOT / "download_models.py"), *args],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_check_reports_local_models_present(model_env: dict[str, str], tmp_path: Path) -> None:
    result = _run(["--check"], model_env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5 and all(" present " in line for line in lines)
    assert any(line.startswith("speaker ") for line in lines)


def test_check_reports_a_speaker_model_turned_off(model_env: dict[str, str], tmp_path: Path) -> None:
    result = _run(["--check"], {**model_env, "ASR_SPEAKER_MODEL": ""}, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert sum(" present " in line for line in lines) == 4
    assert [line.split() for line in lines if line.startswith("speaker")] == [
        ["speaker", "off", "(ASR_SPEAKER_MODEL", "is", "empty)"]
    ]


def test_check_reports_missing_hub_models(tmp_path: Path) -> None:
    result = _run(["--check"], {"MODELSCOPE_CACHE": str(tmp_path / "cache")}, tmp_path)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5 and all("MISSING" in line for line in lines)
    assert "iic/SenseVoiceSmall" in result.stdout
    assert "iic/speech_campplus_sv_zh-cn_16k-common" in result.stdout


def test_unreachable_hub_fails_with_a_clear_message(tmp_path: Path) -> None:
    env = {"MODELSCOPE_CACHE": str(tmp_path / "cache"), "MODELSCOPE_ENDPOINT": "http://127.0.0.1:9"}
    result = _run([], env, tmp_path)
    assert result.returncode == 1
    assert "download failed" in result.stderr and "ASR_VAD_MODEL" in result.stderr
    assert "Traceback" not in result.stderr
