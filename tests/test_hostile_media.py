"""Hostile and unlucky uploads: decoder bombs, files that make FFmpeg open other files or ports,
and browser recordings shorter than their header. Unit-level first, then against a live server:
the dev server and gunicorn with the shipped gunicorn.conf.py."""

from __future__ import annotations

import dataclasses
import io
import socket
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import requests

from asr_service.audio import decode_audio, decode_stream
from asr_service.config import Settings
from asr_service.decode_budget import DecodeBudget
from asr_service.errors import DecodeLimit, UnsupportedMedia
from asr_service.media_formats import open_options
from asr_service.roles import Span

from .conftest import (
    Gunicorn,
    LiveServer,
    start_gunicorn,
    start_server,
    stop_process,
    stop_server,
    wait_until,
)
from .speech_fixtures import ffmpeg

TIMEOUT = 120
Server = LiveServer | Gunicorn  # the dev server or gunicorn: both have .url


def wav_bytes(rate: int, n_bytes: int, channels: int = 1) -> bytes:
    """A PCM16 WAV header declaring `rate` Hz, followed by `n_bytes` of samples."""
    data = (np.arange(n_bytes // 2) % 200 * 100).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    return (
        b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
        + b"data" + struct.pack("<I", len(data)) + data
    )  # fmt: skip


def ffconcat_naming(target: str) -> bytes:
    return f"ffconcat version 1.0\nfile '{target}'\n".encode()


def sdp_naming(port: int) -> bytes:
    return (
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    ).encode()


def m3u8_naming(target: str) -> bytes:
    head = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
    return f"{head}#EXTINF:2.0,\n{target}\n#EXT-X-ENDLIST\n".encode()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def short_browser_mp4(path: Path, workdir: Path) -> bytes:
    """Opus in fragmented MP4 whose index (sidx) declares 12.2 s while its fragments hold about 11 s,
    the shape MediaRecorder-style writers leave when the last fragments never made it."""
    full = workdir / "browser_full.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=300:duration=12.2:sample_rate=48000", "-c:a", "libopus",
        "-b:a", "24k", "-movflags", "+frag_keyframe+empty_moov+default_base_moof+global_sidx",
        "-frag_duration", "1000000", str(full),
    )  # fmt: skip
    data = full.read_bytes()
    moofs, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"moof":
            moofs.append(pos)
        pos += size
    cut = data[: moofs[-2]]  # the last two fragments are missing
    path.write_bytes(cut)
    return cut


def _never(_chunk: np.ndarray) -> None:
    raise AssertionError("nothing may be decoded from this file")


def _budget(data: bytes, ratio: float = 1000.0, cpu_s: float = 60.0) -> DecodeBudget:
    return DecodeBudget(max_audio_s=14400, input_bytes=len(data), max_ratio=ratio, max_cpu_s=cpu_s)


# ---- decode budget -------------------------------------------------------------------------


def test_one_hertz_wav_is_refused_before_any_sample_is_decoded() -> None:
    bomb = wav_bytes(rate=1, n_bytes=28_000)  # 14000 samples at 1 Hz: 3.9 hours at 16 kHz
    with pytest.raises(UnsupportedMedia, match="1 Hz"):
        decode_stream(io.BytesIO(bomb), _budget(bomb), _never)


def test_output_is_bounded_relative_to_the_input_bytes() -> None:
    upload = wav_bytes(rate=8000, n_bytes=64_000)  # 4 s; as 16 kHz PCM16 twice its size
    assert decode_audio(io.BytesIO(upload), 3600, _budget(upload, ratio=2.5)).duration_ms == 4000
    written: list[int] = []
    with pytest.raises(DecodeLimit, match="decoder bomb"):
        decode_stream(io.BytesIO(upload), _budget(upload, ratio=1.5), lambda c: written.append(len(c)))
    assert sum(written) <= 1.5 * len(upload) / 2 + 16000  # stopped within about one frame of the bound


