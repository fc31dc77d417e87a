"""Live recording over Socket.IO against a real server process: lifecycle, equality, resume, bad input."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import soundfile as sf

from asr_service.model_adapters import FunasrVad, SenseVoiceRecognizer
from asr_service.model_loading import ModelSet
from asr_service.pipeline import OfflinePipeline, RecognitionOptions

from .conftest import LiveServer, start_server, stop_server
from .live_fakes import SentenceView
from .socket_client import SENTENCE_EVENTS, RecordingClient

FRAME_100MS = 3200
TIMEOUT = 120


@pytest.fixture(scope="module")
def pcm(speech_wav: Path) -> bytes:
    """The speech fixture as raw s16le bytes, what a browser would send."""
    samples, _ = sf.read(speech_wav, dtype="int16")
    return bytes(samples.tobytes())


def _audio(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def start_recording(server: LiveServer, options: dict[str, Any] | None = None) -> tuple[RecordingClient, Any]:
    """A connected client whose recording has started; returns it and its `connected` payload."""
    client = RecordingClient(server.url)
    connected = client.wait_for("connected")
    client.sio.emit("start_recording", options or {})
    client.wait_for("recording_started")
    return client, connected


def record(
    server: LiveServer,
    pcm: bytes,
    frame_bytes: int | list[int] = FRAME_100MS,
    options: dict[str, Any] | None = None,
) -> tuple[RecordingClient, dict[str, Any]]:
    """One whole recording; returns the client (with its events) and the final result."""
    client, _ = start_recording(server, options)
    if isinstance(frame_bytes, int):
        client.send_audio(pcm, frame_bytes)
    else:
        position = 0
        for size in frame_bytes:
            client.sio.emit("audio_data", pcm[position : position + size])
            position += size
        assert position >= len(pcm)
    client.sio.emit("stop_recording")
    final = client.wait_for("final_result", TIMEOUT)
    client.close()
    return client, final


def direct_streaming_text(model_set: ModelSet, audio: np.ndarray) -> str:
    """The live first pass written straight against FunASR: 600 ms chunks, is_final on the last."""
    model = model_set.loaded["streaming"].model
    cache: dict[str, Any] = {}
    text = ""
    for start in range(0, len(audio), 9600):
        result = model.generate(
            input=audio[start : start + 9600],
            cache=cache,
            is_final=start + 9600 >= len(audio),
            chunk_size=[0, 10, 5],
            encoder_chunk_look_back=4,
            decoder_chunk_look_back=1,
        )
        text += result[0]["text"]
    return text


def test_full_lifecycle_event_order_and_shapes(live_server: LiveServer, pcm: bytes) -> None:
    client, final = record(live_server, pcm)
    names = [n for n, _ in client.events]
    assert names[:2] == ["connected", "recording_started"]
    stopped = names.index("recording_stopped")
    assert set(names[2:stopped]) == {"transcription"}
    assert names[-1] == "final_result"
    assert set(names[stopped + 1 : -1]) == {"processing_progress"}
    connected = client.payloads("connected")[0]
    assert len(connected["session_id"]) == 32 and len(connected["resume_token"]) >= 32
    assert connected["session_id"] not in connected["resume_token"]
    assert client.payloads("recording_stopped")[0]["duration_s"] == pytest.approx(len(pcm) / 32000, abs=1e-3)
    progress = [p["progress"] for p in client.payloads("processing_progress")]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert final["session_id"] == connected["session_id"] == final["backup_audio_id"]
    assert final["duration_ms"] == len(pcm) // 32
    for key in ("paraformer", "sensevoice", "llm_merged"):
        assert final[f"{key}_length"] == len(final[key])
    assert final["llm_merged"] == final["sensevoice"]


def test_transcription_cadence_fields_and_seq(live_server: LiveServer, pcm: bytes) -> None:
    client, _ = record(live_server, pcm)
    events = client.payloads("transcription")
    fields = {
        "text",
        "partial_text",
        "is_final",
        "vad_event",
        "is_speech_active",
        "segment",
        "current_time_ms",
        "seq",
    }
    assert all(set(e) == fields for e in events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    partials = [e for e in events if e["vad_event"] is None and not e["is_final"]]
    # one partial per 600 ms chunk of audio, and one for the rest when the recording stops
    full_chunks = len(pcm) // 2 // 9600
    assert [e["current_time_ms"] for e in partials] == [600 * (i + 1) for i in range(full_chunks)] + [
        len(pcm) // 32
    ]
    assert any(e["vad_event"] == "speech_start" for e in events)
    assert any(e["vad_event"] == "speech_end" and e["is_final"] for e in events)
    times = [e["current_time_ms"] for e in events]
    assert times == sorted(times)


OLD_EVENTS = ("transcription", "recording_stopped", "processing_progress", "final_result", "error")
OLD_TRANSCRIPTION = {"text", "punc_text", "full_text", "is_final", "vad_event", "is_speech_active", "segment"}
OLD_FINAL = {"paraformer", "sensevoice", "llm_merged", "timestamps", "realtime_segments", "duration_ms"}


@pytest.mark.parametrize("full_text", [False, True])
def test_a_client_knowing_only_the_old_events_works_unchanged(
    live_server: LiveServer, pcm: bytes, full_text: bool
) -> None:
    """A client written before sentence events (it ignores them) records, drops, resumes and stops."""
    options = {"full_text": True} if full_text else {}
    first, connected = start_recording(live_server, options)
    half = (len(pcm) // 2) & ~1
    first.send_audio(pcm[:half], 3200)
    _wait_for_time(first, 3000)
    first.close()
    second = _resume(live_server, connected["resume_token"])
    resumed = second.wait_for("resume_result")
    assert resumed["state"] == "recording" and isinstance(resumed["current_text"], str)
    second.send_audio(pcm[resumed["received_bytes"] :], 3200)
    second.sio.emit("stop_recording")
    final = second.wait_for("final_result", TIMEOUT)
    second.close()
    for client in (first, second):
        old = [(n, p) for n, p in client.events if n in OLD_EVENTS]
        for name, payload in old:
            assert name != "error", payload
            if name == "transcription" and full_text:  # exactly as before
                assert set(payload) >= OLD_TRANSCRIPTION and payload["full_text"].startswith(
                    payload["punc_text"]
                )
            elif name == "transcription":  # the whole text is no longer sent unless asked for
                assert not {"punc_text", "full_text"} & set(payload) and "partial_text" in payload
    assert set(final) >= OLD_FINAL and final["duration_ms"] == len(pcm) // 32
    assert second.payloads("processing_progress")[-1]["stage"] == "done"
    if full_text:
        last = second.payloads("transcription")[-1]
        assert last["full_text"] == final["paraformer"]  # the whole first-pass text, as ever


def test_a_new_client_gets_every_sentence_before_the_final_result(
    live_server: LiveServer, pcm: bytes
) -> None:
    client = RecordingClient(live_server.url, events=SENTENCE_EVENTS)
    client.wait_for("connected")
    client.sio.emit("start_recording", {})
    client.wait_for("recording_started")
    client.send_audio(pcm, 3200)
    client.sio.emit("stop_recording")
    final = client.wait_for("final_result", TIMEOUT)
    client.close()
    names = [n for n, _ in client.events]
    assert (
        final["timestamps"]
        and max(i for i, n in enumerate(names) if n.startswith("sentence_")) < len(names) - 1
    )
    assert SentenceView().apply(client.events).timestamps() == final["timestamps"]


def test_first_pass_equals_direct_funasr_streaming(
    live_server: LiveServer, pcm: bytes, model_set: ModelSet
) -> None:
    _, final = record(live_server, pcm)
    assert final["paraformer_raw"] == direct_streaming_text(model_set, _audio(pcm))
    assert final["paraformer_raw"]
    stripped = "".join(ch for ch in final["paraformer"] if ch not in "，。？、 ")
    assert stripped == final["paraformer_raw"].replace(" ", "")


def live_chunked_pipeline(model_set: ModelSet) -> OfflinePipeline:
    """The file pipeline with VAD run in the live session's 200 ms chunks.

    FSMN-VAD in 200 ms chunks can place a segment start ~100 ms away from one whole-file call, so
    the live final result is compared with the file pipeline fed the way the live VAD is fed.
    """
    return OfflinePipeline(
        FunasrVad(model_set.loaded["vad"].model, chunk_ms=200),
        SenseVoiceRecognizer(model_set.loaded["offline"].model),
        max_sentence_ms=15000,
        clips_per_call=8,
    )


def test_second_pass_equals_the_offline_pipeline(
    live_server: LiveServer, pcm: bytes, model_set: ModelSet
) -> None:
    _, final = record(live_server, pcm)
    expected = live_chunked_pipeline(model_set).transcribe(_audio(pcm), RecognitionOptions())
    assert final["timestamps"] == [s.as_dict() for s in expected.sentences]
    assert final["sensevoice"] == expected.text
    assert len(final["timestamps"]) >= 2
    segments = final["realtime_segments"]
    assert [s["segment"] for s in segments] == list(range(len(segments)))
    assert all(s["start_ms"] < s["end_ms"] <= final["duration_ms"] for s in segments)


def test_random_frame_sizes_give_the_same_result(live_server: LiveServer, pcm: bytes) -> None:
    rng = np.random.default_rng(5)
    sizes: list[int] = []
    while sum(sizes) < len(pcm):
        sizes.append(int(rng.integers(320, 64000)) | 1)  # 10 ms to 2 s, odd byte counts on purpose
    reference_client, reference = record(live_server, pcm, 19200)
    client, final = record(live_server, pcm, sizes)
    for key in (
        "paraformer",
        "paraformer_raw",
        "sensevoice",
        "timestamps",
        "realtime_segments",
        "duration_ms",
    ):
        assert final[key] == reference[key], key
    strip = [{k: v for k, v in e.items()} for e in client.payloads("transcription")]
    assert strip == reference_client.payloads("transcription")


def test_ten_concurrent_sessions_get_their_own_results(
    live_server: LiveServer, pcm: bytes, model_set: ModelSet
) -> None:
    samples = len(pcm) // 2
    variants = [pcm[: 2 * (samples - i * 8000)] for i in range(10)]  # each 0.5 s shorter than the last
    results: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = record(live_server, variants[index], 6400)[1]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len({r["session_id"] for r in results.values()}) == 10
    pipeline = live_chunked_pipeline(model_set)
    for index, variant in enumerate(variants):
        expected = pipeline.transcribe(_audio(variant), RecognitionOptions())
        assert results[index]["duration_ms"] == len(variant) // 32
        assert results[index]["timestamps"] == [s.as_dict() for s in expected.sentences], index


def _wait_for_time(client: RecordingClient, ms: int) -> None:
    """Wait until the server reports having transcribed `ms` of audio."""
    for count in range(1, 1000):
        if client.wait_for("transcription", TIMEOUT, count)["current_time_ms"] >= ms:
            return


def _resume(server: LiveServer, token: str) -> RecordingClient:
    client = RecordingClient(server.url)
    client.wait_for("connected")
    client.sio.emit("resume_recording", {"resume_token": token})
    return client


def test_disconnect_and_resume_mid_recording_loses_nothing(live_server: LiveServer, pcm: bytes) -> None:
    _, uninterrupted = record(live_server, pcm)
    first, connected = start_recording(live_server)
    token = connected["resume_token"]
    half = (len(pcm) // 2) & ~1
    first.send_audio(pcm[:half], 4000)
    _wait_for_time(first, 3000)
    first.close()  # frames still in flight are lost, as on a real network drop
    second = _resume(live_server, token)
    resumed = second.wait_for("resume_result")
    assert resumed["success"] is True and resumed["state"] == "recording"
    assert 3000 * 32 <= resumed["received_bytes"] <= half
    assert resumed["duration_s"] == pytest.approx(resumed["received_bytes"] / 32000, abs=1e-3)
    assert resumed["last_seq"] >= max(e["seq"] for e in first.payloads("transcription"))
    second.send_audio(pcm[resumed["received_bytes"] :], 4000)
    second.sio.emit("stop_recording")
    final = second.wait_for("final_result", TIMEOUT)
    second.close()
    assert final["duration_ms"] == uninterrupted["duration_ms"]
    for key in ("paraformer_raw", "sensevoice", "timestamps"):
        assert final[key] == uninterrupted[key], key


def test_disconnect_during_the_final_pass_gets_the_result_on_resume(
    live_server: LiveServer, pcm: bytes
) -> None:
    client, connected = start_recording(live_server)
    client.send_audio(pcm, 32000)
    client.sio.emit("stop_recording")
    client.wait_for("recording_stopped", TIMEOUT)  # the stop arrived; the final pass is under way
    client.close()
    resumed = _resume(live_server, connected["resume_token"])
    result = resumed.wait_for("resume_result")
    final = resumed.wait_for("final_result", TIMEOUT)
    resumed.close()
    assert result["session_id"] == connected["session_id"] and result["state"] in ("finalizing", "done")
    assert final["duration_ms"] == len(pcm) // 32
    names = [n for n, _ in resumed.events]
    assert names.index("resume_result") < names.index("final_result")
    url = f"{live_server.url}/api/asr/sessions/{connected['session_id']}/result"
    stored = requests.get(url, headers={"X-Resume-Token": connected["resume_token"]}, timeout=10)
    assert stored.status_code == 200 and stored.json()["data"] == final
    assert requests.get(url, headers={"X-Resume-Token": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, timeout=10).json()["code"] == "unauthorized"


def test_backup_audio_is_the_recording_and_can_be_deleted(live_server: LiveServer, pcm: bytes) -> None:
    client, final = record(live_server, pcm)
    token = {"X-Resume-Token": client.payloads("connected")[0]["resume_token"]}
    url = f"{live_server.url}/api/asr/backup-audio/{final['backup_audio_id']}"
    assert requests.get(url, timeout=10).status_code == 401  # the recording's token is required
    response = requests.get(url, headers=token, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "audio/wav"
    assert response.content[44:] == pcm
    path = live_server.data_dir / "recordings" / f"{final['backup_audio_id']}.wav"
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.frames) == (16000, 1, len(pcm) // 2)
    assert requests.delete(url, timeout=10).status_code == 401
    assert requests.delete(url, headers=token, timeout=10).status_code == 200
    assert not path.exists()
    assert requests.get(url, headers=token, timeout=10).json()["code"] == "not_found"
    assert requests.delete(url, headers=token, timeout=10).status_code == 404
    escape = f"{live_server.url}/api/asr/backup-audio/..%2F..%2Fetc"
    traversal = requests.get(escape, headers=token, timeout=10)
    assert traversal.status_code in (401, 404) and not traversal.content.startswith(b"RIFF")


@pytest.fixture(scope="module")
def strict_server(
    model_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server with tight limits: 2 recordings, 1 s grace, 8 s per recording, 8000-byte frames."""
    server = start_server(
        {
            **model_env,
            "ASR_MAX_SESSIONS": "2",
            "ASR_RESUME_GRACE_S": "1",
            "ASR_MAX_SESSION_S": "8",
            "ASR_MAX_FRAME_BYTES": "8000",
        },
        tmp_path_factory.mktemp("strict"),
    )
    yield server
    stop_server(server)


