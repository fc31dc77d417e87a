"""Stored final results: token check, atomic writes, retention."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from asr_service.results import ResultStore

SID = "f" * 32


def test_result_is_returned_only_for_the_right_token(tmp_path: Path) -> None:
    store = ResultStore(tmp_path, retention_s=60)
    store.save(SID, "token-1", {"text": "你好", "n": 1})
    assert store.load(SID, "token-1") == {"text": "你好", "n": 1}
    with pytest.raises(PermissionError):
        store.load(SID, "token-2")
    with pytest.raises(KeyError):
        store.load("e" * 32, "token-1")
    with pytest.raises(KeyError):
        store.load("../x", "token-1")
    assert "token-1" not in (tmp_path / f"{SID}.json").read_text()
    assert not list(tmp_path.glob("*.tmp"))


def test_sweep_removes_expired_results(tmp_path: Path) -> None:
    store = ResultStore(tmp_path, retention_s=10)
    store.save(SID, "t", {})
    past = time.time() - 60
    os.utime(tmp_path / f"{SID}.json", (past, past))
    assert store.sweep() == 1
    with pytest.raises(KeyError):
        store.load(SID, "t")
