"""A real server process on loopback: uploads in several formats and every bad input over HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import requests

from asr_service.audio import decode_audio
from asr_service.engine import Engine
from asr_service.pipeline import RecognitionOptions

from .conftest import LiveServer
from .speech_fixtures import Converted, silent_flac

TIMEOUT = 120


def _post(server: LiveServer, files: dict | None = None, data: dict | None = None) -> requests.Response:
    return requests.post(f"{server.url}/api/asr/transcribe", files=files, data=data, timeout=TIMEOUT)


def test_health_and_formats(live_server: LiveServer) -> None:
    health = requests.get(f"{live_server.url}/api/health", timeout=10)
    assert health.status_code == 200 and health.json()["models_loaded"] is True
    assert "models loading in the background" in live_server.log()
    assert requests.get(f"{live_server.url}/api/asr/formats", timeout=10).json()["data"]["max_upload_mb"] == 2


def test_uploads_equal_the_in_process_pipeline(
    live_server: LiveServer, engine: Engine, format_matrix: list[Converted]
) -> None:
    picks = [
        c
        for c in format_matrix
        if (c.fmt, c.rate, c.channels)
        in {("m4a", 44100, 2), ("mp3", 8000, 1), ("webm", 48000, 2), ("wma", 16000, 1), ("ogg", 44100, 1)}
    ]
    assert len(picks) == 5
    for item in picks:
        response = _post(live_server, files={"file": (item.path.name, item.path.read_bytes())})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        with item.path.open("rb") as fh:
            audio = decode_audio(fh, 3600)
        expected = engine.offline.transcribe(audio.samples, RecognitionOptions())
        assert data["text"] == expected.text, item
        assert data["timestamps"] == [s.as_dict() for s in expected.sentences], item
        assert data["duration_ms"] == audio.duration_ms


def test_bad_inputs_get_json_errors_and_the_server_keeps_serving(
    live_server: LiveServer, speech_wav: Path
) -> None:
    wav = speech_wav.read_bytes()
    cases = [
        (_post(live_server, data={"x": "1"}), 400, "bad_request"),
        (_post(live_server, files={"file": ("", wav)}), 400, "bad_request"),
        (_post(live_server, files={"file": ("a.wav", b"")}), 400, "empty_file"),
        (
            _post(live_server, files={"file": ("a.wav", b"plain text, not audio\n" * 40)}),
            415,
            "unsupported_media",
        ),
        (
            _post(live_server, files={"file": ("a.mp3", np.random.default_rng(3).bytes(30000))}),
            415,
            "unsupported_media",
        ),
        (_post(live_server, files={"file": ("a.wav", wav[: len(wav) // 100])}), 415, "unsupported_media"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["code"] == code and response.json()["success"] is False
    assert _post(live_server, files={"file": ("ok.wav", wav)}).status_code == 200
    assert list(live_server.tmp_dir.iterdir()) == [], "a request left a temporary file behind"


def test_uploads_leak_no_file_descriptors(live_server: LiveServer, speech_wav: Path, tmp_path: Path) -> None:
    def open_temp_files() -> list[str]:
        """Open descriptors of the server that point at temporary (usually already unlinked) files."""
        targets = []
        for fd in Path(f"/proc/{live_server.process.pid}/fd").iterdir():
            try:
                targets.append(os.readlink(fd))
            except FileNotFoundError:
                continue
        return [t for t in targets if t.endswith("(deleted)") or t.startswith(str(live_server.tmp_dir))]

    import soundfile as sf

    wav = speech_wav.read_bytes()
    samples, rate = sf.read(speech_wav, dtype="int16")
    long_wav = tmp_path / "long.wav"
    sf.write(long_wav, np.tile(samples, 3), rate, subtype="PCM_16")
    # over Werkzeug's in-memory limit, so the upload is spooled to a temporary file
    big_enough_to_spool = long_wav.read_bytes()
    assert len(big_enough_to_spool) > 1024 * 1024
    _post(live_server, files={"file": ("warm.wav", wav)})
    for _ in range(5):
        # fails while decoding (over ASR_MAX_AUDIO_S), with its spooled upload and decoded file open
        assert _post(live_server, files={"file": ("a.wav", big_enough_to_spool[:-1000])}).status_code == 413
        assert _post(live_server, files={"file": ("b.wav", wav)}).status_code == 200
    assert open_temp_files() == []
    assert list(live_server.tmp_dir.iterdir()) == []


def test_oversized_upload_is_refused_before_reading(live_server: LiveServer) -> None:
    response = _post(live_server, files={"file": ("big.wav", b"\0" * (3 * 1024 * 1024))})
    assert response.status_code == 413
    assert response.json()["code"] == "upload_too_large"


def test_audio_longer_than_the_cap(live_server: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "long.flac"
    silent_flac(path, 3600)
    response = _post(live_server, files={"file": ("long.flac", path.read_bytes())})
    assert response.status_code == 413 and response.json()["code"] == "audio_too_long"
    assert requests.get(f"{live_server.url}/api/health", timeout=10).status_code == 200
