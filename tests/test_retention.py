"""Retention: ids the service could have made, and sweeping files past their retention time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asr_service.retention import checked_id, sweep

ID = "0123456789abcdef0123456789abcdef"


def test_only_32_lowercase_hex_digits_are_ids() -> None:
    assert checked_id(ID) == ID
    for bad in ("", ID[:-1], ID + "0", ID.upper(), "../" + ID[3:], ID[:-1] + "g", "\n" + ID):
        with pytest.raises(KeyError):
            checked_id(bad)


def test_a_trailing_newline_is_not_an_id() -> None:
    with pytest.raises(KeyError):
        checked_id(ID + "\n")


def _file(directory: Path, name: str, mtime: float) -> Path:
    path = directory / name
    path.write_text("x")
    os.utime(path, (mtime, mtime))
    return path


def test_sweep_deletes_old_matching_files_and_keeps_the_rest(tmp_path: Path) -> None:
    now = 1_000_000.0
    old = _file(tmp_path, "a.json", now - 101)
    fresh = _file(tmp_path, "b.json", now - 99)
    other = _file(tmp_path, "c.wav", now - 10_000)
    kept = _file(tmp_path, "d.json", now - 10_000)
    assert sweep(tmp_path, "*.json", retention_s=100, now=now, keep={"d"}) == 1
    assert not old.exists() and fresh.exists() and other.exists() and kept.exists()
    assert sweep(tmp_path, "*.json", retention_s=100, now=now, keep={"d"}) == 0


def test_sweep_without_a_time_uses_the_clock(tmp_path: Path) -> None:
    _file(tmp_path, "old.json", 1.0)  # 1970
    assert sweep(tmp_path, "*.json", retention_s=3600) == 1