def _errors(client: RecordingClient, count: int) -> list[dict[str, str]]:
    client.wait_for("error", 30, count)
    return client.payloads("error")


def test_bad_messages_get_error_events_and_the_connection_keeps_working(strict_server: LiveServer) -> None:
    client = RecordingClient(strict_server.url)
    client.wait_for("connected")
    client.sio.emit("audio_data", b"\x00\x01" * 100)
    client.sio.emit("stop_recording")
    client.sio.emit("start_recording", "not an object")
    client.sio.emit("start_recording", {"language": "klingon"})
    client.sio.emit("resume_recording", {"resume_token": "no-such-token"})
    client.sio.emit("resume_recording", "nonsense")
    codes = [e["code"] for e in _errors(client, 6)]
    assert codes == [
        "not_recording",
        "not_recording",
        "bad_options",
        "bad_options",
        "invalid_resume_token",
        "bad_request",
    ]
    client.sio.emit("start_recording", {})
    client.wait_for("recording_started")
    client.sio.emit("audio_data", "text is not audio")
    client.sio.emit("audio_data", {"pcm": [1, 2]})
    client.sio.emit("audio_data", [1, 2, 3])
    client.sio.emit("audio_data", b"\x00" * 8002)
    client.sio.emit("start_recording", {})
    codes = [e["code"] for e in _errors(client, 11)][6:]
    assert codes == [
        "invalid_audio",
        "invalid_audio",
        "invalid_audio",
        "frame_too_large",
        "already_recording",
    ]
    assert all(e["message"] for e in client.payloads("error"))
    client.sio.emit("audio_data", b"\x00\x10" * 1600)
    client.sio.emit("stop_recording")
    client.sio.emit("stop_recording")
    final = client.wait_for("final_result", TIMEOUT)
    assert final["duration_ms"] == 100  # only the good frame counts
    assert _errors(client, 12)[-1]["code"] == "not_recording"
    client.sio.emit("start_recording", {})  # a second recording on the same connection
    started = client.wait_for("recording_started", count=2)
    assert started["session_id"] != final["session_id"]
    client.sio.emit("stop_recording")
    client.wait_for("final_result", TIMEOUT, count=2)
    client.close()


