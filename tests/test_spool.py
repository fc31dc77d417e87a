"""Recordings on disk: WAV spool, range reads, crash recovery, retention."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr_service.audio import decode_audio
from asr_service.spool import AudioSpool, RecordingStore

ID = "0123456789abcdef0123456789abcdef"


def _pcm(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(-20000, 20000, n, dtype=np.int16).astype("<i2").tobytes()


def test_spool_is_a_valid_wav_after_close(tmp_path: Path) -> None:
    spool = AudioSpool(tmp_path / "a.wav")
    data = _pcm(16000)
    spool.append(data[:10000])
    spool.append(data[10000:])
    assert spool.samples == 16000
    spool.close()
    samples, rate = sf.read(tmp_path / "a.wav", dtype="int16")
    assert rate == 16000 and samples.tobytes() == data
    with pytest.raises(RuntimeError):
        spool.append(b"\0\0")


def test_reads_return_exact_ranges_while_writing(tmp_path: Path) -> None:
    spool = AudioSpool(tmp_path / "b.wav")
    data = _pcm(32000, 1)
    spool.append(data)
    expected = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
    np.testing.assert_array_equal(spool.read(1000, 5000), expected[1000:5000])
    assert spool.read(31000, 99999).size == 1000  # clipped to what exists
    assert spool.read(5000, 5000).size == 0
    spool.close()


def test_an_open_spool_decodes_as_a_streaming_wav(tmp_path: Path) -> None:
    spool = AudioSpool(tmp_path / "c.wav")
    spool.append(_pcm(8000, 2))
    with (tmp_path / "c.wav").open("rb") as fh:
        assert len(decode_audio(fh, 60).samples) == 8000  # header sizes still unknown: not "truncated"
    spool.close()


def test_recover_fixes_headers_left_open_by_a_crash(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path, retention_s=3600)
    spool = store.create(ID)
    data = _pcm(12345, 3)
    spool.append(data)
    os.close(spool._fd)  # the process dies: no close(), header still says "unknown size"
    assert store.recover() == [ID]
    samples, _ = sf.read(store.path(ID), dtype="int16")
    assert samples.tobytes() == data
    assert store.recover() == []


def test_ids_never_leave_the_folder(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path, retention_s=3600)
    for bad in ("../etc/passwd", "ABC", ID + "0", ""):
        with pytest.raises(KeyError):
            store.path(bad)
        assert store.existing(bad) is None
        assert store.delete(bad) is False


def test_sweep_removes_only_old_recordings(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path, retention_s=100)
    old_id, new_id = "a" * 32, "b" * 32
    for rid in (old_id, new_id):
        spool = store.create(rid)
        spool.append(_pcm(100))
        spool.close()
    past = time.time() - 500
    os.utime(store.path(old_id), (past, past))
    assert store.sweep() == 1
    assert store.existing(old_id) is None and store.existing(new_id) is not None
    assert store.delete(new_id) is True and store.existing(new_id) is None