def test_decode_cpu_time_is_bounded() -> None:
    upload = wav_bytes(rate=8000, n_bytes=64_000)
    with pytest.raises(DecodeLimit, match="CPU time"):
        decode_audio(io.BytesIO(upload), 3600, _budget(upload, cpu_s=0.0))


def test_low_bitrate_speech_codecs_pass_the_default_ratio(tmp_path: Path) -> None:
    opus = tmp_path / "six_kbit.ogg"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=20", "-c:a", "libopus", "-b:a", "6k", str(opus))
    data = opus.read_bytes()
    assert 15000 < decode_audio(io.BytesIO(data), 3600, _budget(data)).duration_ms < 25000


# ---- the demuxer allow-list and no protocols -----------------------------------------------


@pytest.fixture
def beside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding sub/private.wav, the file hostile uploads try to reach."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "private.wav").write_bytes(wav_bytes(16000, 64_000))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "upload",
    [
        ffconcat_naming("sub/private.wav"),
        ffconcat_naming("file:sub/private.wav"),
        m3u8_naming("sub/private.wav"),
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,  # image2pipe-style demuxers
    ],
    ids=["ffconcat", "ffconcat-file-url", "m3u8", "png"],
)
def test_file_opening_formats_are_refused(beside: Path, upload: bytes) -> None:
    with pytest.raises(UnsupportedMedia) as info:
        decode_stream(io.BytesIO(upload), _budget(upload), _never)
    assert info.value.status == 415


def test_sdp_is_refused_without_binding_its_port() -> None:
    port = free_udp_port()
    upload = sdp_naming(port)
    with pytest.raises(UnsupportedMedia, match="not an accepted audio container"):
        decode_stream(io.BytesIO(upload), _budget(upload), _never)
    assert udp_port_is_free(port)


def test_even_an_allowed_file_opening_demuxer_could_not_open_the_file_beside(beside: Path) -> None:
    """The second layer: no protocol is allowed, so nested opens fail whatever the demuxer."""
    upload = ffconcat_naming("sub/private.wav")
    options = {**open_options(), "format_whitelist": "concat,wav"}
    with pytest.raises(av.FFmpegError), av.open(io.BytesIO(upload), mode="r", options=options) as container:
        next(container.decode(audio=0))
    with av.open(io.BytesIO(upload), mode="r", options={"format_whitelist": "concat,wav"}) as container:
        assert next(container.decode(audio=0)).samples > 0  # without it the file is read


# ---- browser recordings shorter than their header ------------------------------------------


def test_browser_mp4_shorter_than_its_header_decodes_with_a_warning(tmp_path: Path) -> None:
    data = short_browser_mp4(tmp_path / "browser.mp4", tmp_path)
    audio = decode_audio(io.BytesIO(data), 3600)
    assert 10.0 < audio.duration_ms / 1000 < 11.5
    assert [w.code for w in audio.warnings] == ["truncated"]
    assert "12.2" in audio.warnings[0].message


# ---- against a live server -----------------------------------------------------------------