def test_busy_when_the_session_cap_is_reached(strict_server: LiveServer) -> None:
    clients = [RecordingClient(strict_server.url) for _ in range(3)]
    for client in clients:
        client.wait_for("connected")
    for client in clients[:2]:
        client.sio.emit("start_recording", {})
        client.wait_for("recording_started")
    clients[2].sio.emit("start_recording", {})
    assert _errors(clients[2], 1)[0]["code"] == "busy"
    clients[0].sio.emit("stop_recording")
    clients[0].wait_for("final_result", TIMEOUT)
    clients[2].sio.emit("start_recording", {})
    clients[2].wait_for("recording_started")
    for client in clients[1:]:
        client.sio.emit("stop_recording")
        client.wait_for("final_result", TIMEOUT)
    for client in clients:
        client.close()


def test_recording_over_the_length_cap_is_stopped_and_finalised(
    strict_server: LiveServer, pcm: bytes
) -> None:
    client, _ = start_recording(strict_server)
    client.send_audio(pcm[: 10 * 32000], 8000)
    assert _errors(client, 1)[0]["code"] == "session_too_long"
    final = client.wait_for("final_result", TIMEOUT)
    assert final["duration_ms"] == 8000
    client.close()


def test_expired_session_cannot_be_resumed_but_its_result_is_kept(
    strict_server: LiveServer, pcm: bytes
) -> None:
    client, connected = start_recording(strict_server)
    client.send_audio(pcm[: 3 * 32000], 8000)
    _wait_for_time(client, 2400)
    client.close()
    url = f"{strict_server.url}/api/asr/sessions/{connected['session_id']}/result"
    headers = {"X-Resume-Token": connected["resume_token"]}
    response = None
    for _ in range(100):  # parked for 1 s, then finalised by the janitor
        response = requests.get(url, headers=headers, timeout=10)
        if response.status_code == 200:
            break
        threading.Event().wait(0.2)
    assert response is not None and response.status_code == 200
    assert 2400 <= response.json()["data"]["duration_ms"] <= 3000
    late = _resume(strict_server, connected["resume_token"])
    error = _errors(late, 1)[0]
    assert error["code"] == "session_expired" and connected["session_id"] in error["message"]
    late.close()


