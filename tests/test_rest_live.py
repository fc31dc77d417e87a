"""REST against a real server started the way a user starts it: no ASR_DATA_DIR, its own working
directory; backups only for their recording's token; hostile bodies answered on the wire."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import soundfile as sf

from .conftest import LiveServer, start_server, stop_server
from .socket_client import RecordingClient

TIMEOUT = 120


@pytest.fixture(scope="module")
def default_server(
    model_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server with the default data dir and hotwords file: ./data and ./hotwords.json of its cwd."""
    workdir = tmp_path_factory.mktemp("defaults")
    # blank means "not set": the service falls back to its defaults, relative to the working directory
    server = start_server(
        {**model_env, "ASR_DATA_DIR": "", "HOTWORDS_FILE": "", "ASR_MAX_UPLOAD_MB": "2"}, workdir
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def pcm(speech_wav: Path) -> bytes:
    """Four seconds of the speech fixture as s16le, what a browser sends."""
    samples, _ = sf.read(speech_wav, dtype="int16", frames=4 * 16000)
    return bytes(samples.tobytes())


def _record(server: LiveServer, pcm: bytes) -> tuple[dict[str, str], dict[str, object]]:
    client = RecordingClient(server.url)
    try:
        connected = client.wait_for("connected")
        client.sio.emit("start_recording", {})
        client.wait_for("recording_started")
        client.send_audio(pcm, 3200)
        client.sio.emit("stop_recording")
        final = client.wait_for("final_result", TIMEOUT)
    finally:
        client.close()
    return connected, final


def test_recordings_download_with_the_default_data_dir(default_server: LiveServer, pcm: bytes) -> None:
    connected, final = _record(default_server, pcm)
    url = f"{default_server.url}/api/asr/backup-audio/{final['backup_audio_id']}"
    response = requests.get(url, headers={"X-Resume-Token": connected["resume_token"]}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "audio/wav" and response.content[44:] == pcm
    # ./data of the server's working directory, which start_server made the test's folder
    assert (default_server.data_dir / "recordings" / f"{final['backup_audio_id']}.wav").is_file()


def test_backup_audio_needs_its_recordings_token(default_server: LiveServer, pcm: bytes) -> None:
    mine, final = _record(default_server, pcm)
    other, _ = _record(default_server, pcm[:32000])
    url = f"{default_server.url}/api/asr/backup-audio/{final['backup_audio_id']}"
    for headers in ({}, {"X-Resume-Token": "guessed"}, {"X-Resume-Token": other["resume_token"]}):
        for method in (requests.get, requests.delete):
            response = method(url, headers=headers, timeout=10)
            assert response.status_code == 401 and response.json()["code"] == "unauthorized"
    query = requests.get(url, params={"resume_token": mine["resume_token"]}, timeout=10)
    assert query.status_code == 200 and query.content[44:] == pcm
    assert (
        requests.delete(url, headers={"X-Resume-Token": mine["resume_token"]}, timeout=10).status_code == 200
    )
    gone = requests.get(url, headers={"X-Resume-Token": mine["resume_token"]}, timeout=10)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"


def _raw_exchange(server: LiveServer, head: bytes, body: bytes) -> tuple[bytes, bool]:
    """Send a request whose declared body is larger than what we send; return the response and
    whether the server closed the connection afterwards (instead of waiting for the rest)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body)
        received = b""
        deadline = time.monotonic() + 30
        closed = False
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            received += chunk
    return received, closed


def _multipart_head(server: LiveServer, boundary: str, length: int) -> bytes:
    host = server.url.removeprefix("http://")
    return (
        f"POST /api/asr/transcribe HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_too_many_parts_is_its_own_413_and_the_connection_closes(default_server: LiveServer) -> None:
    fields = b"".join(b'--b0\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n' for _ in range(4000))
    declared = len(fields) + 1_000_000  # the rest never comes: the server must not wait for it
    response, closed = _raw_exchange(default_server, _multipart_head(default_server, "b0", declared), fields)
    status_line, _, rest = response.partition(b"\r\n")
    assert b" 413 " in status_line, response[:300]
    assert b'"code":"too_many_parts"' in rest.replace(b" ", b"") and b"1000 parts" in rest
    assert closed


def test_a_boundary_never_used_is_a_400_and_the_connection_closes(
    default_server: LiveServer,
) -> None:
    body = b"--other\r\n" + b"\0" * 700_000  # over MAX_FORM_MEMORY_SIZE, all of it unparsed preamble
    response, closed = _raw_exchange(
        default_server, _multipart_head(default_server, "declared", len(body) + 500_000), body
    )
    status_line, _, rest = response.partition(b"\r\n")
    assert b" 400 " in status_line, response[:300]
    assert b'"code":"bad_multipart"' in rest.replace(b" ", b"") and b"boundary" in rest
    assert closed