@pytest.fixture(scope="module", params=["dev", "gunicorn"])
def hostile_server(
    request: pytest.FixtureRequest, model_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The dev server, then gunicorn with the shipped config, each in a working directory holding
    sub/private.wav (speech-like audio of 2 s) that the uploads try to reach."""
    workdir = tmp_path_factory.mktemp(f"hostile-{request.param}")
    (workdir / "sub").mkdir()
    (workdir / "sub" / "private.wav").write_bytes(wav_bytes(16000, 64_000))
    env = {**model_env, "ASR_MAX_AUDIO_S": "600"}
    if request.param == "dev":
        server = start_server(env, workdir)
        yield server
        stop_server(server)
        return
    env["ASR_DATA_DIR"] = str(workdir / "data")
    gunicorn = start_gunicorn(env, workdir / "gunicorn.log", cwd=workdir)
    try:
        wait_until(gunicorn.ready, "gunicorn ready", log=gunicorn.log)
        yield gunicorn
    finally:
        stop_process(gunicorn.process)


def _post(server: Server, data: bytes, name: str) -> requests.Response:
    files = {"file": (name, io.BytesIO(data))}
    return requests.post(f"{server.url}/api/asr/transcribe", files=files, timeout=TIMEOUT)


@pytest.mark.live
@pytest.mark.parametrize(
    ("upload", "name"),
    [
        (ffconcat_naming("sub/private.wav"), "list.ffconcat"),
        (m3u8_naming("sub/private.wav"), "list.m3u8"),
        (wav_bytes(rate=1, n_bytes=28_000), "one_hertz.wav"),
    ],
    ids=["ffconcat", "m3u8", "one-hertz-wav"],
)
def test_live_hostile_uploads_get_415_and_the_service_keeps_serving(
    hostile_server: Server, upload: bytes, name: str
) -> None:
    response = _post(hostile_server, upload, name)
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "unsupported_media"
    assert requests.get(f"{hostile_server.url}/api/health", timeout=10).status_code == 200


@pytest.mark.live
def test_live_sdp_upload_binds_no_port(hostile_server: Server) -> None:
    port = free_udp_port()
    response = _post(hostile_server, sdp_naming(port), "stream.sdp")
    assert response.status_code == 415, response.text
    # refused before any demuxer ran (an SDP demuxer binds the port and waits for RTP until timeout)
    assert "not an accepted audio container" in response.json()["error"]
    assert udp_port_is_free(port)


@pytest.mark.live
def test_live_browser_mp4_is_transcribed_with_a_truncated_warning(
    hostile_server: Server, tmp_path: Path
) -> None:
    data = short_browser_mp4(tmp_path / "browser.mp4", tmp_path)
    response = _post(hostile_server, data, "browser.mp4")
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert 10000 < body["duration_ms"] < 11500
    assert [w["code"] for w in body["warnings"]] == ["truncated"]
    assert all(isinstance(w["message"], str) and w["message"] for w in body["warnings"])


@pytest.mark.live
def test_live_clean_upload_has_no_warnings(hostile_server: Server) -> None:
    response = _post(hostile_server, wav_bytes(16000, 64_000), "clean.wav")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["warnings"] == []


# ---- a cap on concurrent uploads -----------------------------------------------------------


class BlockingDetector:
    """VAD that holds the upload until released, so a second one arrives while it runs."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def detect(self, audio: np.ndarray) -> list[Span]:
        self.entered.set()
        assert self.release.wait(TIMEOUT)
        return []


def test_uploads_past_the_cap_get_503_busy_and_the_next_one_is_served(settings: Settings) -> None:
    from asr_service.app import create_app
    from asr_service.data_stores import open_stores
    from asr_service.engine import ModelRoles, build_engine
    from asr_service.service import AsrService

    from .fakes import LengthRecognizer, NoSpeechStream, PlainPunctuator, SilentStream

    one = dataclasses.replace(settings, max_uploads=1)
    detector = BlockingDetector()
    roles = ModelRoles(detector, LengthRecognizer(), NoSpeechStream(), SilentStream(), PlainPunctuator())
    stores = open_stores(one)
    engine = build_engine(one, roles, stores, "x", "cpu", [])
    svc = AsrService(one, lambda: engine, stores=stores)
    svc.load()
    app, _ = create_app(one, svc)
    upload = wav_bytes(16000, 64_000)

    def post() -> Any:
        with app.test_client() as client:
            form = {"file": (io.BytesIO(upload), "a.wav")}
            return client.post("/api/asr/transcribe", data=form, content_type="multipart/form-data")

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post)
        assert detector.entered.wait(TIMEOUT)
        busy = post()
        detector.release.set()
        assert first.result(TIMEOUT).status_code == 200
    assert busy.status_code == 503
    assert busy.get_json()["code"] == "busy" and "ASR_MAX_UPLOADS" in busy.get_json()["error"]
    assert post().status_code == 200  # the slot was given back
    engine.close()