def test_resume_before_the_old_connection_is_noticed_dead(live_server: LiveServer, pcm: bytes) -> None:
    first, connected = start_recording(live_server)
    token = connected["resume_token"]
    first.send_audio(pcm[:64000], 3200)
    _wait_for_time(first, 1800)
    second = _resume(live_server, token)  # the first connection is still open on the server
    resumed = second.wait_for("resume_result")
    first.close()  # now the server notices the old connection going away
    threading.Event().wait(1.0)
    second.send_audio(pcm[resumed["received_bytes"] :], 6400)
    second.sio.emit("stop_recording")
    final = second.wait_for("final_result", TIMEOUT)
    second.close()
    assert not second.payloads("error")
    assert final["duration_ms"] == len(pcm) // 32


def test_running_recording_cannot_be_deleted(live_server: LiveServer, pcm: bytes) -> None:
    client, connected = start_recording(live_server)
    client.send_audio(pcm[:32000], 3200)
    _wait_for_time(client, 600)
    url = f"{live_server.url}/api/asr/backup-audio/{connected['session_id']}"
    token = {"X-Resume-Token": connected["resume_token"]}
    response = requests.delete(url, headers=token, timeout=10)
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    client.sio.emit("stop_recording")
    client.wait_for("final_result", TIMEOUT)
    client.close()
    assert requests.delete(url, headers=token, timeout=10).status_code == 200


def test_a_server_crash_mid_recording_keeps_the_audio(
    model_env: dict[str, str], tmp_path: Path, pcm: bytes
) -> None:
    server = start_server(model_env, tmp_path)
    client, connected = start_recording(server)
    client.send_audio(pcm[:160000], 3200)
    _wait_for_time(client, 4800)
    server.process.kill()  # no shutdown handler runs
    server.process.wait()
    client.close()
    spool = server.data_dir / "recordings" / f"{connected['session_id']}.wav"
    kept = spool.read_bytes()[44:]
    assert len(kept) >= 4800 * 32 and pcm.startswith(kept)
    restarted = start_server(model_env, tmp_path)
    try:
        assert "recovered interrupted recording" in restarted.log()
        response = requests.get(
            f"{restarted.url}/api/asr/backup-audio/{connected['session_id']}",
            headers={"X-Resume-Token": connected["resume_token"]},
            timeout=10,
        )
        assert response.status_code == 200 and response.content[44:] == kept
        info = sf.info(spool)
        assert info.frames == len(kept) // 2
    finally:
        stop_server(restarted)
